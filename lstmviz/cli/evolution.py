"""``lstmviz evolve`` and ``lstmviz compare``: cells over training, and two models side by side."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import click
import numpy as np

from lstmviz.evolution.compare import STRONG, Comparison, compare
from lstmviz.evolution.records import Evolution
from lstmviz.evolution.timeline import DEFAULT_CHARS, KINDS, evolve
from lstmviz.files import atomic_path, check_output

WEAK_LINK = 0.5  # a link of a cell's trace below this (in |r|) is named in the summary
_DEVICE_HELP = "Where to extract and score: auto (the GPU when there is one), cpu or cuda."


@click.command("evolve")
@click.argument("run", nargs=-1, required=True, type=click.Path(exists=True))
@click.argument("text", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Evolution file to write (HDF5).")
@click.option("--chars", default=DEFAULT_CHARS, show_default=True,
              help="Characters of TEXT (from its start) that every snapshot reads.")
@click.option("--by", "kind", type=click.Choice(KINDS), default="c", show_default=True,
              help="Match units by their cells (c) or their outputs (h).")
@click.option("--device", default="auto", show_default=True, help=_DEVICE_HELP)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evolve_command(run: tuple[str, ...], text: str, output: str, chars: int, kind: str, device: str,
                   force: bool, quiet: bool) -> None:
    """Follow the cells of a run's snapshots through training, over the same text.

    RUN is the snapshots folder of `lstmviz train --snapshots N`, another
    folder of checkpoints, or checkpoints named one by one (any layout
    `lstmviz inspect` loads). Every snapshot is extracted over the first
    --chars characters of TEXT, every unit scored against every built-in
    hypothesis, and the units of each snapshot matched one to one to the
    next's by the correlation of their activations (an optimal assignment),
    so a cell keeps one identity across training. The file holds, per
    snapshot and hypothesis, the best unit, its score, baseline and margin,
    the final best unit followed back to every snapshot, the samples and
    the losses (docs/evolution.md). Prints when each hypothesis' final
    cell cleared its baseline and its largest rise between two snapshots.

    \b
    Example:
        lstmviz evolve austen.snapshots austen.val.txt -o evolution.h5
        lstmviz evolve step-100.pt step-1000.pt step-5000.pt wiki.val.txt -o wiki_ev.h5
    """
    result = evolve(run[0] if len(run) == 1 else list(run), text, output, chars=chars, kind=kind,
                    device=device, force=force, progress=not quiet)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(evolution_summary(result))


def evolution_summary(ev: Evolution) -> str:
    """What ``evolve`` prints: the file, then one line per hypothesis, the strongest final cell first."""
    first, last = ev.snapshots[0].label, ev.snapshots[-1].label
    lines = [f"wrote {ev.path}: {len(ev.snapshots)} snapshots ({first} to {last}), {ev.n_chars:,} characters "
             f"of {ev.text_path}, units matched by {ev.kind}",
             f"{'hypothesis':<14} {'cell at the end':<16} {'margin':>7}  "
             f"{'clears ' + format(ev.margin, 'g'):<14} largest rise of its margin"]
    ranked = sorted(ev.hypotheses.values(), key=lambda t: -_finite(t.lineage[-1].margin))
    for t in ranked:
        end = t.lineage[-1]
        e = t.emergence(ev.margin)
        cleared = ev.snapshots[e.cleared].label if e.cleared is not None else "no"
        rise = "-"
        if math.isfinite(e.rise):
            share = f" ({e.share:.0%} of its range)" if math.isfinite(e.share) else ""
            rise = (f"{e.rise:+.3f} from {ev.snapshots[e.rise_from].label} to {ev.snapshots[e.rise_to].label}"
                    f"{share}")
        lines.append(f"{t.name:<14} {end.neuron or '-':<16} {_signed(end.margin):>7}  {cleared:<14} {rise}"
                     f"{_weakest(ev, end.neuron)}")
    return "\n".join(lines)


@click.command("compare")
@click.argument("file_a", metavar="A", type=click.Path(exists=True, dir_okay=False))
@click.argument("file_b", metavar="B", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "kind", type=click.Choice(KINDS), default="c", show_default=True,
              help="Correlate the cells (c) or the outputs (h).")
@click.option("-o", "--units", type=click.Path(),
              help="Also write every unit of A with its partner and nearest unit in B to this CSV file.")
@click.option("--device", default="auto", show_default=True, help="Where to score: auto, cpu or cuda.")
@click.option("--force", is_flag=True, help="Replace the CSV file if it exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compare_command(file_a: str, file_b: str, kind: str, units: str | None, device: str, force: bool,
                    quiet: bool) -> None:
    """Compare two models' extractions over the same text: units, layers and hypothesis cells.

    A and B are extraction files (`lstmviz extract`) of two models over the
    same text: two seeds, two sizes, two snapshots. Prints, per layer, the
    linear CKA of the two layers and how many units of A have a partner in
    B (one-to-one, by the correlation of their activations) correlated at
    0.9 or more; then, per built-in hypothesis, each model's best cell with
    its margin over the baseline, whether both clear it, and the partner in
    B of A's cell with its score there. What cannot be compared (different
    layers, sizes or readings of the text) is said on stderr.

    \b
    Example:
        lstmviz compare cache/seed1__val.h5 cache/seed2__val.h5
        lstmviz compare cache/small__val.h5 cache/large__val.h5 -o units.csv
    """
    if units is not None:
        check_output(units, (file_a, file_b), example="units.csv", force=force)
    result = compare(file_a, file_b, kind=kind, device=device, progress=not quiet)
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    click.echo(comparison_summary(result))
    if units is not None:
        click.echo(f"wrote {write_units(units, result)}")


def comparison_summary(c: Comparison) -> str:
    """What ``compare`` prints: layers, then hypotheses."""
    lines = [f"A = {c.path_a.name}, B = {c.path_b.name}: {c.n_positions:,} positions, "
             f"units matched by {c.kind}"]
    if c.layers:
        lines.append(f"{'layer':<6} {'CKA':>6}  {'mean |r|':>8}  pairs |r| >= {STRONG:g}")
        for layer in c.layers:
            r = layer.matching.correlation
            mean = float(np.nanmean(np.abs(r))) if np.isfinite(r).any() else math.nan
            lines.append(f"{layer.layer:<6} {layer.cka:>6.3f}  {mean:>8.3f}  "
                         f"{layer.paired()}/{layer.units_a}")
    lines.append(f"{'hypothesis':<14} {'A best':<14} {'margin':>7}  {'B best':<14} {'margin':>7}  both  "
                 "A's cell in B: unit, r, margin")
    for h in c.hypotheses:
        twin = "-"
        if h.twin.neuron:
            twin = f"{h.twin.neuron}, r {h.twin_correlation:+.2f}, {_signed(h.twin.margin)}"
        lines.append(f"{h.name:<14} {h.a.neuron or '-':<14} {_signed(h.a.margin):>7}  "
                     f"{h.b.neuron or '-':<14} {_signed(h.b.margin):>7}  "
                     f"{'yes' if h.both(c.margin) else 'no':<4}  {twin}")
    shared = c.shared()
    lines.append(f"both clear by {c.margin:g}: {', '.join(shared) if shared else 'none'}")
    return "\n".join(lines)


def write_units(path: str | Path, c: Comparison) -> Path:
    """Every unit of A: layer, unit, its partner in B and their correlation, its nearest and theirs."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["layer", "unit_a", "partner_b", "correlation", "nearest_b", "nearest_correlation"])
        for layer in c.layers:
            m = layer.matching
            for u in range(layer.units_a):
                out.writerow([layer.layer, u, int(m.partner[u]), _cell(m.correlation[u]), int(m.nearest[u]),
                              _cell(m.nearest_correlation[u])])
    return Path(path)


def _weakest(ev: Evolution, neuron: str) -> str:
    """``; weakest link r 0.21 (step 2,398 to step 4,000)`` when a link of the cell's trace is below 0.5."""
    if not neuron:
        return ""
    links = np.abs(ev.links(neuron))
    if not np.isfinite(links).any() or np.nanmin(links) >= WEAK_LINK:
        return ""
    k = int(np.nanargmin(links))
    return (f"; weakest link r {links[k]:.2f} ({ev.snapshots[k].label} to {ev.snapshots[k + 1].label}): "
            "no clear predecessor")


def _signed(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.3f}"


def _cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf
