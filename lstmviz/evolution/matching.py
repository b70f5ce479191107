"""Matching the units of two models one to one, by the correlation of their activations on one text.

Units of an LSTM have no order: permuting the hidden units (with the rows and columns of every
weight that reads or writes them) gives the same function, and two training runs, or two snapshots
of one run far apart, put a cell at different indices. So a cell is recognised by what it does:
two units are the same cell when their activations over the same text move together. The matching
takes the one-to-one assignment that maximises the total absolute correlation of the pairs (an
optimal assignment, not a greedy one: a greedy pass gives a popular unit to the first asker and
leaves the next with a poor second choice). Absolute, because negating a cell (``c``, and with it
``g`` and everything ``h`` feeds) is another exact symmetry of an LSTM.

:func:`linear_assignment` is the Hungarian method in the shortest-augmenting-path form of
Jonker and Volgenant (1987), O(n³), on a rectangular cost matrix; each row is vectorised, so a
1,024-unit layer takes a few seconds.

References: H. W. Kuhn, "The Hungarian method for the assignment problem" (1955); R. Jonker and
A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear assignment
problems" (1987); Li et al., "Convergent learning: do different neural networks learn the same
representations?" (2016), which matches units across networks by correlation in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lstmviz.store.reader import States


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one assignment of rows to columns with the least total cost.

    With more rows than columns (or more columns than rows), every one of the fewer is assigned
    and the rest are not. Costs must be finite.

    Returns:
        ``(rows, cols)``: row ``rows[k]`` goes to column ``cols[k]``; ``rows`` ascending.

    >>> linear_assignment(np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]]))
    (array([0, 1, 2]), array([1, 0, 2]))
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"the cost matrix must be 2-D, got shape {cost.shape}")
    if not np.isfinite(cost).all():
        raise ValueError("the cost matrix holds NaN or infinite values")
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, int), np.zeros(0, int)
    # Potentials u (rows) and v (columns); owner[j] is the row (1-based) holding column j, 0 none.
    # Column 0 is a dummy from which each new row's augmenting path starts.
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)
    way = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        j0 = 0
        slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used
            free[0] = False
            reduced = cost[i0 - 1] - u[i0] - v[1:]  # (m,) reduced costs from row i0
            better = free[1:] & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.flatnonzero(free)
            j1 = int(candidates[np.argmin(slack[candidates])])
            delta = slack[j1]
            done = np.flatnonzero(used)
            u[owner[done]] += delta
            v[done] -= delta
            slack[candidates] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # augment along the path back to the dummy column
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.flatnonzero(owner[1:])
    rows = owner[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order]


@dataclass(frozen=True)
class Matching:
    """Each unit of one layer (``a``) paired with a unit of another (``b``) over the same text.

    Attributes:
        partner: (H_a,) the unit of ``b`` assigned one to one (-1: none, when ``b`` has fewer units).
        correlation: (H_a,) the signed correlation with that partner (NaN: none).
        nearest: (H_a,) the unit of ``b`` each correlates with most, whoever else it is nearest to.
        nearest_correlation: (H_a,) that signed correlation.
    """

    partner: np.ndarray
    correlation: np.ndarray
    nearest: np.ndarray
    nearest_correlation: np.ndarray

    def inverse(self, units_b: int) -> np.ndarray:
        """(H_b,) the unit of ``a`` assigned to each unit of ``b`` (-1: none)."""
        back = np.full(units_b, -1, dtype=np.int64)
        mine = self.partner >= 0
        back[self.partner[mine]] = np.flatnonzero(mine)
        return back


def match_units(correlation: np.ndarray) -> Matching:
    """The one-to-one matching that maximises the summed absolute correlation of the pairs.

    Args:
        correlation: (H_a, H_b) correlations of every unit of ``a`` with every unit of ``b``.

    >>> m = match_units(np.array([[0.1, -0.9], [0.8, 0.7]]))
    >>> m.partner.tolist(), m.correlation.tolist(), m.nearest.tolist()
    ([1, 0], [-0.9, 0.8], [1, 0])
    """
    r = np.nan_to_num(np.asarray(correlation, dtype=np.float64))
    rows, cols = linear_assignment(-np.abs(r))
    partner = np.full(r.shape[0], -1, dtype=np.int64)
    partner[rows] = cols
    paired = np.full(r.shape[0], np.nan)
    paired[rows] = r[rows, cols]
    if r.shape[1]:
        nearest = np.abs(r).argmax(1)
        closest = r[np.arange(r.shape[0]), nearest]
    else:
        nearest, closest = np.full(r.shape[0], -1, dtype=np.int64), np.full(r.shape[0], np.nan)
    return Matching(partner, paired, nearest, closest)


def shape_notes(label_a: str, a: States, label_b: str, b: States, *, layers_note: str = "") -> list[str]:
    """What two models' shapes leave unmatched, in words: none when their layers and sizes agree.

    Units are matched in the layers both have, and in layers of different sizes the extra units of
    the larger have no partner; ``layers_note`` ends the first line (what else covers every layer).
    """
    notes = []
    if a.n_layer != b.n_layer:
        common = min(a.n_layer, b.n_layer)
        notes.append(f"{label_a} has {a.n_layer} layer(s) and {label_b} {b.n_layer}: units are matched in "
                     f"layer(s) 0-{common - 1} only{layers_note}")
    if a.n_hidden != b.n_hidden:
        notes.append(f"{label_a} has {a.n_hidden} units per layer and {label_b} {b.n_hidden}: "
                     f"{abs(a.n_hidden - b.n_hidden)} unit(s) of each layer of the larger have no partner")
    return notes
