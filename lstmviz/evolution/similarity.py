"""How alike two layers are as a whole: linear centred kernel alignment (CKA).

Unit-by-unit matching (:mod:`~lstmviz.evolution.matching`) asks whether each cell has a twin; CKA
asks whether two layers hold the same information at all, however it is spread over their units.
For activations X (n × p) and Y (n × q) over the same n positions, centred,

    CKA(X, Y) = ‖Xᵀ Y‖²_F / (‖Xᵀ X‖_F · ‖Yᵀ Y‖_F),

which is 1 for layers that differ by a rotation (a permutation of units included) and a uniform
scale, and near 0 for unrelated ones. It needs only the covariance matrices, which
:class:`~lstmviz.evolution.moments.CrossMoments` sums while the activations stream past.

Reference: Kornblith, Norouzi, Lee and Hinton, "Similarity of neural network representations
revisited" (ICML 2019), equation (5).
"""

from __future__ import annotations

import numpy as np

from lstmviz.evolution.moments import CrossMoments


def linear_cka(cov_ab: np.ndarray, cov_aa: np.ndarray, cov_bb: np.ndarray) -> float:
    """Linear CKA from the covariances between two layers (p × q) and within each (p × p, q × q).

    NaN when either layer never changes (its covariance is all zero).

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(400, 5)); x -= x.mean(0)
    >>> q, _ = np.linalg.qr(rng.normal(size=(5, 5))); y = 3 * x @ q     # a rotation and a scale
    >>> round(linear_cka(x.T @ y, x.T @ x, y.T @ y), 6)
    1.0
    """
    denominator = np.linalg.norm(cov_aa) * np.linalg.norm(cov_bb)
    if not denominator > 0:
        return float("nan")
    return float(np.linalg.norm(cov_ab) ** 2 / denominator)


def layer_cka(moments: CrossMoments) -> np.ndarray:
    """(L_a, L_b): the linear CKA of every layer of ``a`` with every layer of ``b``."""
    out = np.full((len(moments.units_a), len(moments.units_b)), np.nan)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = linear_cka(moments.covariance(i, j), moments.covariance_within("a", i),
                                   moments.covariance_within("b", j))
    return out
