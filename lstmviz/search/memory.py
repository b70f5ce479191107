"""Long-memory cells: every c unit ranked by its memory horizon (the format 1.3 ``horizon_*`` summaries).

The horizon of a cell at a position is how many characters back hold 90 % of the absolute
contributions to its c (:mod:`lstmviz.intervene.horizon`). Units are ranked by the median over
positions, then by the 90th percentile, then by the share of positions whose horizon lies beyond the
window it was measured within: the cells that remember longest, most of the time, come first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmviz.errors import SearchError
from lstmviz.names import Neuron, parse_name
from lstmviz.search.rank import select_names
from lstmviz.store.reader import States

COLUMNS = ["neuron", "layer", "unit", "median", "p90", "beyond", "window"]


def rank_by_horizon(states: States, *, layer: int | None = None, top: int | None = 20) -> pd.DataFrame:
    """The c units of ``states`` (of one ``layer``, if given), longest memory first.

    Columns: ``neuron, layer, unit, median, p90, beyond, window``; ``median`` and ``p90`` are in
    characters, ``window + 1`` standing for "further back than the window".

    Raises:
        SearchError: the file holds no horizons (the message says how to add them).

    >>> # with open_states("val.h5") as s: rank_by_horizon(s, top=5)
    """
    frames = []
    for name in select_names(states, layer=layer, kind="c"):  # a clear error for a missing layer
        number = parse_name(name)[0]
        h = states.horizon(name)
        if h is None:
            raise SearchError(f"{states.path.name} holds no memory horizons; measure them with `lstmviz "
                              f"profile {states.path.name} --horizon` (or extract with --gates)")
        units = np.arange(states.n_hidden)
        frames.append(pd.DataFrame({
            "neuron": [str(Neuron(number, "c", u)) for u in units], "layer": number, "unit": units,
            "median": h["horizon_median"], "p90": h["horizon_p90"], "beyond": h["horizon_beyond"],
            "window": h["horizon_window"],
        }))
    df = pd.concat(frames, ignore_index=True)[COLUMNS]
    df = df.sort_values(["median", "p90", "beyond", "neuron"], ascending=[False, False, False, True],
                        kind="stable")
    return (df if top is None else df.head(top)).reset_index(drop=True)
