"""Search by example: the units that switch on over a selected span, and where else they do.

The idea is LSTMVis's (Strobelt et al., 2018, "LSTMVis: A Tool for Visual Analysis of Hidden State
Dynamics in Recurrent Neural Networks"), without its limits: any activation, both signs, and the
whole file however long, read block by block.

1. **Units.** Over one activation (default: the last layer's h), a unit is selected when it is at
   or above the threshold at every position of the span ``[start, stop)`` and below it at the
   ``margin`` positions just before and just after. For symmetric activations (h, c and the g
   gate) a unit may also be selected with sign ``-``: at or below ``-threshold`` inside and above
   it around. A hand-drawn selection rarely starts and ends exactly where a cell switches (the
   wikilink cell turns on after ``[[`` and off after the first ``]``), so with ``slack`` k the
   span's edges are fuzzy by k positions: the unit must be on over the span less k positions at
   each end, and off at some position of the k + ``margin`` before that core and of those after it.
2. **Threshold.** Unless given, it is the value that selects the most units: each unit separates
   the span from its surroundings for thresholds in ``(around_max, inside_min]``, and the default
   is the middle of the widest range of thresholds that the largest number of units share.
3. **Matches.** Every maximal run of positions where at least ``min_on`` of the selected units
   (default all) are on together, anywhere in the file except over the span itself. A match scores
   ``min(len, L) / max(len, L) * strength`` (L the span's length), where ``strength`` is how strongly
   the units are on over the run compared with the example: per position and unit, how far the
   value rises above the threshold as a share of the unit's mean rise over the example (capped at
   1, and 0 where the unit is off), averaged over the units and the run. Runs as long as the
   example, where every unit is as far on as in the example, score 1; runs where the units barely
   reach the threshold score little, so matches no longer tie at 1.00 when all units are on.

A span must hold at least two positions and leave some text around it; a threshold must select
some units but not every unit of the activation (then every place would match). Each case is one
:class:`~lstmviz.errors.SearchError` that says what to change.
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
        units: one row per selected unit: ``neuron, unit, sign, inside_min, around_max,
            inside_mean`` (the unit's weakest value inside, strongest around and mean inside,
            after applying its sign).
        matches: ``start, stop, length, score, on, strength`` sorted best first (``on`` is the mean
            share of the units on over the match, ``strength`` see the module docs).
        intervals: ``(k, 2)`` the threshold ranges ``(around_max, inside_min]`` of every unit (and
            sign) that separates the span from its surroundings at some threshold: a threshold t
            selects the units whose range holds it, so :meth:`units_at` counts them for any t.
    """

    name: str
    start: int
    stop: int
    threshold: float
    margin: int
    units: pd.DataFrame
    matches: pd.DataFrame
    intervals: np.ndarray

    def units_at(self, threshold: float) -> int:
        """How many units a threshold would select for this span (a slider's count, without a search).

        >>> # found.units_at(found.threshold) == len(found.units)
        """
        lo, hi = self.intervals[:, 0], self.intervals[:, 1]
        return int(((lo < threshold) & (threshold <= hi)).sum())


