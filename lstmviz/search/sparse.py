"""Your own pattern, fast: binary hypotheses scored on the few rows where they hold their rarer value.

A binary hypothesis' statistics (:func:`lstmviz.search.scoring.binary_stats`) need, besides each
unit's totals over the whole text, only sums over the positions inside it: of centred ranks
(AUROC) and of activations (point-biserial, the means). Where "inside" is the majority, the sums
over the positions outside serve as well: the totals minus them. So the rows a hypothesis needs
are those of its rarer side, and of the same side of its shifted copies (the chance level): for a
pattern true at 3 % of the text, about 14 % of the rows, where the full pass
(:func:`lstmviz.search.scoring.score_activations`) turns every row into ranks. Turning rows into
ranks is what a pass spends its time on (the read of the file is a fraction of it), so the cost
falls with the share of rows.

The totals per unit are the sum of centred ranks (exact, from the rank histograms) and the sums
of ``x - mu`` and of its square: a full pass reports them (:class:`~lstmviz.search.scoring.Moments`)
and the caller keeps them in the result cache; where they are missing, this pass adds them up
from every block as read, which costs a float32 conversion and two sums per activation, not a
rank look-up.

Results equal the full pass's up to the order of float32 sums (``tests/test_search_sparse.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from lstmviz.devices import full_float32
from lstmviz.search.histograms import UnitHistograms
from lstmviz.search.scoring import Moments, Prepared, ProgressBar, UnitRanks, Workspace, binary_stats
from lstmviz.store.reader import States

# Above this share of the rows, the full pass costs no more: ranking a row costs the same in both
# passes, and this one also gathers its rows. Measured on the demo's file (120k x 1,536 units, one
# thread): 0.45 s CPU of fixed costs (the read, the histograms) plus about 1.5 s per share of rows
# ranked, against 1.8-2.0 s for the full pass of one pattern.
SPARSE_SHARE = 0.8


class Rarer:
    """Which rows a set of binary hypotheses needs, and each one's rarer side.

    Attributes:
        rows: the positions to rank, sorted (int64).
        sides: per hypothesis, its rarer side as 0/1 bytes over the text.
        flipped: per hypothesis, whether the rarer side is outside (inside is the majority).
        shifts: the offsets of the copies, 0 (the hypothesis itself) first.
    """

    def __init__(self, prepared: list[Prepared], offsets: list[int], N: int):
        self.N = N
        self.shifts = [0, *offsets]
        self.flipped = [2 * p.n_inside > N for p in prepared]
        self.sides = [p.inside ^ np.uint8(f) for p, f in zip(prepared, self.flipped, strict=True)]
        at = [np.flatnonzero(side) for side in self.sides]
        # copy j holds at row t the hypothesis at t + shift: its rarer rows are (s - shift) mod N
        self.rows = np.unique(np.concatenate([(s - o) % N for s in at for o in self.shifts]
                                             or [np.zeros(0, np.int64)]))

    @property
    def share(self) -> float:
        """The share of all rows this pass ranks."""
        return len(self.rows) / max(self.N, 1)

    def columns(self, rows: np.ndarray) -> np.ndarray:
        """(m, K) float32: per hypothesis and copy, its rarer side at these rows (K = hyps x copies)."""
        out = np.empty((len(rows), len(self.sides) * len(self.shifts)), np.float32)
        k = 0
        for side in self.sides:
            for o in self.shifts:
                out[:, k] = side[(rows + o) % self.N]
                k += 1
        return out


def score_rarer(
    states: States, names: list[str], hists: dict[str, UnitHistograms], prepared: list[Prepared],
    rarer: Rarer, moments: dict[str, Moments], rows: int, bar: ProgressBar, device: torch.device,
) -> tuple[dict[str, list[dict[str, np.ndarray]]], dict[str, Moments]]:
    """The sparse pass: statistics of every unit for ``prepared`` (binary), as the full pass gives them.

    ``moments`` holds the totals already known (activations missing from it get theirs added up
    here). Returns the statistics per activation (a list in ``prepared`` order) and every
    activation's totals.
    """
    N = states.n_tokens
    work = Workspace(states.n_hidden, rows, device)
    K = len(rarer.sides) * len(rarer.shifts)
    spans = [(name, a, min(a + rows, N)) for a in range(0, N, rows) for name in names]
    cuts = np.searchsorted(rarer.rows, np.arange(0, N + rows, rows))
    ranks = {name: UnitRanks(hists[name], device) for name in names}
    need = [name for name in names if not _fits(moments.get(name), ranks[name])]
    gx = {name: torch.zeros(states.n_hidden, len(rarer.sides), dtype=torch.float64, device=device)
          for name in names}
    gr = {name: torch.zeros(states.n_hidden, K, dtype=torch.float64, device=device) for name in names}
    totals = {name: [torch.zeros(states.n_hidden, dtype=torch.float64, device=device) for _ in "xx"]
              for name in need}
    copy0 = torch.arange(0, K, len(rarer.shifts), device=device)  # the hypotheses themselves
    rows_first = torch.empty(work.rows, states.n_hidden, device=device) if need else None
    with torch.no_grad(), full_float32():
        for (name, a, b), block in states.read_ahead(spans, allocate=np.empty):
            if name in totals and not _add_totals(torch.from_numpy(block).to(device), ranks[name],
                                                  totals[name], rows_first):
                raise states.nonfinite_error(name, block, a)
            k = a // rows
            at = rarer.rows[cuts[k] : cuts[k + 1]]
            if len(at):
                z = torch.from_numpy(rarer.columns(at)).to(device)
                chosen = torch.from_numpy(block[at - a]).to(device)
                for i in range(0, len(at), work.rows):
                    ranked = ranks[name].piece(chosen[i : i + work.rows], work)
                    if ranked is None:
                        raise states.nonfinite_error(name, block, a)
                    x, r = ranked
                    piece = z[i : i + work.rows]
                    gx[name] += x @ piece[:, copy0]
                    gr[name] += r @ piece
            bar.update(b - a)
    moments = {**moments, **{name: ranks[name].moments(*totals[name]) for name in need}}
    stats = {name: _statistics(prepared, rarer, ranks[name], moments[name], gx[name].cpu().numpy(),
                               gr[name].cpu().numpy(), N) for name in names}
    return stats, {name: moments[name] for name in names}


def _fits(found: Moments | None, ranks: UnitRanks) -> bool:
    """Whether cached totals were summed around the centre this pass uses."""
    return found is not None and np.array_equal(found["mu"], ranks.mu[:, 0].cpu().numpy())


def _add_totals(block: torch.Tensor, ranks: UnitRanks, totals: list[torch.Tensor],
                buffer: torch.Tensor) -> bool:
    """Add a block's sums of (x - mu) and its square, piece by piece in float32 as the full pass does.

    The pieces stay rows first (no rank look-up needs them units first): half the cost of a
    transposing copy. False at a piece holding NaN or infinity (its sums are not finite).
    """
    sx, sxx = totals
    centre = ranks.mu[:, 0]
    for i in range(0, len(block), len(buffer)):
        x = buffer[: min(len(buffer), len(block) - i)]
        x.copy_(block[i : i + len(buffer)]).sub_(centre)
        s = x.sum(0)
        ss = (x * x).sum(0)
        if not (torch.isfinite(s).all() and torch.isfinite(ss).all()):
            return False
        sx += s
        sxx += ss
    return True


def _statistics(prepared: list[Prepared], rarer: Rarer, ranks: UnitRanks, moments: Moments,
                gx: np.ndarray, gr: np.ndarray, N: int) -> list[dict[str, np.ndarray]]:
    """Each hypothesis' statistics, from the sums over its rarer side and the totals."""
    sx = moments["sx"]
    sd_x = ranks.spread(moments, N)
    r_total = ranks.hist.rank_moments()[0]
    mu = moments["mu"].astype(np.float64)
    copies = len(rarer.shifts)
    out = []
    for k, (p, flipped) in enumerate(zip(prepared, rarer.flipped, strict=True)):
        x_in = gx[:, k]
        r_in = gr[:, k * copies : (k + 1) * copies]
        if flipped:  # the sums were over the positions outside
            x_in = sx - x_in
            r_in = r_total[:, None] - r_in
        at = {"x": 1, "r": 0, "r_null": list(range(1, copies))}
        out.append(binary_stats(p, at, np.stack([sx, x_in], axis=1), r_in, sd_x, mu, N))
    return out
