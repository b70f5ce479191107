"""``lstmviz intervene``: edit units inside the recurrence over a span and see what the model predicts."""

from __future__ import annotations

import json

import click
import numpy as np
import torch

from lstmviz.cli.options import model_options
from lstmviz.errors import OptionError
from lstmviz.files import check_output
from lstmviz.intervene.edits import EditSpec
from lstmviz.intervene.intervention import Intervention, intervene
from lstmviz.intervene.model_source import model_for
from lstmviz.model.vocab import visible
from lstmviz.store.reader import open_states

SPAN_ALL_LIMIT = 20_000  # positions that --span all covers at most, unless --limit says otherwise


def parse_span(value: str, n_tokens: int, limit: int) -> tuple[int, int]:
    """``A:B``, or ``all``: the text from position 0, at most ``limit`` positions of it."""
    if value.strip() == "all":
        return 0, min(n_tokens, limit)
    try:
        a, b = (int(x) for x in value.split(":"))
    except ValueError:
        raise OptionError(f"--span {value!r} is not START:END or all; write e.g. --span 1200:1260") from None
    return a, b


@click.command("intervene")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--edit", "edits", multiple=True, required=True, metavar="NEURON=OP",
              help="A unit and what to hold it at: zero, set:V (or just V), scale:K, mean (its mean "
                   "over FILE), patch:POS (its value at position POS of FILE) or patch:OTHER.h5@POS "
                   "(at POS of another extraction of the same model). Units of h, c or a gate. "
                   "Repeat for several.")
@click.option("--span", required=True, metavar="A:B|all",
              help="Positions [A, B) where the edits act, or all: the text from 0, up to --limit.")
@click.option("--limit", type=click.IntRange(min=1), default=SPAN_ALL_LIMIT, show_default=True,
              help="Positions --span all covers at most.")
@click.option("--settle", type=click.IntRange(min=1), default=50, show_default=True,
              help="After the span, stop once no probability moved by --tolerance for this many "
                   "positions in a row.")
@click.option("--tolerance", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True,
              help="The largest change of any symbol's probability that counts as no effect.")
