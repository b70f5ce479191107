"""A unit's distribution over the whole file, from the histograms the extraction stored.

The raw cell state c has no fixed range: a few positions can reach ±28 while the unit spends
almost all of its time within ±3, so a colour scale over its largest magnitude leaves nearly every
character pale. Its 1st and 99th percentiles make a robust scale instead, and the summaries already
hold a histogram of every unit (``rank_hist``, 2,048 bins, format 1.2; else ``hist``, 50 bins), so
percentiles cost no pass over the activations. Files without usable summaries are scanned once, a
block at a time.

The same histogram, mapped through the kind's display function (tanh for c), gives the profile's
histogram in the scale the text is coloured by.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from lstmviz.errors import StoreError
from lstmviz.names import Neuron
from lstmviz.store.reader import States

SCAN_ROWS = 1 << 16  # rows per read when a unit's histogram must be counted from its column
SCAN_BINS = 2048  # bins of a counted histogram, as many as the stored rank histograms have
ROBUST = (0.01, 0.99)  # the percentiles a robust scale spans


def quantiles(counts: np.ndarray, edges: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles of a histogram, interpolated linearly inside the bin where each one falls.

    >>> quantiles(np.array([0, 10, 10, 0]), np.array([0.0, 1, 2, 3, 4]), [0.0, 0.5, 1.0])
    [1.0, 2.0, 3.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return [float("nan")] * len(qs)
    cum = np.r_[0.0, np.cumsum(counts)]
    out = []
    for q in qs:
        target = q * total
        k = int(np.clip(np.searchsorted(cum, target, side="left") - 1, 0, len(counts) - 1))
        while k < len(counts) - 1 and counts[k] == 0:  # the first bin that holds the target
            k += 1
        share = (target - cum[k]) / counts[k] if counts[k] else 0.0
        out.append(float(edges[k] + np.clip(share, 0.0, 1.0) * (edges[k + 1] - edges[k])))
    return out


def unit_histogram(states: States, neuron: Neuron) -> tuple[np.ndarray, np.ndarray]:
    """The unit's finest histogram over the whole file: ``(counts (B,), edges (B + 1,))``.

    The stored rank histogram when the file has one, else the summary's histogram, else one
    counted from the unit's column (a pass over the file, a block at a time).
    """
    stored = _stored(states, neuron.name)
    if stored is not None:
        counts, lo, width = stored
        u = neuron.unit
        bins = counts.shape[1]
        return counts[u], lo[u] + width[u] * np.arange(bins + 1)
    return _scanned(states, neuron.name, neuron.unit)


def robust_range(states: States, neuron: Neuron) -> tuple[float, float]:
    """The unit's 1st and 99th percentiles over the whole file.

    >>> # robust_range(states, Neuron.parse("layer2.c.182"))  # -> (-3.1, 4.2) where |c| reaches 28
    """
    counts, edges = unit_histogram(states, neuron)
    lo, hi = quantiles(counts, edges, ROBUST)
    return lo, hi


def rebinned(counts: np.ndarray, edges: np.ndarray, lo: float, hi: float, bins: int,
             display=None) -> tuple[np.ndarray, int, int]:
    """A histogram moved onto ``bins`` equal bins over [lo, hi], through a display function.

    Each source bin's count goes where the display function takes its centre. Counts below ``lo``
    and above ``hi`` are left out and returned apart, so a clipped scale can say how many.

    Returns:
        ``(counts (bins,), below, above)``.

    >>> rebinned(np.array([1, 2, 3]), np.array([0.0, 1, 2, 3]), 0.0, 2.0, 2)[0].tolist(), \\
    ...     rebinned(np.array([1, 2, 3]), np.array([0.0, 1, 2, 3]), 0.0, 2.0, 2)[1:]
    ([1, 2], (0, 3))
    """
    centres = (np.asarray(edges[:-1], np.float64) + np.asarray(edges[1:], np.float64)) / 2
    if display is not None:
        centres = display(centres)
    counts = np.asarray(counts, dtype=np.int64)
    below = int(counts[centres < lo].sum())
    above = int(counts[centres > hi].sum())
    inside = (centres >= lo) & (centres <= hi)
    span = hi - lo if hi > lo else 1.0
    k = np.clip(((centres[inside] - lo) / span * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(k, weights=counts[inside], minlength=bins).astype(np.int64), below, above


@lru_cache(maxsize=8)
def _stored(states: States, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(counts (H, B), lo (H,), width (H,))`` from the summaries, read once per activation; None without."""
    try:
        ranks = states.rank_histogram(name)
        if ranks is not None:
            return ranks["rank_hist"], ranks["rank_lo"], ranks["rank_width"]
        summary = states.summary(name)
    except StoreError:
        return None
    lo, hi = summary["hist_lo"].astype(np.float64), summary["hist_hi"].astype(np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return None
    return summary["hist"], lo, (hi - lo) / summary["hist"].shape[1]


def _scanned(states: States, name: str, unit: int) -> tuple[np.ndarray, np.ndarray]:
    """A histogram of one unit's finite values, counted in two passes over its column."""
    n = states.n_tokens
    low, high = np.inf, -np.inf
    for a in range(0, n, SCAN_ROWS):
        column = states.window(name, a, min(a + SCAN_ROWS, n), unit)
        column = column[np.isfinite(column)]
        if column.size:
            low, high = min(low, float(column.min())), max(high, float(column.max()))
    if not np.isfinite(low):
        return np.zeros(1, dtype=np.int64), np.array([0.0, 1.0])
    edges = np.linspace(low, high if high > low else low + 1.0, SCAN_BINS + 1)
    counts = np.zeros(SCAN_BINS, dtype=np.int64)
    for a in range(0, n, SCAN_ROWS):
        column = states.window(name, a, min(a + SCAN_ROWS, n), unit).astype(np.float64)
        counts += np.histogram(column[np.isfinite(column)], bins=edges)[0]
    return counts, edges
