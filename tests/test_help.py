"""Every command explains itself: a summary line, an example, and defaults shown."""

import pytest
from click.testing import CliRunner

from lstmviz.cli import cli

COMMANDS = ["inspect", "train", "sample", "extract", "info", "validate", "search", "export", "serve",
            "demo"]


def test_every_command_is_registered():
    assert sorted(cli.commands) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_has_an_example(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"lstmviz {command}" in result.output.split("Example", 1)[1]


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["-h"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