def search_by_example(
    states: States,
    start: int,
    stop: int,
    *,
    name: str | None = None,
    threshold: float | None = None,
    margin: int = 1,
    slack: int = 0,
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
        slack: positions by which each edge of the span may miss where a unit switches (see the
            module docs); at most what leaves two positions inside.
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
    name, cand = _candidates(states, start, stop, name=name, margin=margin, slack=slack)
    threshold, units = _choose(states, name, cand, start, stop, threshold)
    chosen = list(zip(units.unit, np.where(units.sign == "+", 1.0, -1.0), units.inside_mean, strict=True))
    matches = _matches(states, name, chosen, threshold, min_on, start, stop, rows, progress)
    return ExampleSearch(name, start, stop, threshold, margin, units, matches, _intervals(cand))


def example_units(
    states: States,
    start: int,
    stop: int,
    *,
    name: str | None = None,
    threshold: float | None = None,
    margin: int = 1,
    slack: int = 0,
) -> tuple[str, float, pd.DataFrame]:
    """Step 1 and 2 alone (reads only the span and its margins): ``(name, threshold, units)``.

    ``units`` has the columns of :attr:`ExampleSearch.units`. Raises :class:`SearchError` as
    :func:`search_by_example` does.
    """
    name, cand = _candidates(states, start, stop, name=name, margin=margin, slack=slack)
    threshold, units = _choose(states, name, cand, start, stop, threshold)
    return name, threshold, units


def _choose(states: States, name: str, cand: list, start: int, stop: int,
            threshold: float | None) -> tuple[float, pd.DataFrame]:
    """The threshold (given, or the default) and the units it selects, or why there are none to use."""
    if threshold is None:
        threshold = _default_threshold([(c[3], c[2]) for c in cand if c[2] > c[3]])
    chosen = [c for c in cand if c[3] < threshold <= c[2]] if threshold is not None else []
    if not chosen:
        at = "" if threshold is None else f" at threshold {threshold:.3g}"
        raise SearchError(f"no unit of {name} is on throughout {start}:{stop} and off just before and "
                          f"after it{at}; select a span where something switches on and off (a whole "
                          "quotation, say), set the threshold, or search another activation")
    if len({c[0] for c in chosen}) == states.n_hidden:
        H = states.n_hidden
        raise SearchError(f"threshold {threshold:.3g} selects every unit of {name} ({H} of {H}), so every "
                          "place would match; raise the threshold")
    layer, kind = parse_name(name)
    units = pd.DataFrame(
        [{"neuron": str(Neuron(layer, kind, u)), "unit": u, "sign": "+" if s > 0 else "-",
          "inside_min": a, "around_max": b, "inside_mean": m} for u, s, a, b, m in chosen])
    return float(threshold), units


def _intervals(cand: list) -> np.ndarray:
    """``(k, 2)``: the threshold range ``(around_max, inside_min]`` of each separating unit and sign."""
    return np.array([(c[3], c[2]) for c in cand if c[2] > c[3]], dtype=np.float64).reshape(-1, 2)


def _candidates(states: States, start: int, stop: int, *, name: str | None, margin: int,
                slack: int = 0) -> tuple[str, list[tuple[int, float, float, float, float]]]:
    """Every (unit, sign, inside_min, around_max, inside_mean) over the span and its margins.

    With ``slack``, "inside" is the span's core and "around" the larger of the lowest values
    near each edge (the unit is off somewhere there), as the module docs say.
    """
    N = states.n_tokens
    states.span(start, stop)
    if start == 0 and stop == N:
        raise SearchError(f"span 0:{N} is the whole text, so no unit can be off around it; select a "
                          "part of the text, with at least one position before or after it")
    if stop - start < 2:
        raise SearchError(f"span {start}:{stop} is one character, and almost any unit is on over one "
                          "character; select at least two (a word, a quotation)")
    name = name or act_name(states.n_layer - 1, "h")
    _, kind = parse_name(name)
    signs = (1.0, -1.0) if KINDS[kind].symmetric else (1.0,)
    k = max(0, min(slack, (stop - start - 2) // 2))
    lo, hi = max(0, start - margin - k), min(N, stop + margin + k)
    window = states.window(name, lo, hi)  # (n, H)
    inside = window[start + k - lo : stop - k - lo]
    edges = [e for e in (window[: start + k - lo], window[stop - k - lo :]) if len(e)]
    cand = []  # (unit, sign, inside_min, around_max, inside_mean)
    for sign in signs:
        in_min = (sign * inside).min(axis=0)
        in_mean = (sign * inside).mean(axis=0, dtype=np.float64)
        if k == 0:  # off at every position of the margins
            out_max = np.max([(sign * e).max(axis=0) for e in edges], axis=0)
        else:  # off somewhere near each edge
            out_max = np.max([(sign * e).min(axis=0) for e in edges], axis=0)
        cand += [(u, sign, float(in_min[u]), float(out_max[u]), float(in_mean[u]))
                 for u in range(len(in_min))]
    return name, cand


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
    units = np.array([u for u, _, _ in chosen])
    signs = np.array([sign for _, sign, _ in chosen], dtype=np.float32)
    # How far each unit rises above the threshold over the example: its strength 1 (never below a hair).
    rise = np.maximum(np.array([m for _, _, m in chosen], dtype=np.float32) - threshold, 1e-6)
    need = max(1, math.ceil(min_on * len(units) - 1e-9))
    L = stop - start
    runs = []  # (start, stop, sum over the run of the share of units on, sum of the strength)
    open_at, open_sums = None, (0.0, 0.0)  # a run still going at the end of the previous block
    with ProgressBar(progress, states.n_tokens, "matching") as bar:
        for a, block in states.blocks([name], rows):
            x = block[name][:, units] * signs  # (n, k)
            on = (x >= threshold).sum(axis=1)  # (n,)
            strength = np.where(x >= threshold, np.minimum((x - threshold) / rise, 1.0), 0.0).mean(axis=1)
            hit = on >= need
            csum = np.r_[0.0, np.cumsum(on / len(units))]
            ssum = np.r_[0.0, np.cumsum(strength, dtype=np.float64)]
            d = np.diff(np.r_[np.int8(open_at is not None), hit.astype(np.int8)])
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            bar.update(len(hit))
            if open_at is not None:
                if not len(ends):
                    open_sums = (open_sums[0] + csum[-1], open_sums[1] + ssum[-1])
                    continue
                e = ends[0]
                runs.append((open_at, a + e, open_sums[0] + csum[e], open_sums[1] + ssum[e]))
                ends, open_at = ends[1:], None
            for k, s in enumerate(starts):
                if k < len(ends):
                    e = ends[k]
                    runs.append((a + s, a + e, csum[e] - csum[s], ssum[e] - ssum[s]))
                else:
                    open_at, open_sums = a + s, (csum[-1] - csum[s], ssum[-1] - ssum[s])
        if open_at is not None:
            runs.append((open_at, states.n_tokens, *open_sums))
    runs = [r for r in runs if r[1] <= start or r[0] >= stop]  # not the example itself
    if not runs:
        return pd.DataFrame(columns=["start", "stop", "length", "score", "on", "strength"])
    r = np.array(runs, dtype=np.float64)
    length = r[:, 1] - r[:, 0]
    on, strength = r[:, 2] / length, r[:, 3] / length
    score = np.minimum(length, L) / np.maximum(length, L) * strength
    df = pd.DataFrame({"start": r[:, 0].astype(np.int64), "stop": r[:, 1].astype(np.int64),
                       "length": length.astype(np.int64), "score": score, "on": on, "strength": strength})
    return df.sort_values(["score", "start"], ascending=[False, True], kind="stable").reset_index(drop=True)
