"""Per-unit activation histograms: the rank transform behind streaming AUROC and Spearman.

AUROC and Spearman depend on the *ranks* of a unit's activations over the whole text, which a
stream cannot know before it ends. So every unit's activations are binned into ``bins``
equal-width bins over the unit's own range; a unit's rank of a value is then the mid-rank of its bin
(positions below the bin, plus half the bin). The extraction counts these histograms (format
1.2 ``rank_*`` summaries); for older files a first pass over the file does. With ranks known, the scoring pass
(:mod:`lstmviz.search.rank`) is a few matrix products per block.

The range of each unit is not known in advance either: it starts as the first block's range with
a margin and, when a later value falls outside, doubles its bin width (merging bins in pairs, or
more) until the new values fit. Merging is exact, so counts are never estimated; a unit ends with
between ``bins / 4`` and ``bins`` bins across its actual range.

Accuracy: two activations in the same bin count as tied. The AUROC error is at most half the share
of (inside, outside) pairs that share a bin; with the default 2048 bins it is below 1e-3 on real
activations (checked against exact ranks in ``tests/test_search.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_BINS = 2048
_MARGIN = 0.25  # fraction of the first block's range added on each side
_UNITS_AT_ONCE = 64  # units counted per bincount: 64 x 2048 counts (1 MB) fit in cache


def padded_bins(low: np.ndarray, high: np.ndarray, bins: int = DEFAULT_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Lower edge and width (H,) float64 of ``bins`` bins per unit covering [low, high] with a margin.

    The margin (2**-10 of the magnitudes) lets stored values that are float16 roundings of the
    summarised range still fit, and gives a constant unit a non-zero width.

    >>> lo, width = padded_bins(np.array([0.0]), np.array([1.0]), 4)
    >>> bool(lo[0] < 0 and lo[0] + 4 * width[0] > 1)
    True
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    pad = (np.abs(low) + np.abs(high)) * 2.0**-10 + 1e-6
    return low - pad, (high - low + 2 * pad) / bins


def bin_factors(lo: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(1 / width, -lo / width)``: bin of x is ``int(clip(x * inv + shift, 0, bins - 1))``.

    Extraction (:mod:`lstmviz.extraction.summarize`) and search both bin with exactly these factors
    and float32 arithmetic, so a stored histogram counts every value in the bin the search later
    looks it up in.
    """
    return (1.0 / width).astype(np.float32), (-lo / width).astype(np.float32)


