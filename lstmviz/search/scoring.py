"""The scoring pass of cell search: per block, two matrix products; at the end, every statistic.

Each block of activations X (n, H) is centred, and turned into centred mid-ranks R through the
per-unit histograms (:mod:`lstmviz.search.histograms`). Then ``X^T Zx`` and ``R^T Zr`` accumulate, in
float64, every sum the statistics need, for all hypotheses at once: ``Zx`` holds a column of ones,
the binary hypotheses and the centred numeric ones (with their shifted copies), ``Zr`` the binary
hypotheses (with their shifted copies) and the ranks of the numeric ones. See
:mod:`lstmviz.search.rank` for what the statistics mean.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from lstmviz.devices import full_float32
from lstmviz.progress import progress_bar
from lstmviz.search.histograms import UnitHistograms, bin_factors
from lstmviz.search.hypotheses import Hypothesis
from lstmviz.store.reader import States
from lstmviz.store.spec import CHUNK_ROWS

DEFAULT_SHIFTS = 4
BLOCK_ROWS = 4 * CHUNK_ROWS
Progress = bool | Callable[[int, int], None]
# On the CPU: rows scored at once (buffers of 8 MB at H = 512), and units whose rank tables (8 kB
# each) are looked up together so that they stay in a core's cache. Measured on 200k x 3 x 512:
# 3.0 s, and 3-6 % slower with 2,048 or 8,192 rows, or 64 or 256 units; 3.3 s with whole 16k-row
# blocks. A GPU takes whole blocks and all units at once: fewer kernel launches.
PIECE_ROWS = 4096
_UNITS_AT_ONCE = 128


def symbol_codes(symbols: str) -> np.ndarray:
    """Each position's symbol as a number in 0..K-1 (K distinct symbols), for sums per symbol.

    >>> symbol_codes("abca").tolist()
    [0, 1, 2, 0]
    """
    return np.unique(np.frombuffer(symbols.encode("utf-32-le"), dtype=np.uint32), return_inverse=True)[1]


def local_baseline(codes: np.ndarray, values: np.ndarray, binary: bool) -> float:
    """Score of the best guess of ``values`` from the current symbol alone (in-sample).

    The guess at each position is the hypothesis' mean over all positions holding the same symbol;
    its score is measured like a unit's: max(AUROC, 1 - AUROC), or |Pearson r|. A guess takes one
    value per symbol, so its ranks come from sums per symbol, not from sorting the text.

    >>> round(local_baseline(symbol_codes("abab"), np.array([0, 1, 0, 0], np.float32), True), 3)
    0.833
    """
    counts = np.bincount(codes)
    guess = np.bincount(codes, weights=values) / counts  # per symbol
    if binary:
        inside = np.bincount(codes, weights=values > 0)
        n1 = int(inside.sum())
        n0 = len(codes) - n1
        level = np.unique(guess, return_inverse=True)[1]  # symbols with equal guesses tie
        n_at, in_at = np.bincount(level, weights=counts), np.bincount(level, weights=inside)
        mid = np.cumsum(n_at) - (n_at - 1) / 2  # 1-based mid-rank of each guess
        auroc = ((mid * in_at).sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
        return float(max(auroc, 1 - auroc))
    if np.ptp(guess) == 0:
        return 0.0
    return float(abs(np.corrcoef(guess[codes], values.astype(np.float64))[0, 1]))


class Prepared:
    """A hypothesis over the whole text, reduced to what scoring reads from it.

    The columns are held for the whole pass, so each keeps only what its matrices need, in the
    smallest exact dtype: a binary hypothesis as 0/1 bytes, a numeric one centred and as ranks
    (float32): 1 or 8 bytes per position.
    """

    def __init__(self, hyp: Hypothesis, values: np.ndarray, codes: np.ndarray):
        self.hyp = hyp
        N = len(values)
        self.local = local_baseline(codes, values, hyp.binary)
        if hyp.binary:
            self.inside = (values > 0).astype(np.uint8)
            self.n_inside = int(self.inside.sum(dtype=np.int64))
            return
        self.n_inside = 0
        v64 = values.astype(np.float64)
        self.centred = (v64 - v64.mean()).astype(np.float32)
        del v64
        self.sum_c = float(self.centred.sum(dtype=np.float64))
        self.var = float(_sum_of_squares(self.centred) / N - (self.sum_c / N) ** 2)
        _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
        mid = np.cumsum(counts) - counts + (counts + 1) / 2  # 1-based mid-ranks of the values
        self.ranks = ((mid - (N + 1) / 2) / N).astype(np.float32)[inverse]
        self.rank_sum = float(self.ranks.sum(dtype=np.float64))
        self.rank_var = float(_sum_of_squares(self.ranks) / N - (self.rank_sum / N) ** 2)


def _sum_of_squares(x: np.ndarray) -> float:
    """Sum of squares of a float32 vector, accumulated in float64 without a float64 copy."""
    return float(np.einsum("i,i->", x, x, dtype=np.float64))


class Columns:
    """The two matrices every block of activations is multiplied with.

    ``X`` (centred activations) meets: a column of ones, each binary hypothesis (0/1), each
    numeric hypothesis centred, and each numeric one's shifted copies. ``R`` (centred mid-ranks)
    meets: each binary hypothesis, each numeric one's ranks, and each binary one's shifted copies.
    """

    def __init__(self, prepared: list[Prepared], offsets: list[int], N: int):
        self.N = N
        self.offsets = offsets
        self.x_src: list[tuple[np.ndarray | None, int]] = [(None, 0)]  # (source, shift); None = ones
        self.r_src: list[tuple[np.ndarray, int]] = []
        self.index = []  # per prepared: where its columns are
        for p in prepared:
            if p.hyp.binary:
                entry = {"x": len(self.x_src), "r": len(self.r_src)}
                self.x_src.append((p.inside, 0))
                self.r_src.append((p.inside, 0))
                entry["r_null"] = list(range(len(self.r_src), len(self.r_src) + len(offsets)))
                self.r_src += [(p.inside, s) for s in offsets]
            else:
                entry = {"x": len(self.x_src), "r": len(self.r_src)}
                self.x_src.append((p.centred, 0))
                self.r_src.append((p.ranks, 0))
                entry["x_null"] = list(range(len(self.x_src), len(self.x_src) + len(offsets)))
                self.x_src += [(p.centred, s) for s in offsets]
            self.index.append((p, entry))

    def _slice(self, src: np.ndarray, shift: int, a: int, b: int) -> np.ndarray:
        a2, b2 = (a + shift) % self.N, (a + shift) % self.N + (b - a)
        if b2 <= self.N:
            return src[a2:b2]
        return np.concatenate([src[a2:], src[: b2 - self.N]])

    def block(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, Kx) and (n, Kr) float32 matrices for positions [a, b)."""
        zx = np.empty((b - a, len(self.x_src)), np.float32)
        for k, (src, shift) in enumerate(self.x_src):
            zx[:, k] = 1.0 if src is None else self._slice(src, shift, a, b)
        zr = np.empty((b - a, len(self.r_src)), np.float32)
        for k, (src, shift) in enumerate(self.r_src):
            zr[:, k] = self._slice(src, shift, a, b)
        return zx, zr


