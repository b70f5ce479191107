"""The ``lstmviz`` command: a click group of verbs, each a thin shell over library functions.

Commands that need Dash (``serve``, ``demo``) live in ``app/`` and join the group through the
``lstmviz.commands`` entry point, so this package never imports Dash.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points

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


class FriendlyGroup(click.Group):
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


_COMMAND_MODULES = ("models", "training", "exporting", "extraction", "searching")


def _register() -> None:
    import importlib

    for module in _COMMAND_MODULES:  # each attaches its commands to `cli` on import
        importlib.import_module(f"lstmviz.cli.{module}")

    for ep in entry_points(group="lstmviz.commands"):
        cli.add_command(ep.load(), ep.name)


_register()
