"""Options that several commands share, declared once so that their names and help stay alike."""

from __future__ import annotations

from collections.abc import Callable

import click


def _apply(command: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


def model_options(when: str = "") -> Callable[[Callable], Callable]:
    """``--model`` and ``--trust-pickle``: which checkpoint runs FILE's model again, and how it loads.

    ``when`` starts each help text for a command that runs the model only with some flag, e.g.
    ``"With --causal: "``. A path that does not exist is refused by
    :func:`~lstmviz.intervene.model_source.model_for`, in the words it uses for a model not found.
    """
    def text(rest: str) -> str:
        return when + rest if when else rest[0].upper() + rest[1:]

    def decorate(command: Callable) -> Callable:
        return _apply(command, [
            click.option("--model", type=click.Path(dir_okay=False), metavar="PATH",
                         help=text("the checkpoint FILE was extracted with, if it has moved (checked by its "
                                   "sha256).  [default: where FILE says it was]")),
            click.option("--trust-pickle", is_flag=True,
                         help=text("allow a whole pickled model, as extraction did; unpickling runs code "
                                   "from the file.")),
        ])

    return decorate


def rerun_options(command: Callable) -> Callable:
    """The options of a command that runs FILE's model again: which model, how, and quietly or not."""
    return _apply(model_options()(command), [
        click.option("--device", default="auto", show_default=True,
                     help="Where the model runs again: auto (the kind of device FILE was extracted on), cpu, "
                          "cuda."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ])
