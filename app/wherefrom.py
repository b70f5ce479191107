"""The "where from" colouring: the text before a character shaded by what each character wrote into a cell.

With an origin set (:attr:`app.state.View.origin`), the text is coloured not by the neuron's value
but by each character's exact contribution to its cell state at the origin
(:func:`lstmviz.intervene.provenance.provenance`), on a diverging scale over ± the largest one:
what wrote positive on one side, what wrote negative on the other, positions after the origin and
before the look-back blank. The legend says what the contributions add up to, the remainder kept
from older characters, and how many characters back hold 50 % and 90 % of the absolute
contribution. An h unit is ``o·tanh(c)`` of its cell, so its c is taken apart, and the legend says
so; a gate has no cell state and is refused in one line, as are a file whose gates must be
recomputed without its model, and a model whose sha256 is not the file's.

The gates of the origin's look-back are read (float32 gates in the file) or recomputed (the model
replayed from the text's start) once for the whole layer and kept for the latest few origins, so a
step through the units of one layer at the same origin costs only the sum. A replay keeps the states
it hands on at the extraction's block starts, so the next origin of the file is replayed from the
block before its look-back, not from the text's start: only the first click far into a file
without float32 gates waits for the model to read that far.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np

from app.models import Models
from app.state import LOOK_BACK, View
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render import style
from lstmviz.render.palette import lut_index
from lstmviz.store.reader import States

DIVERGING = ("blog", "diverging")  # the palettes with a neutral middle; any other shows as "diverging"
SHARES = (0.5, 0.9)  # the look-backs the legend gives
_lock = threading.Lock()  # one replay at a time: two clicks at once share the first


def palette_for(palette: str) -> str:
    """The page's palette when it is diverging (zero pale in the middle), else ``diverging``.

    >>> palette_for("blog"), palette_for("colorblind")
    ('blog', 'diverging')
    """
    return palette if palette in DIVERGING else "diverging"


def origin_payload(models: Models, states: States, view: View) -> dict:
    """The window coloured by each character's contribution to the cell at ``view.origin``.

    The same shape as :func:`app.data.values_payload` (the browser draws and recolours it the same
    way), with ``values`` the contributions (None where a position has none), ``origin``, and a
    legend whose ``note`` holds the sum, the remainder and the 50 % / 90 % look-backs.

    Raises:
        UnknownActivation: the neuron is a gate (the message names its cell).
        CheckpointError: the gates must be recomputed and the file's model cannot be found or is
            not the file's (the message says how to serve with ``--model``).
    """
    prov, cell, asked = view_provenance(models, states, view)
    origin = view.origin
    stop = min(view.stop, states.n_tokens)
    values = np.full(stop - view.pos, np.nan)
    a, b = max(view.pos, prov.start), min(stop, origin + 1)
    if a < b:
        values[a - view.pos : b - view.pos] = prov.contributions[a - prov.start : b - prov.start]
    largest = float(np.abs(prov.contributions).max()) or 1.0
    idx = lut_index(values, -largest, largest)
    idx[np.isnan(values)] = -1  # no contribution: a blank cell, as a value that is not a number
    return {
        "start": view.pos,
        "stop": stop,
        "neuron": str(asked),
        "layer": asked.layer,
        "kind": asked.kind,
        "unit": asked.unit,
        "n_hidden": states.n_hidden,
        "palette": palette_for(view.palette),
        "values": [None if math.isnan(v) else float(f"{v:.9g}") for v in values.tolist()],  # sums to c
        "kind_label": f"contribution to {cell} at {origin:,}",
        "display": None,
        "idx": idx.tolist(),
        "lo": -largest,
        "hi": largest,
        "ticks": [style.tick(-largest), style.tick(largest)],
        "label": f"where {cell} at {origin:,} comes from: what each character wrote",
        "note": legend_note(prov, asked),
        "origin": origin,
        "look_back": {f"{round(100 * s)}": prov.look_back(s) for s in SHARES},
        "value": prov.value,
        "remainder": prov.remainder,
    }


def view_provenance(models: Models, states: States, view: View):
    """(Provenance of the cell at ``view.origin`` over :data:`LOOK_BACK`, its cell, the neuron asked).

    Raises as :func:`origin_payload` does.
    """
    from lstmviz.intervene.provenance import cell_of, provenance, window_start  # torch: only once asked

    cell, asked = cell_of(states, view.neuron)
    start = window_start(view.origin, LOOK_BACK)
    gates = _gates(models, states, cell.layer, start, view.origin + 1)
    return provenance(states, asked, view.origin, LOOK_BACK, gates=gates), cell, asked


def export(models: Models, states: States, view: View, *, fmt: str, width: int | None, fragment: bool,
           source_name: str) -> tuple[str, str]:
    """(file name, figure) of a "where from" view: what ``lstmviz provenance -o`` writes for its origin.

    The figure shows the whole look-back shaded, not only the window on screen, with the command
    that recreates it.
    """
    from lstmviz.render.contributions import contribution_figure, provenance_command

    prov, cell, _ = view_provenance(models, states, view)
    name = f"{cell}_from_{view.origin}.{fmt}"
    command = provenance_command(source_name, prov, LOOK_BACK, name)
    text = contribution_figure(states, prov, fmt=fmt, palette=palette_for(view.palette), width=width,
                               fragment=fragment, command=command)
    return name, text


def legend_note(prov, asked: Neuron) -> str:
    """The legend's line: the sum, the remainder, the 50 % and 90 % look-backs, and for h what is shown.

    ``prov`` is a :class:`~lstmviz.intervene.provenance.Provenance`.
    """
    n = prov.position - prov.start + 1
    held = [prov.look_back(s) for s in SHARES]
    reach = ", ".join(f"{round(100 * s)} % in the last {k:,}" if k else
                      f"{round(100 * s)} % not within these {n:,}" for s, k in zip(SHARES, held, strict=True))
    parts = [f"c = {prov.value:.4g} = {prov.contributions.sum():+.4g} written by the {n:,} characters "
             f"{prov.start:,}–{prov.position:,} {prov.remainder:+.4g} kept from older ones",
             f"of the absolute contribution, {reach} characters"]
    if prov.start == 0 and n < LOOK_BACK:
        parts.append(f"the look-back of {LOOK_BACK:,} is cut at the text's start: {n:,} characters")
    if asked.kind != prov.neuron.kind:
        parts.append(f"{asked} is {KINDS[asked.kind].label} = o·tanh(c): shown is the provenance of its c, "
                     f"{prov.neuron}")
    parts.append(f"gates: {prov.source}")
    return " · ".join(parts)


def _gates(models: Models, states: States, layer: int, start: int, stop: int):
    """i, f, g of a layer over a look-back, and their source: read or recomputed once per origin."""
    with _lock:
        return _cached_gates(models, states, layer, start, stop)


@lru_cache(maxsize=4)
def _cached_gates(models: Models, states: States, layer: int, start: int, stop: int):
    from lstmviz.intervene.provenance import cell_gates
    from lstmviz.intervene.replay import stored_gates_exact

    if stored_gates_exact(states):
        return cell_gates(states, layer, start, stop)
    return cell_gates(states, layer, start, stop, loaded=models.model(states), handed=_handed(models, states))


@lru_cache(maxsize=8)
def _handed(models: Models, states: States) -> dict:
    """The states a file's replays handed on at block starts (a few MB for millions of characters)."""
    return {}
