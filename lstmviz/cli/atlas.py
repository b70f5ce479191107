"""``lstmviz atlas``: the file's interpretable cells at a glance, as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from lstmviz.files import check_output
from lstmviz.render.atlas import atlas_command, page
from lstmviz.render.export import write_snippet
from lstmviz.search.atlas import MARGIN, PER_HYPOTHESIS, UNEXPLAINED, build_atlas
from lstmviz.store.reader import open_states


def default_output_name(states_file: str) -> str:
    """``<file stem>_atlas.html``, in the current folder.

    >>> default_output_name("cache/model__val.h5")
    'model__val_atlas.html'
    """
    return f"{Path(states_file).stem}_atlas.html"


@click.command()
@click.argument("states_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(),
              help="File to write; its folder is created if missing  [default: <FILE's stem>_atlas.html "
                   "in the current folder]")
@click.option("--margin", type=click.FloatRange(0, 1), default=MARGIN, show_default=True,
              help="How far above its baseline a unit's score must be to clear a hypothesis.")
@click.option("--top", type=click.IntRange(1, 20), default=PER_HYPOTHESIS, show_default=True,
              help="Units shown per hypothesis.")
@click.option("--unexplained", type=click.IntRange(0, 50), default=UNEXPLAINED, show_default=True,
              help="Strong, structured units that no hypothesis explains, shown to look at next.")
@click.option("--device", default="auto", show_default=True,
              help="Where to score units: auto (the GPU when there is one), cpu or cuda.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def atlas(states_file: str, output: str | None, margin: float, top: int, unexplained: int, device: str,
          force: bool) -> None:
    """Write an atlas of the interpretable cells of FILE as one self-contained HTML page.

    For every built-in hypothesis, the units that track it best, each with
    its score, baseline and margin, its strongest context coloured as
    exports colour it and its histogram; the share of units that clear
    their baseline by --margin; and the strong, structured units that no
    hypothesis explains. Units are ranked as `lstmviz search --all` ranks
    them (cached beside FILE). The page has no script and no external
    reference; it appears only once complete, an existing file is replaced
    only with --force, and FILE itself never. Prints the path written; when
    no unit clears its baseline, says so on stderr and on the page.

    \b
    Examples:
        lstmviz atlas cache/model__val.h5 -o atlas.html
        lstmviz atlas cache/model__val.h5 --margin 0.1 --top 5
    """
    default = default_output_name(states_file)
    path = Path(output) if output else Path(default)
    check_output(path, (states_file,), example=default, force=force)
    with open_states(states_file) as states:
        found = build_atlas(states, margin=margin, per_hypothesis=top, unexplained=unexplained, progress=True,
                            device=device)
        text = page(states, found, command=atlas_command(states_file, margin=margin, top=top,
                                                         unexplained=unexplained))
    click.echo(str(write_snippet(path, text)))
    if found.message():
        click.echo(f"Note: {found.message()}", err=True)