@click.option("--after", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Positions after the span to follow the effect, at most.")
@click.option("--rows", type=click.IntRange(min=0), default=30, show_default=True,
              help="Positions shown in the table: those with the largest |Δbits| (--json gives all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with every position instead of a table.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Also write the before/after figure, .html or .svg: the text coloured by the first "
                   "edited unit, the top-5 guesses before and after the edit, and the change of loss.")
@click.option("--force", is_flag=True, help="Replace the figure if it exists.")
@model_options()
def intervene_command(file: str, edits: tuple[str, ...], span: str, limit: int, settle: int,
                      tolerance: float, after: int, rows: int, as_json: bool, output: str | None,
                      force: bool, model: str | None, trust_pickle: bool) -> None:
    """Edit units over a span of FILE and show how the model's predictions change.

    At every step of the span, each edited unit's value is replaced right after
    the step's update, so the edited value flows into the next step of its layer
    and into the layers above: an edit of c also changes that step's
    h = o*tanh(c); an edit of h leaves c. The span is rerun from the state
    FILE stored just before it, with and without the edits, and every change
    is edited minus unedited rerun (the stored h is float16: this cancels its
    rounding). The runs go on after the span until the effect dies out. The
    model is the checkpoint FILE was extracted with, found by its recorded path
    and checked by its sha256.

    \b
    Examples:
        lstmviz intervene cache/m__val.h5 --edit layer2.c.89=zero --span 9520:9600
        lstmviz intervene cache/m__val.h5 --edit layer2.c.89=mean --edit layer0.h.12=set:0.5 --span all
        lstmviz intervene cache/m__val.h5 --edit layer1.c.3=scale:2 --span 100:200 --json
        lstmviz intervene cache/m__val.h5 --edit layer2.c.89=patch:other.h5@12345 --span 500:520
        lstmviz intervene cache/m__val.h5 --edit layer2.c.89=zero --span 9520:9600 -o whatif.svg
    """
    torch.set_num_threads(1)  # a step of two streams is too little work to share between threads
    specs = [EditSpec.parse(e) for e in edits]
    fmt = figure_format(output)
    with open_states(file) as states:
        start, stop = states.span(*parse_span(span, states.n_tokens, limit))
        if output is not None:
            inputs = (file, *(s.source for s in specs if s.source), *((model,) if model else ()))
            check_output(output, inputs, example="whatif.html", force=force)
        loaded = model_for(states, model, trust_pickle=trust_pickle)
        result = intervene(states, loaded.model, specs, start, stop, settle=settle, after=after,
                           tolerance=tolerance)
        if output is not None:
            from lstmviz.render.export import write_snippet
            from lstmviz.render.intervention import before_after, intervention_command

            command = intervention_command(file, specs, start, stop, settle=settle, after=after,
                                           tolerance=tolerance, output=output)
            written = write_snippet(output, before_after(states, result, command=command, fmt=fmt))
            click.echo(f"wrote {written}", err=as_json)
        if as_json:
            click.echo(json.dumps(result.to_dict(), indent=2))
            return
        snippet = "".join(visible(s) for s in states.symbols(start, min(stop, start + 60)))
    _show(result, snippet + ("…" if stop - start > 60 else ""), rows, settle, tolerance)


def figure_format(output: str | None) -> str:
    """``html`` or ``svg``, from the figure's name.

    >>> figure_format("whatif.SVG"), figure_format(None)
    ('svg', 'html')
    """
    if output is None or output.lower().endswith((".html", ".htm")):
        return "html"
    if output.lower().endswith(".svg"):
        return "svg"
    raise OptionError(f"-o {output}: name the figure .html or .svg")


def _p(p: float) -> str:
    """A probability in three characters where it can be: .25, 1.00."""
    return f"{p:.2f}".removeprefix("0")


def _show(result: Intervention, snippet: str, rows: int, settle: int, tolerance: float) -> None:
    totals = result.totals()
    click.echo(f"edits:     {', '.join(result.edits)}")
    click.echo(f"span:      {result.start}:{result.stop} {snippet!r}")
    click.echo(f"Δloss:     {totals['delta_bits_span']:+.4f} bits over the span ({totals['span_chars']:,} "
               f"chars, {totals['bits_per_char_span']:+.4f} bits/char), {totals['delta_bits_after']:+.4f} "
               f"bits over the {totals['after_chars']:,} after it")
    if result.settled:
        click.echo(f"ended:     at {result.end}: no probability moved by {tolerance:g} over the next "
                   f"{settle} positions")
    else:
        click.echo(f"ended:     at {result.end}, the effect still alive (raise --after to follow it)")
    changed = totals["top1_changed"]
    shown = ", ".join(map(str, changed[:12])) + (" …" if len(changed) > 12 else "")
    click.echo(f"top-1:     changed at {len(changed)} position(s){': ' + shown if changed else ''}")
    err = result.rerun_error
    click.echo(f"rounding:  the unedited rerun lies within {err['h']:.1e} (h), {err['c']:.1e} (c) and "
               f"{err['loss_bits']:.1e} bits of the stored values; every Δ is edited - unedited rerun")
    if not rows or not len(result.positions):
        return
    df = result.to_frame()
    picked = np.sort(np.argsort(-np.nan_to_num(np.abs(df["delta_bits"].to_numpy())), kind="stable")[:rows])
    click.echo()
    units = list(result.units)
    header = ["pos", "char", "next", "top-5 edited", "top-1 before", "p_next", "Δbits", *units]
    lines = []
    for k in picked:
        row = df.iloc[k]
        top = " ".join(f"{visible(s)}{_p(p)}" for s, p in zip(row["top5"], row["top5_probs"], strict=True))
        mark = "*" if row["top1_changed"] else ""
        nxt = visible(row["next"]) if row["next"] else ""
        lines.append([str(row["position"]), visible(row["symbol"]), nxt, top,
                      visible(row["base_top5"][0]) + mark, f"{row['p_next']:.3f}",
                      f"{row['delta_bits']:+.3f}", *(f"{row[u]:+.3f}" for u in units)])
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    click.echo("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for r in lines:
        click.echo("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    if len(picked) < len(df):
        click.echo(f"\n{len(picked)} of {len(df)} positions shown, those with the largest |Δbits|; "
                   "--json gives every one. * marks a changed first guess.")
