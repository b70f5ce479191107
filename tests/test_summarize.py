"""Per-unit summaries of units that barely move."""

import numpy as np
import torch

from lstmviz.extraction.summarize import UnitSummary


def test_a_cell_that_never_moves_is_counted_in_one_bin():
    c = torch.full((300, 2), 0.25)
    c[:, 1] = torch.tensor([0.0, 1e-37] * 150)  # a range so narrow that bins per unit of c overflow float32
    s = UnitSummary("c", 2)
    s.update(c, 0)
    s.update_hist(c)
    r = s.result()
    assert r["hist"].sum(1).tolist() == [300, 300]
    assert np.isfinite(r["mean"]).all()