Moments = dict[str, np.ndarray]  # an activation's totals: "mu" (the centre), "sx", "sxx" per unit


def score_activations(
    states: States, names: list[str], hists: dict[str, UnitHistograms], columns: Columns, rows: int,
    bar: ProgressBar, device: torch.device,
) -> tuple[dict[str, list[dict[str, np.ndarray]]], dict[str, Moments]]:
    """The scoring pass: sums per block for every activation, then per hypothesis its statistics.

    Blocks are read one ahead in a background thread while torch scores the current one, so the
    two overlap: on CPU cores the read hides behind the arithmetic, on a GPU the arithmetic behind
    the read. Both devices bin and rank identically; only the order of float32 sums differs.

    Returns the statistics per activation (a list in ``columns.index`` order) and each
    activation's totals (:meth:`UnitRanks.moments`), which spare a later sparse pass
    (:mod:`lstmviz.search.sparse`) a look at every row.
    """
    N = states.n_tokens
    work = Workspace(states.n_hidden, rows, device)
    sums = {name: _Sums(hists[name], columns, device) for name in names}
    spans = [(name, a, min(a + rows, N)) for a in range(0, N, rows) for name in names]
    allocate = np.empty if device.type == "cpu" else _pinned  # pinned: copies to the GPU at full speed
    at = None
    with torch.no_grad(), full_float32():
        for (name, a, b), block in states.read_ahead(spans, allocate=allocate):
            if at != a:  # the column matrices serve every activation of the block
                zx, zr = (torch.from_numpy(z).to(device) for z in columns.block(a, b))
                at = a
            if not sums[name].add(torch.from_numpy(block).to(device), zx, zr, work):
                raise states.nonfinite_error(name, block, a)
            bar.update(b - a)
    return ({name: sums[name].statistics(columns, N) for name in names},
            {name: sums[name].ranks.moments(sums[name].gx[:, 0], sums[name].sxx) for name in names})


