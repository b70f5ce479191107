"""Streaming cross-moments of two extractions over the same positions: correlations and CKA from sums.

Matching units (:mod:`~lstmviz.evolution.matching`) needs the correlation of every unit of one
model with every unit of another, and comparing layers (:mod:`~lstmviz.evolution.similarity`) the
covariance matrices within and between layers. Both follow from running sums over the positions
(of x, of y, of x xᵀ within a layer and of x yᵀ across the two models), so the activations are read
block by block (:meth:`~lstmviz.store.reader.States.blocks`) and never held whole: memory is the
sums (units squared) and one block, whatever the length of the text.

Each side is shifted by its mean over the first block before it is summed, so the sums stay small
and the covariances keep their precision in float64 (the textbook one-pass formula loses digits
when the mean is large against the spread).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmviz.errors import StoreError
from lstmviz.names import act_name
from lstmviz.progress import progress_bar
from lstmviz.store.reader import States

BLOCK_ROWS = 8192  # positions read at once from each file


class CrossMoments:
    """Running sums of two groups of activations (``a`` and ``b``), each a list of layers (n, H_l).

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(500, 3)); y = x[:, ::-1] * 2 + 1
    >>> m = CrossMoments([3], [3]); m.add([x[:200]], [y[:200]]); m.add([x[200:]], [y[200:]])
    >>> np.round(np.diag(m.correlation(0, 0)[:, ::-1]), 6).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, units_a: Sequence[int], units_b: Sequence[int]):
        self.units_a, self.units_b = list(units_a), list(units_b)
        self.at_a = np.concatenate([[0], np.cumsum(self.units_a)]).astype(int)
        self.at_b = np.concatenate([[0], np.cumsum(self.units_b)]).astype(int)
        self.n = 0
        self.shift_a: np.ndarray | None = None  # (sum H_a,) the first block's means
        self.shift_b: np.ndarray | None = None
        self.sa = np.zeros(self.at_a[-1])
        self.sb = np.zeros(self.at_b[-1])
        self.saa = [np.zeros((h, h)) for h in self.units_a]
        self.sbb = [np.zeros((h, h)) for h in self.units_b]
        self.sab = np.zeros((self.at_a[-1], self.at_b[-1]))

    def add(self, a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> None:
        """Add a block of positions: one (n, H_l) array per layer of each side, the same n."""
        x = np.concatenate([np.asarray(v, np.float64) for v in a], axis=1)  # (n, sum H_a)
        y = np.concatenate([np.asarray(v, np.float64) for v in b], axis=1)  # (n, sum H_b)
        if self.shift_a is None:
            self.shift_a, self.shift_b = x.mean(0), y.mean(0)
        x -= self.shift_a
        y -= self.shift_b
        self.n += len(x)
        self.sa += x.sum(0)
        self.sb += y.sum(0)
        for layer, sums in enumerate(self.saa):
            part = x[:, self.at_a[layer]:self.at_a[layer + 1]]
            sums += part.T @ part
        for layer, sums in enumerate(self.sbb):
            part = y[:, self.at_b[layer]:self.at_b[layer + 1]]
            sums += part.T @ part
        self.sab += x.T @ y

    def covariance(self, layer_a: int, layer_b: int) -> np.ndarray:
        """(H_a, H_b): covariance of each unit of ``a``'s layer with each of ``b``'s."""
        ra, rb = self._rows(self.at_a, layer_a), self._rows(self.at_b, layer_b)
        return self.sab[ra, rb] / self.n - np.outer(self.sa[ra], self.sb[rb]) / self.n**2

    def covariance_within(self, side: str, layer: int) -> np.ndarray:
        """(H, H): covariance of the units of one layer of ``side`` (``"a"`` or ``"b"``) among themselves."""
        sums, s, at = (self.saa, self.sa, self.at_a) if side == "a" else (self.sbb, self.sb, self.at_b)
        r = self._rows(at, layer)
        return sums[layer] / self.n - np.outer(s[r], s[r]) / self.n**2

    def correlation(self, layer_a: int, layer_b: int) -> np.ndarray:
        """(H_a, H_b) Pearson correlations, in [-1, 1]; 0 for a unit that never changes."""
        sd_a = np.sqrt(np.maximum(np.diag(self.covariance_within("a", layer_a)), 0))
        sd_b = np.sqrt(np.maximum(np.diag(self.covariance_within("b", layer_b)), 0))
        scale = np.outer(sd_a, sd_b)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(scale > 0, self.covariance(layer_a, layer_b) / np.where(scale > 0, scale, 1), 0.0)
        return np.clip(r, -1.0, 1.0)

    @staticmethod
    def _rows(at: np.ndarray, layer: int) -> slice:
        return slice(int(at[layer]), int(at[layer + 1]))


def cross_moments(a: States, b: States, *, kind: str = "c", layers_a: Sequence[int] | None = None,
                  layers_b: Sequence[int] | None = None, rows: int = BLOCK_ROWS,
                  progress: bool = False) -> CrossMoments:
    """The cross-moments of one kind of activation (``c`` or ``h``) of two files, over their positions.

    Args:
        a: an extraction.
        b: another extraction over the same positions.
        kind: ``c`` (the cells) or ``h``.
        layers_a: the layers of ``a`` to read (default: all).
        layers_b: the layers of ``b`` to read (default: all).
        rows: positions read at once.
        progress: a progress bar on stderr.

    Raises:
        StoreError: the two files do not hold the same number of positions.
    """
    if a.n_tokens != b.n_tokens:
        raise StoreError(f"{a.path.name} holds {a.n_tokens:,} positions and {b.path.name} {b.n_tokens:,}; "
                         "units can be correlated only over the same positions of the same text")
    layers_a = list(range(a.n_layer)) if layers_a is None else list(layers_a)
    layers_b = list(range(b.n_layer)) if layers_b is None else list(layers_b)
    names_a = [act_name(layer, kind) for layer in layers_a]
    names_b = [act_name(layer, kind) for layer in layers_b]
    moments = CrossMoments([a.n_hidden] * len(layers_a), [b.n_hidden] * len(layers_b))
    with progress_bar(total=a.n_tokens, desc="correlate", unit="pos", unit_scale=True, leave=False,
                      enabled=progress) as bar:
        for (_, xa), (_, xb) in zip(a.blocks(names_a, rows), b.blocks(names_b, rows), strict=True):
            moments.add([xa[n] for n in names_a], [xb[n] for n in names_b])
            bar.update(len(xa[names_a[0]]))
    return moments
