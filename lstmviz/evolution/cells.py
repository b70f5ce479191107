"""Every unit of an extraction scored against every built-in hypothesis, reduced to what evolve keeps.

The scoring itself is :func:`lstmviz.search.atlas.rankings` (one pass for all hypotheses,
:mod:`lstmviz.search.rank`); this module turns its tables into :class:`~lstmviz.evolution.records.Cell`
values and into one array of scores per hypothesis, activation and unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lstmviz.evolution.records import NO_CELL, Cell
from lstmviz.search.atlas import rankings
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.store.reader import States


def score_tables(states: States, *, device: str = "auto") -> dict[str, pd.DataFrame]:
    """Hypothesis -> every unit ranked, best first, for every built-in the text varies."""
    return rankings(states, device=device)


def best_cell(table: pd.DataFrame | None) -> Cell:
    """The top unit of a ranking (:data:`NO_CELL` for no ranking)."""
    if table is None or table.empty:
        return NO_CELL
    row = table.iloc[0]
    return Cell(str(row["neuron"]), float(row["score"]), float(table.attrs["baseline"]),
                str(row["direction"]))


def cell_of(table: pd.DataFrame | None, neuron: str) -> Cell:
    """One unit's standing in a ranking (:data:`NO_CELL` when the ranking lacks it)."""
    if table is None or not neuron:
        return NO_CELL
    rows = table[table["neuron"] == neuron]
    if rows.empty:
        return NO_CELL
    row = rows.iloc[0]
    return Cell(neuron, float(row["score"]), float(table.attrs["baseline"]), str(row["direction"]))


def measure(hypothesis: str) -> str:
    """How units are scored against a built-in hypothesis: ``AUROC`` or ``|Pearson|``."""
    return "AUROC" if HYPOTHESES[hypothesis].binary else "|Pearson|"


def score_grid(tables: dict[str, pd.DataFrame], hypotheses: Sequence[str], activations: Sequence[str],
               n_units: int) -> np.ndarray:
    """(Y, A, U) float32: each unit's score for each hypothesis; NaN where a table lacks it."""
    grid = np.full((len(hypotheses), len(activations), n_units), np.nan, np.float32)
    where = {name: a for a, name in enumerate(activations)}
    for y, hyp in enumerate(hypotheses):
        table = tables.get(hyp)
        if table is None:
            continue
        a = table["name"].map(where)
        keep = a.notna().to_numpy()
        units = table["unit"].to_numpy()[keep]
        grid[y, a[keep].astype(int).to_numpy(), units] = table["score"].to_numpy()[keep]
    return grid