def _pinned(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array in page-locked memory, which the GPU copies from directly."""
    return torch.from_numpy(np.empty(shape, dtype)).pin_memory().numpy()


class Workspace:
    """Buffers for one piece of rows, units first, reused by every activation and block."""

    def __init__(self, n_units: int, block_rows: int, device: torch.device):
        on_cpu = device.type == "cpu"
        self.rows = PIECE_ROWS if on_cpu else block_rows
        self.units_at_once = _UNITS_AT_ONCE if on_cpu else n_units
        self.x = torch.empty(n_units, self.rows, device=device)
        self.bins = torch.empty(n_units, self.rows, device=device)
        self.index = torch.empty(n_units, self.rows, dtype=torch.int64, device=device)
        self.ranks = torch.empty(n_units, self.rows, device=device)


class UnitRanks:
    """One activation's rank look-up: each piece of rows, binned and turned into centred mid-ranks.

    Each piece of rows (on a GPU, the whole block) is copied units-first (float32) so that the
    rank look-up gathers from one unit's table row at a time, a few units at once, while their
    tables stay in cache.
    """

    def __init__(self, hist: UnitHistograms, device: torch.device):
        H, self.hist = len(hist.lo), hist
        self.mu = torch.from_numpy(hist.mean.astype(np.float32))[:, None].to(device)
        self.table = torch.from_numpy(hist.rank_table()).view(H, hist.bins).to(device)
        self.inv, self.shift = (torch.from_numpy(f)[:, None].to(device)
                                for f in bin_factors(hist.lo, hist.width))

    def piece(self, rows: torch.Tensor, work: Workspace) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Rows (n, H) as stored, n <= ``work.rows``: (x - mu, centred ranks), both (H, n) float32.

        None at a piece holding NaN or infinity: its bins would be no index. The check is a min
        and max of the piece while it is in cache, about half the cost of checking the block as
        read. The results live in ``work``'s buffers, valid until the next piece.
        """
        n, H = rows.shape
        x, bins, index, ranks = (buf[:, :n] for buf in (work.x, work.bins, work.index, work.ranks))
        x.copy_(rows.T)
        lowest, highest = torch.aminmax(x)  # NaN, if any, is both
        if not (lowest.isfinite() & highest.isfinite()):
            return None
        torch.mul(x, self.inv, out=bins).add_(self.shift).clamp_(0, self.hist.bins - 1)
        index.copy_(bins)  # truncation: the bin, as the extraction counted it
        for u in range(0, H, work.units_at_once):
            v = slice(u, u + work.units_at_once)
            torch.gather(self.table[v], 1, index[v], out=ranks[v])
        return x.sub_(self.mu), ranks

    def moments(self, sx: torch.Tensor, sxx: torch.Tensor) -> Moments:
        """The totals of the activation as :data:`Moments`: sums of (x - mu) and of its square."""
        return {"mu": self.mu[:, 0].cpu().numpy(), "sx": sx.cpu().numpy(), "sxx": sxx.cpu().numpy()}

    def spread(self, moments: Moments, N: int) -> np.ndarray:
        """Each unit's standard deviation over the whole text, from its totals."""
        sx = moments["sx"]
        return np.sqrt(np.maximum(moments["sxx"] / N - (sx / N) ** 2, 0))


class _Sums:
    """Running sums of one activation against the column matrices, totals in float64."""

    def __init__(self, hist: UnitHistograms, columns: Columns, device: torch.device):
        H = len(hist.lo)
        self.ranks = UnitRanks(hist, device)
        self.gx = torch.zeros(H, len(columns.x_src), dtype=torch.float64, device=device)
        self.gr = torch.zeros(H, len(columns.r_src), dtype=torch.float64, device=device)
        self.sxx = torch.zeros(H, dtype=torch.float64, device=device)

    def add(self, block: torch.Tensor, zx: torch.Tensor, zr: torch.Tensor, work: Workspace) -> bool:
        """Add a block of activations (n, H), as stored, with its column matrices (n, K).

        Returns False, leaving the sums void, at a piece holding NaN or infinity.
        """
        for i in range(0, len(block), work.rows):
            n = min(work.rows, len(block) - i)
            ranked = self.ranks.piece(block[i : i + n], work)
            if ranked is None:
                return False
            x, ranks = ranked
            self.gx += x @ zx[i : i + n]
            self.gr += ranks @ zr[i : i + n]
            self.sxx += x.square().sum(1)
        return True

    def statistics(self, columns: Columns, N: int) -> list[dict[str, np.ndarray]]:
        """Per hypothesis (in ``columns.index`` order) its statistics of every unit."""
        gx, gr = self.gx.cpu().numpy(), self.gr.cpu().numpy()
        sd_x = self.ranks.spread({"sx": gx[:, 0], "sxx": self.sxx.cpu().numpy()}, N)
        hist = self.ranks.hist
        r_sum, r_sq = hist.rank_moments()
        sd_r = np.sqrt(np.maximum(r_sq / N - (r_sum / N) ** 2, 0))
        mu = self.ranks.mu[:, 0].cpu().numpy().astype(np.float64)  # the exact centre: sums of (x - mu)
        results = []
        for p, at in columns.index:
            if p.hyp.binary:
                results.append(binary_stats(p, at, gx, gr, sd_x, mu, N))
            else:
                results.append(_numeric_stats(p, at, gx, gr, sd_x, r_sum, sd_r, mu, N))
        return results


def _auroc(rank_sum_inside: np.ndarray, n1: int, N: int) -> np.ndarray:
    """AUROC from the sum over inside positions of centred mid-ranks ``(R - (N+1)/2) / N``.

    Clipped to [0, 1]: float32 sums can step past a perfect score by ~1e-8 on tiny texts.
    """
    n0 = N - n1
    R1 = N * rank_sum_inside + n1 * (N + 1) / 2  # sum of 1-based mid-ranks inside
    return np.clip((R1 - n1 * (n1 + 1) / 2) / (n1 * n0), 0.0, 1.0)


def _correlation(cov: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``cov / sd`` in [-1, 1] (rounding can step past a perfect correlation); 0 where ``sd`` is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(sd > 0, cov / np.where(sd > 0, sd, 1), 0.0), -1.0, 1.0)


def binary_stats(p: Prepared, at: dict, gx: np.ndarray, gr: np.ndarray, sd_x: np.ndarray,
                 mu: np.ndarray, N: int) -> dict[str, np.ndarray]:
    """A binary hypothesis' statistics of every unit from the sums of a pass.

    ``gx[:, 0]`` is each unit's sum of (x - mu), ``gx[:, at["x"]]`` that sum inside,
    ``gr[:, at["r"]]`` the sum of centred ranks inside and ``gr[:, k]`` for ``k`` in
    ``at["r_null"]`` the same for each shifted copy.
    """
    sx = gx[:, 0]  # sum of (x - mu) over all positions
    n1 = p.n_inside
    n0 = N - n1
    s1 = gx[:, at["x"]]  # sum of (x - mu) inside
    auroc = _auroc(gr[:, at["r"]], n1, N)
    nulls = [_auroc(gr[:, k], n1, N) for k in at["r_null"]]
    q = n1 / N
    cov = s1 / N - (sx / N) * q
    return {
        "score": np.maximum(auroc, 1 - auroc),
        "null": np.max([np.maximum(a, 1 - a) for a in nulls], axis=0),
        "auroc": auroc,
        "point_biserial": _correlation(cov, sd_x * np.sqrt(q * (1 - q))),
        "mean_in": mu + s1 / n1,
        "mean_out": mu + (sx - s1) / n0,
    }


def _numeric_stats(p: Prepared, at: dict, gx: np.ndarray, gr: np.ndarray, sd_x: np.ndarray,
                   r_sum: np.ndarray, sd_r: np.ndarray, mu: np.ndarray, N: int) -> dict[str, np.ndarray]:
    sx = gx[:, 0]
    def covariance(col: int) -> np.ndarray:
        return gx[:, col] / N - (sx / N) * (p.sum_c / N)

    def pearson(col: int) -> np.ndarray:
        return _correlation(covariance(col), sd_x * np.sqrt(p.var))

    r = pearson(at["x"])
    cov = covariance(at["x"])
    rank_cov = gr[:, at["r"]] / N - (r_sum / N) * (p.rank_sum / N)
    return {
        "score": np.abs(r),
        "null": np.max([np.abs(pearson(k)) for k in at["x_null"]], axis=0),
        "pearson": r,
        "spearman": _correlation(rank_cov, sd_r * np.sqrt(p.rank_var)),
        "slope": cov / p.var,
        "mean": mu + sx / N,
    }


class ProgressBar:
    """Progress to a tqdm bar on stderr, to a callback ``(done, total)``, or nowhere."""

    def __init__(self, progress: Progress, total: int, desc: str):
        self.total, self.done, self.callback, self.tqdm = total, 0, None, None
        if callable(progress):
            self.callback = progress
        elif progress:
            self.tqdm = progress_bar(total=total, desc=desc, unit="pos", unit_scale=True, leave=False)

    def update(self, n: int) -> None:
        """Record ``n`` more positions done."""
        self.done += n
        if self.tqdm is not None:
            self.tqdm.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        """Remove the bar."""
        if self.tqdm is not None:
            self.tqdm.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # also when a read fails: the error then starts on a line of its own
