"""``lstmviz provenance`` and ``lstmviz profile``: where a value comes from, how far back cells remember."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from lstmviz.cli.options import rerun_options
from lstmviz.errors import OptionError
from lstmviz.files import check_output
from lstmviz.intervene.horizon import DEFAULT_WINDOW
from lstmviz.intervene.model_source import model_for
from lstmviz.intervene.provenance import (
    DEFAULT_BACK,
    SHARES,
    Provenance,
    cell_of,
    check_back,
    check_position,
    provenance,
)
from lstmviz.intervene.replay import stored_gates_exact
from lstmviz.names import act_name
from lstmviz.render.palette import PALETTES
from lstmviz.render.spec import DEFAULTS
from lstmviz.render.style import strip_text
from lstmviz.store.reader import States, open_states

CONTEXT = 8  # characters shown on each side of a contributing character
_FORMATS = {".html": "html", ".htm": "html", ".svg": "svg"}


@click.command("provenance")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--neuron", "-n", required=True,
              help="A cell, e.g. layer2.c.89; an h unit (layer2.h.89) shows where its c comes from.")
@click.option("--at", "position", type=int, required=True, help="The position whose value is taken apart.")
@click.option("--back", type=int, default=DEFAULT_BACK, show_default=True,
              help="Characters looked back, the position's own included; older ones make the remainder.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Strongest contributions listed.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the value, the remainder and every position's contribution.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Also write a figure, .html or .svg: the text before the position shaded by contribution.")
@click.option("--palette", type=click.Choice(list(PALETTES)), default=DEFAULTS["palette"], show_default=True,
              help="Diverging colour scale of the figure.")
@click.option("--force", is_flag=True, help="Replace the figure if it exists.")
@rerun_options
def provenance_command(file: str, neuron: str, position: int, back: int, top: int, as_json: bool,
                       output: str | None, palette: str, force: bool, model: str | None, trust_pickle: bool,
                       device: str, quiet: bool) -> None:
    """Show where a cell's value comes from: what each earlier character wrote into it.

    c_t = f_t*c_{t-1} + i_t*g_t unrolls exactly: each position s before t
    contributes (f_{s+1}...f_t)*i_s*g_s, what it wrote scaled by every later
    forget gate, and the state before the window, carried through, is the
    remainder; together they are the stored c_t. The gates are the file's
    when it stores them in float32 (extract --gates --dtype float32), else the
    model runs again from the text's start (see docs/provenance.md).

    \b
    Examples:
        lstmviz provenance cache/model__val.h5 --neuron layer2.c.89 --at 12345
        lstmviz provenance cache/model__val.h5 -n layer1.h.7 --at 500 --back 300 --json
        lstmviz provenance cache/model__val.h5 -n layer2.c.89 --at 12345 -o where.html
    """
    fmt = _format_of(output)
    check_back(back)
    with open_states(file) as states:
        cell_of(states, neuron)  # refused before the model is looked for
        check_position(states, position)
        if output is not None:
            check_output(output, (file,), example="where.html", force=force)
        loaded = None if stored_gates_exact(states) else model_for(states, model, trust_pickle=trust_pickle)
        prov = provenance(states, neuron, position, back, loaded=loaded, device=device, progress=not quiet)
        if as_json:
            click.echo(json.dumps(_as_json(prov, back), indent=2))
        else:
            _show(states, prov, top)
        if output is not None:
            from lstmviz.render.contributions import contribution_figure, provenance_command
            from lstmviz.render.export import write_snippet

            command = provenance_command(file, prov, back, output)
            written = write_snippet(output, contribution_figure(states, prov, fmt=fmt, palette=palette,
                                                                command=command))
            click.echo(f"wrote {written}", err=as_json)


def _format_of(output: str | None) -> str:
    if output is None:
        return "html"
    for suffix, fmt in _FORMATS.items():
        if output.lower().endswith(suffix):
            return fmt
    raise OptionError(f"-o {output}: name the figure .html or .svg")


def _share_key(share: float) -> str:
    return f"{share:.0%}"


def _as_json(prov: Provenance, back: int) -> dict:
    return {
        "neuron": str(prov.asked), "cell": str(prov.neuron), "position": prov.position, "back": back,
        "start": prov.start, "value": prov.value, "sum": float(prov.contributions.sum()),
        "remainder": prov.remainder, "absolute": prov.absolute, "discrepancy": prov.discrepancy,
        "gates": prov.source,
        "look_back": {_share_key(s): prov.look_back(s) for s in SHARES},
        "contributions": [{"position": int(p), "contribution": float(c)}
                          for p, c in zip(prov.positions, prov.contributions, strict=True)],
    }


def _glyphs(states: States, start: int, stop: int) -> list[str]:
    byte_level = states.vocab.byte_level
    return [strip_text(s, byte_level) for s in states.symbols(max(0, start), min(states.n_tokens, stop))]


def _context(states: States, position: int) -> str:
    """``before [c] after``, whitespace made visible, the character in the same column on every line."""
    before = "".join(_glyphs(states, position - CONTEXT, position))
    after = "".join(_glyphs(states, position + 1, position + 1 + CONTEXT))
    return f"{before:>{CONTEXT}} [{''.join(_glyphs(states, position, position + 1))}] {after}"


def _look_back_words(prov: Provenance) -> str:
    said = []
    for share in SHARES:
        k = prov.look_back(share)
        window = prov.position - prov.start + 1
        said.append(f"{share:.0%} in the last {k:,}" if k else
                    f"{share:.0%} only with the remainder (further back than {window:,})")
    return ", ".join(said)


def _show(states: States, prov: Provenance, top: int) -> None:
    n = prov.position - prov.start + 1
    if prov.asked != prov.neuron:
        click.echo(f"{prov.asked} is o*tanh(c) of its cell: this is where {prov.neuron} comes from.")
    click.echo(f"{prov.neuron} at position {prov.position:,} {_context(states, prov.position).strip()!r}: "
               f"c = {prov.value:.6g}")
    older = "the LSTM's initial state, 0" if prov.start == 0 else \
        f"the stored c at {prov.start - 1:,} carried through every forget gate since"
    click.echo(f"  {prov.contributions.sum():+.6g}  written by the {n:,} characters "
               f"{prov.start:,}..{prov.position:,}")
    click.echo(f"  {prov.remainder:+.6g}  remainder: {older}")
    relative = abs(prov.discrepancy) / max(prov.absolute, math.ulp(0.0))
    click.echo(f"  stored c minus their sum: {prov.discrepancy:.2g} ({relative:.1g} of the absolute "
               f"contribution, {prov.absolute:.6g})")
    click.echo(f"  of the absolute contribution, {_look_back_words(prov)} characters")
    click.echo(f"  gates: {prov.source}")
    if top == 0:
        return
    click.echo()
    click.echo(f"strongest {min(top, n)} contributions:")
    rows = [(f"{p:,}", f"{prov.position - p + 1:,}", f"{prov.contributions[p - prov.start]:+.6g}",
             _context(states, int(p))) for p in prov.strongest(top)]
    heads = ("position", "back", "contribution", "context")
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(heads[:3])]
    click.echo("  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=False)) + "  " + heads[3])
    for row in rows:
        click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[3])


@click.command("profile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--horizon", is_flag=True,
              help="Measure every cell's memory horizon and add it to FILE's summaries (format 1.3).")
@click.option("--window", type=click.IntRange(min=1), default=DEFAULT_WINDOW, show_default=True,
              help="Characters looked back at most; a horizon further back counts as WINDOW + 1.")
@rerun_options
def profile_command(file: str, horizon: bool, window: int, model: str | None, trust_pickle: bool,
                    device: str, quiet: bool) -> None:
    """Show or add per-unit profiles that extraction may not have stored: memory horizons.

    A cell's horizon at a position is how many characters back hold 90 % of
    the absolute contributions to its c (see `lstmviz provenance`); each unit
    gets the median and 90th percentile over positions. `extract --gates`
    stores them; --horizon measures them for any file by running its model
    over the whole text again, then replaces FILE by a copy that holds them
    (an interruption leaves FILE as it was). Without --horizon, says which
    files hold them.

    \b
    Examples:
        lstmviz profile cache/model__val.h5
        lstmviz profile cache/model__val.h5 --horizon --model runs/model.pt
        lstmviz search cache/model__val.h5 --horizon --top 20
    """
    from lstmviz.intervene.memory import measure_horizons, store_horizons
    from lstmviz.search.cache import file_identity

    identity = file_identity(file)
    with open_states(file) as states:
        names = [act_name(layer, "c") for layer in range(states.n_layer)]
        stored = {name: states.horizon(name) for name in names}
        if not horizon:
            _show_horizons(file, stored)
            return
        loaded = model_for(states, model, trust_pickle=trust_pickle)
        measured = measure_horizons(states, loaded, window=window, device=device, progress=not quiet)
    path = store_horizons(file, measured, identity)
    _show_horizons(str(path), measured)


def _show_horizons(file: str, horizons: dict) -> None:
    if not any(h is not None for h in horizons.values()):
        click.echo(f"{file}: no memory horizons; measure them with `lstmviz profile {file} --horizon`")
        return
    click.echo(f"{file}: memory horizons (characters back holding 90 % of each cell's contributions)")
    for name, h in horizons.items():
        if h is None:
            click.echo(f"  {name}: not measured")
            continue
        W = int(h["horizon_window"][0])
        beyond = int((h["horizon_p90"] > W).sum())
        click.echo(f"  {name}: median over units {_median(h['horizon_median'], W)}, longest median "
                   f"{_shown(int(h['horizon_median'].max()), W)}; {beyond} unit(s) with a 90th percentile "
                   f"beyond the window of {W:,}")
    click.echo(f"rank them: lstmviz search {file} --horizon")


def _median(values: np.ndarray, window: int) -> str:
    return _shown(int(np.median(values)), window)


def _shown(value: int, window: int) -> str:
    return f"> {window:,}" if value > window else f"{value:,}"
