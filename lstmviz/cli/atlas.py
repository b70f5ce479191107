"""``lstmviz atlas``: the file's interpretable cells at a glance, as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from lstmviz.cli.options import model_options
from lstmviz.devices import resolve_device
from lstmviz.files import check_output
from lstmviz.intervene.causal import CHARS
from lstmviz.intervene.model_source import model_for
from lstmviz.render.atlas import atlas_command, page
from lstmviz.render.export import write_snippet
from lstmviz.search.atlas import MARGIN, PER_HYPOTHESIS, UNEXPLAINED, build_atlas, rankings, with_causal
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
@click.option("--causal", is_flag=True,
              help="Also silence each unit shown as tracking a hypothesis, beside 30 random units of its "
                   "layer and kind, and show on its card how much worse the model predicts where the "
                   "hypothesis' regions close (Δbits) and its percentile among the random units. Needs "
                   "the model FILE was extracted with.")
@click.option("--causal-chars", type=click.IntRange(min=2), default=CHARS, show_default=True,
              help="With --causal: characters silenced and measured, from the text's start.")
@model_options("With --causal: ")
def atlas(states_file: str, output: str | None, margin: float, top: int, unexplained: int, device: str,
          force: bool, causal: bool, causal_chars: int, model: str | None, trust_pickle: bool) -> None:
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

    With --causal each card of a unit that tracks a hypothesis also gets
    its causal score, as `lstmviz search --causal` measures it: the unit is
    mean-ablated over the text's first --causal-chars characters, in one
    batched run with 30 random units of each layer and kind shown (about
    12 CPU minutes for 20,000 characters of the demo; docs/atlas.md).

    \b
    Examples:
        lstmviz atlas cache/model__val.h5 -o atlas.html
        lstmviz atlas cache/model__val.h5 --margin 0.1 --top 5
        lstmviz atlas cache/model__val.h5 --causal --causal-chars 50000
    """
    ctx = click.get_current_context()
    if not causal and any(ctx.get_parameter_source(p) is not ParameterSource.DEFAULT
                          for p in ("causal_chars", "model", "trust_pickle")):
        raise click.UsageError("--causal-chars, --model and --trust-pickle go with --causal")
    default = default_output_name(states_file)
    path = Path(output) if output else Path(default)
    check_output(path, (states_file,), example=default, force=force)
    with open_states(states_file) as states:
        loaded = model_for(states, model, trust_pickle=trust_pickle) if causal else None  # refused first
        tables = rankings(states, progress=True, device=device)
        if loaded is not None:
            tables = with_causal(states, tables, loaded.model, margin=margin, per_hypothesis=top,
                                 chars=causal_chars, progress=True, device=resolve_device(device))
        found = build_atlas(states, tables, margin=margin, per_hypothesis=top, unexplained=unexplained)
        command = atlas_command(states_file, margin=margin, top=top, unexplained=unexplained, causal=causal,
                                causal_chars=causal_chars, model=model, trust_pickle=trust_pickle)
        text = page(states, found, command=command)
    click.echo(str(write_snippet(path, text)))
    if found.message():
        click.echo(f"Note: {found.message()}", err=True)
