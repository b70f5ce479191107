"""Every command explains itself: a summary line, an example, and defaults shown."""

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lstmviz.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
COMMAND_NAMES = ["inspect", "train", "sample", "extract", "info", "validate", "search", "intervene", "export",
                 "atlas", "serve", "demo", "provenance", "profile", "evolve", "compare"]
HEAVY = ("torch", "dash", "h5py")


def test_every_command_is_registered():
    assert sorted(cli.list_commands(click.Context(cli))) == sorted(COMMAND_NAMES)


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_command_help_has_an_example(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"lstmviz {command}" in result.output.split("Example", 1)[1]


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["-h"])
    assert result.exit_code == 0
    for command in COMMAND_NAMES:
        assert command in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_names_each_command_and_its_own_summary(name):
    command = cli.get_command(click.Context(cli), name)
    assert command.name == name
    assert COMMANDS[name][1] == command.get_short_help_str(limit=1000)


def test_the_listing_is_what_each_command_would_say_of_itself():
    listed = CliRunner().invoke(cli, ["--help"]).output
    # a plain group of the loaded commands, which asks each for its own summary
    eager = click.Group(cli.name, {n: cli.get_command(click.Context(cli), n) for n in COMMAND_NAMES},
                        help=cli.help, params=cli.params, context_settings=cli.context_settings)
    assert CliRunner().invoke(eager, ["--help"]).output == listed


@pytest.mark.parametrize("code", [
    "import lstmviz.cli",
    "from lstmviz.cli import cli; cli(['--help'])",
    "import runpy, sys; sys.argv = ['lstmviz', '--help']; runpy.run_module('lstmviz', run_name='__main__')",
])
def test_the_cli_and_its_help_import_neither_torch_nor_dash_nor_h5py(code):
    report = ("import atexit, sys\n"
              f"atexit.register(lambda: print('imported:', *sorted({set(HEAVY)!r} & sys.modules.keys())))\n")
    run = subprocess.run([sys.executable, "-c", report + code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert run.stdout.splitlines()[-1] == "imported:"
