"""``lstmviz export``: a span of text coloured by neurons, as an HTML or SVG snippet for a blog."""

from __future__ import annotations

from pathlib import Path

import click

from lstmviz.errors import OptionError
from lstmviz.files import check_output
from lstmviz.render.export import default_output_name, render, write_snippet
from lstmviz.render.palette import PALETTES
from lstmviz.render.spec import DEFAULTS, FORMATS, ExportSpec
from lstmviz.render.style import MIN_COLUMNS, screen_columns
from lstmviz.store.reader import open_states

_SUFFIXES = {".html": "html", ".htm": "html", ".svg": "svg"}


def _format_of(output: str | None, given: str | None) -> str:
    """The format asked for, from --format or else the output's suffix; both must agree."""
    implied = _SUFFIXES.get(Path(output).suffix.lower()) if output else None
    if given and implied and given != implied:
        raise OptionError(f"--format {given} but -o {output} ends in {Path(output).suffix}; "
                          f"drop --format or name the file .{given}")
    return given or implied or "html"


@click.command()
@click.argument("states_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--neuron", "-n", "neurons", multiple=True, required=True,
              help="Neuron to colour by, e.g. layer1.c.117; repeat for one band per neuron.")
@click.option("--start", type=int, required=True, help="First position shown (0-based).")
@click.option("--length", type=int, required=True, help="Number of positions shown.")
@click.option("--palette", type=click.Choice(list(PALETTES)), default=DEFAULTS["palette"],
              show_default=True, help="Colour scale, as in the dashboard.")
@click.option("--strips", is_flag=True, help="Show the top-5 predictions beneath each character.")
@click.option("--fragment", is_flag=True,
              help="HTML: only a <div> with scoped styles, to paste into a page or Markdown post. "
                   "SVG: the <svg> element without the XML declaration, to inline in HTML.")
@click.option("--title", help="Heading above the text.")
@click.option("--caption", help="Text below the colour scale.")
@click.option("--width", type=int, default=DEFAULTS["width"],
              help=f"Characters per line before wrapping, {MIN_COLUMNS} or more; 0 wraps only at newlines  "
                   f"[default: as wide as the dashboard: {screen_columns(True)} with --strips, "
                   f"{screen_columns(False)} without]")
@click.option("--raw-c", is_flag=True, help="Colour the cell state c itself, not tanh(c).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format  [default: from the -o suffix, else html]")
@click.option("-o", "--output", type=click.Path(),
              help="File to write; its folder is created if missing  "
                   "[default: <neuron>_<start>.<format> in the current folder]")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def export(states_file: str, neurons: tuple[str, ...], start: int, length: int, palette: str,
           strips: bool, fragment: bool, title: str | None, caption: str | None, width: int,
           raw_c: bool, fmt: str | None, output: str | None, force: bool) -> None:
    """Write a span of FILE coloured by neurons as a self-contained HTML or SVG snippet.

    FILE is an extraction (`lstmviz extract`). The snippet has inline styles
    only (no script, fonts or links), escapes all text, and records the
    command that recreates it. It appears only once complete; an existing
    file is replaced only with --force, and FILE itself never. Prints the
    path written.

    \b
    Examples:
        lstmviz export val.h5 --neuron layer1.c.117 --start 1200 --length 400 -o quote_cell.html
        lstmviz export val.h5 -n layer1.c.117 -n layer1.c.3 --start 0 --length 200 --strips --width 40
        lstmviz export val.h5 -n layer0.h.7 --start 500 --length 300 --fragment -o cell.svg
    """
    if output == "":
        raise OptionError("-o is empty; give a file name, or leave -o out for the default name")
    spec = ExportSpec(neurons, start, length, palette=palette, strips=strips, fragment=fragment,
                      title=title, caption=caption, width=width, raw_c=raw_c,
                      format=_format_of(output, fmt))
    path = Path(output) if output else Path(default_output_name(spec))
    check_output(path, (states_file,), example=default_output_name(spec), force=force)
    with open_states(states_file) as states:
        text = render(states, spec)
    click.echo(str(write_snippet(path, text)))
