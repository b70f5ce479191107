"""Per-unit summaries of an activation, accumulated block by block in the extraction pass.

The dashboard's unit profiles (mean, spread, histogram, saturation, strongest contexts) would
otherwise need a pass over the whole file each time; computed once here, they open instantly.
Their shapes and allowed values are in the format's table (:data:`lstmviz.store.spec.SUMMARIES`);
this module (the only one of the summaries that needs torch) computes them.

Keys (each array indexed by unit first; see ``docs/file-format.md``):

* ``mean``, ``std`` (population), ``min``, ``max``: (H,) float64, accumulated in float64.
* ``hist``: (H, 50) int64 counts over ``[hist_lo, hist_hi]`` ((H,) each): the kind's value range
  (:mod:`lstmviz.kinds`: [-1, 1] for h and the g "gate", [0, 1] for the sigmoid gates i, f, o), or
  where it has none (c) each unit's own [min, max], which needs a second pass
  (:meth:`UnitSummary.update_hist`) once the range is known.
* ``sat_hi``, ``sat_lo``: (H,) fraction of positions saturated, by the kind's thresholds on its
  shown value (:attr:`lstmviz.kinds.Kind.saturation`, after Karpathy et al. (2015), "Visualizing
  and Understanding Recurrent Networks", section 4.2): gates >= 0.9 and < 0.1; h (and g) >= 0.9
  and < -0.9; c where tanh(c) >= 0.9 and < -0.9.
* ``top_pos``/``top_val`` and ``bottom_pos``/``bottom_val``: (H, 20) positions and values of the
  highest (lowest) activations, strongest first, at most one per 256-character segment so they show
  distinct contexts. A text shorter than 20 segments leaves position -1 and value NaN at the end.
* ``rank_hist``: (H, 2048) int64 counts of the *stored* values (after float16 rounding) in equal
  bins starting at ``rank_lo`` ((H,) float64), ``rank_width`` wide: the rank transform cell search
  needs (:mod:`lstmviz.search.histograms`), so a search reads the activations only once. Fixed ranges
  for h and the gates (counted in the main pass), each unit's padded [min, max] for c (counted in
  c's second pass). Values are binned with :func:`~lstmviz.search.histograms.bin_factors`, exactly as
  the search looks them up.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lstmviz.kinds import KINDS
from lstmviz.search.histograms import bin_factors, padded_bins
from lstmviz.store.spec import N_BINS, N_TOP, RANK_BINS, SEGMENT, SUMMARY_KEYS

_INVERSE = {"tanh": math.atanh}  # of each display function (lstmviz.kinds.Kind.display)
# Rows handled at once on CPU: ~8 MB of float32 at H = 512, so temporaries stay in cache and below
# the allocator's mmap threshold (measured: several times faster than whole 16k-row blocks).
_CPU_PIECE_ELEMENTS = 1 << 21


class UnitSummary:
    """Streaming per-unit statistics of one activation of H units.

    Call :meth:`update` with every block of rows (any order, positions aligned to
    :data:`SEGMENT`), then for c :meth:`update_hist` with every block again, then :meth:`result`.

    ``stored`` is the dtype the file keeps the activation in (float16 for h and gates by default):
    the rank histogram counts the values as stored, since those are what a search reads back.

    >>> s = UnitSummary("h", 2)
    >>> s.update(torch.tensor([[0.9375, -0.5], [0.5, -0.9375]]), 0)
    >>> r = s.result()
    >>> r["mean"].tolist(), r["sat_hi"].tolist(), r["top_pos"][0, :3].tolist()
    ([0.71875, -0.71875], [0.5, 0.0], [0, -1, -1])
    """

    def __init__(self, kind: str, n_units: int, device: str | torch.device = "cpu",
                 stored: torch.dtype = torch.float32):
        self.kind = kind
        self.H = n_units
        self.device = torch.device(device)
        row = KINDS[kind]
        self.range = row.value_range
        if self.range is not None:  # fine bins, summed to N_BINS, with the thresholds on bin edges
            self.fine, self.sat_bins = _saturation_bins(self.range, row.saturation)
        else:  # counted on the stored value: the thresholds through the inverse of the display function
            self.fine = N_BINS
            self.sat_cuts = tuple(_INVERSE[row.display](t) for t in row.saturation)
        dev, f64 = self.device, torch.float64
        self.n = 0
        self.shift: torch.Tensor | None = None  # first row; sums of (x - shift) avoid cancellation
        self.sum = torch.zeros(n_units, dtype=f64, device=dev)
        self.sumsq = torch.zeros(n_units, dtype=f64, device=dev)
        self.counts = torch.zeros(n_units * self.fine, dtype=torch.int64, device=dev)
        self.hi_count = torch.zeros(n_units, dtype=torch.int64, device=dev)
        self.lo_count = torch.zeros(n_units, dtype=torch.int64, device=dev)
        self.top_val = torch.empty(0, n_units, device=dev)
        self.top_pos = torch.empty(0, n_units, dtype=torch.int64, device=dev)
        self.bot_val = torch.empty(0, n_units, device=dev)
        self.bot_pos = torch.empty(0, n_units, dtype=torch.int64, device=dev)
        self.hist_range: tuple[torch.Tensor, torch.Tensor] | None = None
        self._unit_bins = torch.arange(n_units, dtype=torch.int32, device=dev) * self.fine
        self.stored = stored
        self.rank_counts = torch.zeros(n_units * RANK_BINS, dtype=torch.int64, device=dev)
        self._rank_unit_bins = torch.arange(n_units, dtype=torch.int32, device=dev) * RANK_BINS
        self.rank_edges: tuple[np.ndarray, np.ndarray] | None = None  # (lo, width) (H,) float64
        self._rank_factors: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.range is not None:
            lo, hi = self.range
            self._set_rank_edges(np.full(n_units, lo), np.full(n_units, (hi - lo) / RANK_BINS))

    def _pieces(self, x: torch.Tensor, starts: list[int]):
        """Cut (B, n, H) rows into pieces of whole segments: small on CPU, whole on GPU."""
        B, n, _ = x.shape
        if self.device.type != "cpu":
            rows = n
        else:
            rows = max(SEGMENT, _CPU_PIECE_ELEMENTS // max(1, B * self.H) // SEGMENT * SEGMENT)
        for a in range(0, n, rows):
            yield x[:, a : a + rows], [s + a for s in starts]

    @torch.no_grad()
    def update(self, x: torch.Tensor, starts: int | list[int]) -> None:
        """Add rows of float32 activations: (n, H) at positions [start, start + n), or (B, n, H).

        The batched form holds B streams of n rows, stream b at positions [starts[b], +n). Starts
        must be multiples of :data:`SEGMENT`, and with several streams so must n, so that segments
        never straddle two streams.
        """
        x = x.to(self.device)
        if x.dim() == 2:
            x = x[None]
        starts = [starts] if isinstance(starts, int) else list(starts)
        if any(s % SEGMENT for s in starts) or (len(starts) > 1 and x.shape[1] % SEGMENT):
            raise ValueError(f"blocks must start (and, batched, end) on multiples of {SEGMENT}")
        if self.shift is None:
            self.shift = x[0, 0].double()
        for piece, at in self._pieces(x, starts):
            flat = piece.reshape(-1, self.H)
            self._moments(flat)
            self._extremes(piece, at)
            if self.range is not None:
                self._histogram(flat, *self.range)
                self._rank_histogram(flat)
            else:
                self.hi_count += (flat >= self.sat_cuts[1]).sum(0)
                self.lo_count += (flat < self.sat_cuts[0]).sum(0)

    @torch.no_grad()
    def update_hist(self, x: torch.Tensor) -> None:
        """Second pass for c: histogram rows (n, H) over each unit's [min, max] from the first pass."""
        x = x.to(self.device)
        if self.hist_range is None:  # the extremes are kept sorted: row 0 is each unit's min / max
            self.hist_range = (self.bot_val[0], self.top_val[0])
            self._set_rank_edges(*padded_bins(self.hist_range[0].double().cpu().numpy(),
                                              self.hist_range[1].double().cpu().numpy(), RANK_BINS))
        lo, hi = self.hist_range
        for piece, _ in self._pieces(x[None], [0]):
            self._histogram(piece[0], lo, hi)
            self._rank_histogram(piece[0])

    def _set_rank_edges(self, lo: np.ndarray, width: np.ndarray) -> None:
        self.rank_edges = (lo, width)
        self._rank_factors = tuple(torch.from_numpy(f).to(self.device) for f in bin_factors(lo, width))

    def _rank_histogram(self, x: torch.Tensor) -> None:
        """Count rows (n, H) into the search's rank bins, in float32 exactly as it bins them."""
        if self.stored != torch.float32:
            x = x.to(self.stored).float()
        inv, shift = self._rank_factors
        t = torch.mul(x, inv).add_(shift)  # two roundings, as numpy's multiply then add
        idx = t.clamp_(0, RANK_BINS - 1).to(torch.int32).add_(self._rank_unit_bins)
        self.rank_counts += torch.bincount(idx.view(-1), minlength=self.H * RANK_BINS)

    def _moments(self, x: torch.Tensor) -> None:
        x64 = x.double().sub_(self.shift)  # (n, H)
        self.sum += x64.sum(0)
        self.sumsq += x64.mul_(x64).sum(0)
        self.n += x.shape[0]

    def _extremes(self, x: torch.Tensor, starts: list[int]) -> None:
        """Fold each segment's highest and lowest value (and where) into the kept extremes."""
        B, n, H = x.shape
        S = -(-n // SEGMENT)
        offsets = torch.arange(S, device=x.device) * SEGMENT
        base = (torch.tensor(starts, device=x.device)[:, None] + offsets).reshape(-1)  # (B*S,)
        for largest in (True, False):
            segments = _segments(x, S, -math.inf if largest else math.inf)  # (B*S, SEGMENT, H)
            best = segments.amax(dim=1) if largest else segments.amin(dim=1)  # (B*S, H)
            kept = (self.top_val, self.top_pos) if largest else (self.bot_val, self.bot_pos)
            merged = _keep(*kept, best, segments, base, largest)
            if largest:
                self.top_val, self.top_pos = merged
            else:
                self.bot_val, self.bot_pos = merged

    def _histogram(self, x: torch.Tensor, lo, hi) -> None:
        """Count x into ``self.fine`` bins per unit over [lo, hi] (scalars or (H,) tensors)."""
        if isinstance(lo, float):
            scale = self.fine / (hi - lo)
            b = torch.mul(x, scale).sub_(lo * scale)  # (n, H) fractional bin index
        else:
            scale = self.fine / torch.where(hi > lo, hi - lo, torch.ones_like(lo))
            b = torch.addcmul(-lo * scale, x, scale)
        # a range narrower than float32 can divide (a c that never moves) makes inf * 0 = NaN: bin 0
        b.nan_to_num_(nan=0.0, posinf=self.fine - 1, neginf=0.0)
        idx = b.clamp_(0, self.fine - 1).to(torch.int32).add_(self._unit_bins)
        self.counts += torch.bincount(idx.view(-1), minlength=self.H * self.fine)

    @torch.no_grad()
    def result(self) -> dict[str, np.ndarray]:
        """The summary arrays, on the CPU as numpy."""
        n = max(self.n, 1)
        mean_s = self.sum / n
        var = (self.sumsq / n - mean_s * mean_s).clamp(min=0)
        shift = self.shift if self.shift is not None else torch.zeros_like(self.sum)
        counts = self.counts.view(self.H, self.fine)
        if self.range is not None:
            lo, hi = (torch.full((self.H,), v, dtype=torch.float64) for v in self.range)
            low, high = self.sat_bins
            sat_lo, sat_hi = counts[:, :low].sum(1), counts[:, high:].sum(1)
        else:
            lo, hi = (r.double() for r in self.hist_range) if self.hist_range else (shift, shift)
            sat_lo, sat_hi = self.lo_count, self.hi_count
        hist = counts.view(self.H, N_BINS, -1).sum(-1)
        top_pos, top_val = _padded(self.top_pos, self.top_val)
        bot_pos, bot_val = _padded(self.bot_pos, self.bot_val)
        out = {
            "mean": mean_s + shift,
            "std": var.sqrt(),
            "min": bot_val[:, 0].double() if len(self.bot_val) else lo,
            "max": top_val[:, 0].double() if len(self.top_val) else hi,
            "hist": hist,
            "hist_lo": lo,
            "hist_hi": hi,
            "sat_hi": sat_hi.double() / n,
            "sat_lo": sat_lo.double() / n,
            "top_pos": top_pos,
            "top_val": top_val,
            "bottom_pos": bot_pos,
            "bottom_val": bot_val,
        }
        arrays = {k: out[k].cpu().numpy() for k in SUMMARY_KEYS}
        if self.rank_edges is not None:
            arrays["rank_hist"] = self.rank_counts.view(self.H, RANK_BINS).cpu().numpy()
            arrays["rank_lo"], arrays["rank_width"] = self.rank_edges
        return arrays


def _saturation_bins(span: tuple[float, float],
                     thresholds: tuple[float, float]) -> tuple[int, tuple[int, int]]:
    """Fine bins over ``span`` whose edges hold both saturation thresholds: (bins, (low, high)).

    Values in the ``low`` first bins lie below the low threshold, those from bin ``high`` on at or
    above the high one. The fewest bins that are a multiple of :data:`N_BINS` are used.

    >>> _saturation_bins((-1.0, 1.0), (-0.9, 0.9)), _saturation_bins((0.0, 1.0), (0.1, 0.9))
    ((100, (5, 95)), (50, (5, 45)))
    """
    lo, hi = span
    for fine in range(N_BINS, 11 * N_BINS, N_BINS):
        edges = [(t - lo) / (hi - lo) * fine for t in thresholds]
        if all(abs(e - round(e)) < 1e-9 for e in edges):
            return fine, (round(edges[0]), round(edges[1]))
    raise ValueError(f"saturation thresholds {thresholds} fall on no bin edge of {span}")


def _segments(x: torch.Tensor, S: int, fill: float) -> torch.Tensor:
    """Rows (B, n, H) as (B*S, SEGMENT, H), a last short segment padded with ``fill``."""
    B, n, H = x.shape
    if S * SEGMENT != n:
        x = torch.cat([x, x.new_full((B, S * SEGMENT - n, H), fill)], dim=1)
    return x.reshape(B * S, SEGMENT, H)


def _keep(val: torch.Tensor, pos: torch.Tensor, new_val: torch.Tensor, segments: torch.Tensor,
          base: torch.Tensor, largest: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge segment extremes (S, H) into the best N_TOP (K, H), strongest first, with positions.

    Where in its segment a value lies is looked up only for the segments that make it into the
    best N_TOP: a reduction that also returns indices costs over ten times one that does not.
    """
    n_old = val.shape[0]
    k = min(N_TOP, n_old + new_val.shape[0])
    best, idx = torch.cat([val, new_val]).topk(k, dim=0, largest=largest)
    out = pos.gather(0, idx.clamp(max=max(n_old - 1, 0))) if n_old else torch.empty_like(idx)
    rows, units = torch.nonzero(idx >= n_old, as_tuple=True)
    seg = idx[rows, units] - n_old
    values = segments[seg, :, units]  # (m, SEGMENT): each new winner's segment, its unit only
    within = values.argmax(dim=1) if largest else values.argmin(dim=1)
    out[rows, units] = base[seg] + within
    return best, out


def _padded(pos: torch.Tensor, val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, H) -> (H, N_TOP): fewer than N_TOP segments leave position -1 and value NaN."""
    missing = N_TOP - pos.shape[0]
    H = pos.shape[1]
    pos = torch.cat([pos, pos.new_full((missing, H), -1)])
    val = torch.cat([val.float(), val.new_full((missing, H), math.nan, dtype=torch.float32)])
    return pos.T.contiguous(), val.T.contiguous()