@dataclass
class UnitHistograms:
    """Histograms of every unit of one activation (H units), filled block by block.

    Attributes:
        lo: (H,) float64, lower edge of bin 0 per unit.
        width: (H,) float64, bin width per unit.
        counts: (H, bins) int64.
        total: (H,) float64, sum of the activations (for the mean).
        n: positions seen.
        known_range: the ranges came from the extraction's summaries, so blocks are not checked.

    >>> h = UnitHistograms.empty(2, bins=8)
    >>> h.update(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], dtype=np.float32))
    >>> h.counts.sum(axis=1).tolist(), h.mean.tolist()
    ([3, 3], [1.0, 1.0])
    """

    lo: np.ndarray
    width: np.ndarray
    counts: np.ndarray
    total: np.ndarray
    n: int = 0
    known_range: bool = False

    @classmethod
    def empty(cls, n_units: int, bins: int = DEFAULT_BINS, *, low: np.ndarray | None = None,
              high: np.ndarray | None = None) -> UnitHistograms:
        """Histograms with no data yet, over [low, high] per unit when known (e.g. from summaries).

        Without a range the first :meth:`update` sets one from its block.
        """
        hist = cls(np.zeros(n_units), np.zeros(n_units), np.zeros((n_units, bins), np.int64),
                   np.zeros(n_units))
        if low is not None and high is not None:
            hist.lo, hist.width = padded_bins(low, high, bins)
            hist.known_range = True
        return hist

    @classmethod
    def stored(cls, counts: np.ndarray, lo: np.ndarray, width: np.ndarray, mean: np.ndarray,
               n: int) -> UnitHistograms:
        """Histograms the extraction already counted (format 1.2 ``rank_*`` summaries)."""
        counts = np.asarray(counts, np.int64)
        return cls(np.asarray(lo, np.float64), np.asarray(width, np.float64), counts,
                   np.asarray(mean, np.float64) * n, n, known_range=True)

    @property
    def bins(self) -> int:
        """Bins per unit."""
        return self.counts.shape[1]

    @property
    def mean(self) -> np.ndarray:
        """Mean activation per unit, (H,) float64."""
        return self.total / max(self.n, 1)

    def update(self, x: np.ndarray) -> None:
        """Add a block of activations (n, H) float32."""
        if len(x) == 0:
            return
        if not self.known_range:
            bmin = x.min(axis=0).astype(np.float64)
            bmax = x.max(axis=0).astype(np.float64)
            if self.n == 0:
                span = bmax - bmin
                span = np.where(span > 0, span, np.maximum(np.abs(bmin) * 1e-3, 1e-6))
                self.lo = bmin - _MARGIN * span
                self.width = span * (1 + 2 * _MARGIN) / self.bins
            hi = self.lo + self.bins * self.width
            for u in np.flatnonzero((bmin < self.lo) | (bmax >= hi)):
                self._grow(int(u), bmin[u], bmax[u])
        B = self.bins
        for a in range(0, x.shape[1], _UNITS_AT_ONCE):  # small counts arrays stay in cache
            b = min(a + _UNITS_AT_ONCE, x.shape[1])
            flat = self.flat_bins(x[:, a:b], units=slice(a, b))
            self.counts[a:b] += np.bincount(flat.ravel(), minlength=(b - a) * B).reshape(b - a, B)
        self.total += x.sum(axis=0, dtype=np.float64)
        self.n += len(x)

    def _grow(self, u: int, low: float, high: float) -> None:
        """Widen unit ``u``'s bins by a power of two so [low, high] fits, merging old bins exactly."""
        B, lo, w = self.bins, self.lo[u], self.width[u]
        below = max(0, math.ceil((lo - low) / w))  # old-width bins needed under the range
        above = max(B, math.ceil((high - lo) / w) + 1)  # ... from lo to just past ``high``
        need = below + above
        factor = 1 << max(1, math.ceil(math.log2(need / B)))
        shift = below + (B * factor - need) // 2  # old bins added below; slack split evenly
        new = (np.arange(B) + shift) // factor  # each old bin lies inside exactly one new bin
        self.counts[u] = np.bincount(new, weights=self.counts[u], minlength=B)[:B].round().astype(np.int64)
        self.lo[u] = lo - shift * w
        self.width[u] = w * factor

    def flat_bins(self, x: np.ndarray, units: slice = slice(None)) -> np.ndarray:
        """Bin of every value as a flat index ``unit * bins + bin``, (n, H) int64 (numpy's index type).

        ``x`` holds the columns ``units`` of the activation (all by default); indices count from
        the first of them. Float32 arithmetic, so a value within rounding of a bin edge may land in
        the neighbour; values outside the range go to the end bins.
        """
        B = self.bins
        inv, shift = bin_factors(self.lo[units], self.width[units])
        t = np.multiply(x, inv)
        t += shift
        np.clip(t, 0, B - 1, out=t)
        flat = t.astype(np.intp)
        flat += np.arange(0, B * len(inv), B, dtype=np.intp)
        return flat

    def rank_table(self) -> np.ndarray:
        """Mid-rank of each bin, centred and scaled: ``(rank - (N+1)/2) / N``, flat (H * bins,) float32.

        ``rank`` is 1-based over all N positions; a bin's mid-rank is the positions below it plus
        half of its own (ties share the average rank, as in the Mann-Whitney statistic).
        """
        n = max(self.n, 1)
        below = np.cumsum(self.counts, axis=1) - self.counts
        return ((below + self.counts / 2 - n / 2) / n).astype(np.float32).ravel()

    def rank_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Sum and sum of squares over all positions of the centred ranks of :meth:`rank_table`."""
        r = self.rank_table().reshape(self.counts.shape).astype(np.float64)
        return (self.counts * r).sum(axis=1), (self.counts * r * r).sum(axis=1)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for an ``.npz`` cache, keys prefixed with ``prefix``."""
        return {f"{prefix}/lo": self.lo, f"{prefix}/width": self.width, f"{prefix}/counts": self.counts,
                f"{prefix}/total": self.total, f"{prefix}/n": np.array(self.n)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> UnitHistograms:
        """Rebuild from :meth:`to_arrays` output (a dict or an open ``.npz``)."""
        return cls(arrays[f"{prefix}/lo"], arrays[f"{prefix}/width"], arrays[f"{prefix}/counts"],
                   arrays[f"{prefix}/total"], int(arrays[f"{prefix}/n"]))
