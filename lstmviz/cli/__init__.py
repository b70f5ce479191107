"""The ``lstmviz`` command: a click group of verbs, each a thin shell over library functions.

A command's module is imported only when that command runs or shows its help: ``lstmviz --help``
lists every command from the table :data:`COMMANDS` without importing torch, h5py or Dash.
Commands that need Dash (``serve``, ``demo``) live in ``app/`` and join the group through the
``lstmviz.commands`` entry point, so this package never imports Dash; they are loaded when named
too, and for the listing (their module imports nothing heavy until it runs).
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from functools import cache
from importlib.metadata import EntryPoint, entry_points

import click

from lstmviz import __version__
from lstmviz.errors import LstmvizError

INTERRUPTED = 130  # the shell's convention after Ctrl-C (128 + SIGINT)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's time limit), handled like Ctrl-C.

    Python's default is to die on the spot, leaving a multi-gigabyte temporary extraction behind
    and a training run unsaved; as an interrupt, every command's Ctrl-C path tidies up instead.
    """


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    def interrupt(signum, frame):
        raise Terminated

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# name -> ("module:function", the first sentence of its docstring, which `lstmviz --help` shows)
COMMANDS = {
    "inspect": ("lstmviz.cli.models:inspect",
                "Show what CHECKPOINT holds (layout, parts, sizes, vocabulary), or why it cannot be used."),
    "train": ("lstmviz.cli.training:train_command",
              "Train a character-level LSTM on TEXT, keeping the best checkpoint."),
    "sample": ("lstmviz.cli.training:sample_command",
               "Generate text from CHECKPOINT at a temperature, optionally continuing a prime."),
    "extract": ("lstmviz.cli.extraction:extract",
                "Run CHECKPOINT over TEXT and store every activation and prediction."),
    "info": ("lstmviz.cli.extraction:info",
             "Show what an extraction file holds: model, text, sizes, precision, timing."),
    "validate": ("lstmviz.cli.extraction:validate",
                 "Check an extraction file and list every problem found (exit status 1 if any)."),
    "search": ("lstmviz.cli.searching:search",
               "Rank every unit in FILE by how well it tracks a hypothesis about the text."),
    "intervene": ("lstmviz.cli.intervening:intervene_command",
                  "Edit units over a span of FILE and show how the model's predictions change."),
    "export": ("lstmviz.cli.exporting:export",
               "Write a span of FILE coloured by neurons as a self-contained HTML or SVG snippet."),
    "atlas": ("lstmviz.cli.atlas:atlas",
              "Write an atlas of the interpretable cells of FILE as one self-contained HTML page."),
    "provenance": ("lstmviz.cli.memory:provenance_command",
                   "Show where a cell's value comes from: what each earlier character wrote into it."),
    "profile": ("lstmviz.cli.memory:profile_command",
                "Show or add per-unit profiles that extraction may not have stored: memory horizons."),
    "evolve": ("lstmviz.cli.evolution:evolve_command",
               "Follow the cells of a run's snapshots through training, over the same text."),
    "compare": ("lstmviz.cli.evolution:compare_command",
                "Compare two models' extractions over the same text: units, layers and hypothesis cells."),
}


@cache
def plugins() -> dict[str, EntryPoint]:
    """Commands other packages add through the ``lstmviz.commands`` entry point, not yet loaded."""
    return {ep.name: ep for ep in entry_points(group="lstmviz.commands")}


def load_command(name: str) -> click.Command:
    """Import the module of command ``name`` (from :data:`COMMANDS`) and return the command."""
    module, function = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), function)


class LazyGroup(click.Group):
    """A group whose commands are imported only when one is named, so listing them costs nothing."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command: the table's, the entry points', and any added directly."""
        return sorted({*COMMANDS, *plugins(), *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported now."""
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        if cmd_name in plugins():
            return plugins()[cmd_name].load()
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, with the table's summaries: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in COMMANDS:
                rows.append((name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class FriendlyGroup(LazyGroup):
    """Turns the library's typed errors into ``Error: …`` lines with exit status 1."""

    def invoke(self, ctx: click.Context):
        """Run the command; a user-fixable error becomes one line, real bugs keep their traceback."""
        try:
            with _sigterm_interrupts():
                return super().invoke(ctx)
        except LstmvizError as e:
            raise click.ClickException(str(e)) from e
        except KeyboardInterrupt:  # commands that have no tidying of their own to report
            click.echo("\nInterrupted.", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lstmviz")
def cli() -> None:
    """Look inside character-level LSTMs.

    \b
    Train or load a char-LSTM, extract every activation and its top-5
    predictions over a text into HDF5, then browse neurons, search for
    interpretable cells and export highlighted snippets.

    \b
    Start with:
        lstmviz demo                       # bundled model and text, opens the dashboard
        lstmviz inspect model.pt           # will my checkpoint load?
        lstmviz extract model.pt val.txt   # -> cache/model__val.h5
    """
