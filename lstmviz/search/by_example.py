"""Search by example: the units that switch on over a selected span, and where else they do.

The idea is LSTMVis's (Strobelt et al., 2018, "LSTMVis: A Tool for Visual Analysis of Hidden State
Dynamics in Recurrent Neural Networks"), without its limits: any activation, both signs, and the
whole file however long, read block by block.

1. **Units.** Over one activation (default: the last layer's h), a unit is selected when it is at
   or above the threshold at every position of the span ``[start, stop)`` and below it at the
   ``margin`` positions just before and just after. For symmetric activations (h, c and the g
   gate) a unit may also be selected with sign ``-``: at or below ``-threshold`` inside and above
   it around.
2. **Threshold.** Unless given, it is the value that selects the most units: each unit separates
   the span from its surroundings for thresholds in ``(around_max, inside_min]``, and the default
   is the middle of the widest range of thresholds that the largest number of units share.
3. **Matches.** Every maximal run of positions where at least ``min_on`` of the selected units
   (default all) are on together, anywhere in the file except over the span itself. A match scores
   ``min(len, L) / max(len, L) * mean share of units on`` (L the span's length), so runs as long as
   the example and with all units on rank first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmviz.errors import SearchError
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron, act_name, parse_name
from lstmviz.search.scoring import BLOCK_ROWS, Progress, ProgressBar
from lstmviz.store.reader import States


@dataclass
class ExampleSearch:
    """What :func:`search_by_example` found.

    Attributes:
        name: the activation searched, e.g. ``layer1.h``.
        start, stop: the example span ``[start, stop)``.
        threshold: the activation level that counts as "on" (chosen from the data unless given).
        units: one row per selected unit: ``neuron, unit, sign, inside_min, around_max`` (the
            unit's weakest value inside and strongest around, after applying its sign).
        matches: ``start, stop, length, score, on`` sorted best first (``on`` is the mean share of
            the units on over the match).
    """

    name: str
    start: int
    stop: int
    threshold: float
    margin: int
    units: pd.DataFrame
    matches: pd.DataFrame


def search_by_example(
    states: States,
    start: int,
    stop: int,
    *,
    name: str | None = None,
    threshold: float | None = None,
    margin: int = 1,
    min_on: float = 1.0,
    rows: int = BLOCK_ROWS,
    progress: Progress = False,
) -> ExampleSearch:
    """Find the units on over ``[start, stop)`` and off around it, then every other place they turn on.

    Args:
        states: an open extraction file.
        start: first position of the example span.
        stop: one past its last position.
        name: activation to search (default: the last layer's h).
        threshold: activation level for "on"; None chooses it from the data (see module docs).
        margin: positions on each side of the span where a unit must be off.
        min_on: share of the selected units that must be on at once for a match (0 < min_on <= 1).
        rows: positions per block read.
        progress: True for a progress bar on stderr, or a callable ``(done, total)``.

    Raises:
        SpanError: the span does not lie within the text.
        SearchError: no unit separates the span at this threshold.

    >>> # with open_states("cache/model__val.h5") as s: search_by_example(s, 120, 164).matches.head()
    """
    if not 0 < min_on <= 1:
        raise SearchError(f"min_on must be in (0, 1], not {min_on}")
    name, threshold, units = example_units(states, start, stop, name=name, threshold=threshold,
                                           margin=margin)
    chosen = list(zip(units.unit, np.where(units.sign == "+", 1.0, -1.0), strict=True))
    matches = _matches(states, name, chosen, threshold, min_on, start, stop, rows, progress)
    return ExampleSearch(name, start, stop, threshold, margin, units, matches)


def example_units(
    states: States,
    start: int,
    stop: int,
    *,
    name: str | None = None,
    threshold: float | None = None,
    margin: int = 1,
) -> tuple[str, float, pd.DataFrame]:
    """Step 1 and 2 alone (reads only the span and its margins): ``(name, threshold, units)``.

    ``units`` has the columns of :attr:`ExampleSearch.units`. Raises :class:`SearchError` as
    :func:`search_by_example` does.
    """
    N = states.n_tokens
    states.span(start, stop)
    if start == 0 and stop == N:
        raise SearchError(f"span 0:{N} is the whole text, so no unit can be off around it; select a "
                          "part of the text, with at least one position before or after it")
    name = name or act_name(states.n_layer - 1, "h")
    layer, kind = parse_name(name)
    signs = (1.0, -1.0) if KINDS[kind].symmetric else (1.0,)
    lo, hi = max(0, start - margin), min(N, stop + margin)
    window = states.window(name, lo, hi)  # (n, H)
    inside = window[start - lo : stop - lo]
    around = np.concatenate([window[: start - lo], window[stop - lo :]])
    cand = []  # (unit, sign, inside_min, around_max)
    for sign in signs:
        in_min = (sign * inside).min(axis=0)
        out_max = (sign * around).max(axis=0)
        cand += [(u, sign, float(in_min[u]), float(out_max[u])) for u in range(len(in_min))]
    if threshold is None:
        threshold = _default_threshold([(c[3], c[2]) for c in cand if c[2] > c[3]])
    chosen = [c for c in cand if c[3] < threshold <= c[2]] if threshold is not None else []
    if not chosen:
        at = "" if threshold is None else f" at threshold {threshold:.3g}"
        raise SearchError(f"no unit of {name} is on throughout {start}:{stop} and off just before and "
                          f"after it{at}; select a span where something switches on and off (a whole "
                          "quotation, say), set the threshold, or search another activation")
    units = pd.DataFrame(
        [{"neuron": str(Neuron(layer, kind, u)), "unit": u, "sign": "+" if s > 0 else "-",
          "inside_min": a, "around_max": b} for u, s, a, b in chosen])
    return name, float(threshold), units


def _default_threshold(intervals: list[tuple[float, float]]) -> float | None:
    """Middle of the widest threshold range shared by the most intervals ``(low, high]``."""
    if not intervals:
        return None
    edges = sorted({x for pair in intervals for x in pair if math.isfinite(x)})
    if len(edges) < 2:
        low, high = intervals[0]
        return high if math.isfinite(high) else 0.0
    best = (-1, 0.0, 0.0)  # (count, width, middle)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        mid = (a + b) / 2
        count = sum(low < mid <= high for low, high in intervals)
        if (count, b - a) > best[:2]:
            best = (count, b - a, mid)
    return best[2]


def _matches(states: States, name: str, chosen: list, threshold: float, min_on: float, start: int,
             stop: int, rows: int, progress: Progress) -> pd.DataFrame:
    """Runs where enough chosen units are on together, over the whole file, best first."""
    units = np.array([u for u, _ in chosen])
    signs = np.array([sign for _, sign in chosen], dtype=np.float32)
    need = max(1, math.ceil(min_on * len(units) - 1e-9))
    L = stop - start
    runs = []  # (start, stop, sum over the run of the share of units on)
    open_at, open_sum = None, 0.0  # a run still going at the end of the previous block
    with ProgressBar(progress, states.n_tokens, "matching") as bar:
        for a, block in states.blocks([name], rows):
            on = (block[name][:, units] * signs >= threshold).sum(axis=1)  # (n,)
            hit = on >= need
            csum = np.r_[0.0, np.cumsum(on / len(units))]
            d = np.diff(np.r_[np.int8(open_at is not None), hit.astype(np.int8)])
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            bar.update(len(hit))
            if open_at is not None:
                if not len(ends):
                    open_sum += csum[-1]
                    continue
                runs.append((open_at, a + ends[0], open_sum + csum[ends[0]]))
                ends, open_at = ends[1:], None
            for k, s in enumerate(starts):
                if k < len(ends):
                    runs.append((a + s, a + ends[k], csum[ends[k]] - csum[s]))
                else:
                    open_at, open_sum = a + s, csum[-1] - csum[s]
        if open_at is not None:
            runs.append((open_at, states.n_tokens, open_sum))
    runs = [r for r in runs if r[1] <= start or r[0] >= stop]  # not the example itself
    if not runs:
        return pd.DataFrame(columns=["start", "stop", "length", "score", "on"])
    r = np.array(runs, dtype=np.float64)
    length = r[:, 1] - r[:, 0]
    on = r[:, 2] / length
    score = np.minimum(length, L) / np.maximum(length, L) * on
    df = pd.DataFrame({"start": r[:, 0].astype(np.int64), "stop": r[:, 1].astype(np.int64),
                       "length": length.astype(np.int64), "score": score, "on": on})
    return df.sort_values(["score", "start"], ascending=[False, True], kind="stable").reset_index(drop=True)
