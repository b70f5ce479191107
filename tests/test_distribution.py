"""A unit's distribution from the stored histograms: percentiles, the raw-c scale, rebinning."""

import h5py
import numpy as np
import pytest
from dashboard_files import build

from lstmviz.names import Neuron
from lstmviz.store.distribution import rebinned, robust_range, unit_histogram
from lstmviz.store.reader import open_states


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    return build(tmp_path_factory.mktemp("distribution") / "tiny.h5")


def column(path, name: str, unit: int) -> np.ndarray:
    with h5py.File(path) as f:
        return f["/" + name.replace(".", "/")][:, unit].astype(np.float64)


@pytest.mark.parametrize("neuron", ["layer1.c.3", "layer0.c.5", "layer1.h.2"])
def test_percentiles_come_from_the_stored_histogram(h5, neuron):
    n = Neuron.parse(neuron)
    values = column(h5, n.name, n.unit)
    with open_states(h5) as s:
        lo, hi = robust_range(s, n)
        counts, edges = unit_histogram(s, n)
    assert counts.sum() == len(values) and len(edges) == len(counts) + 1
    width = float(edges[1] - edges[0])
    assert (lo, hi) == pytest.approx(tuple(np.percentile(values, [1, 99])), abs=2 * width)


def test_without_usable_summaries_the_column_is_counted(h5, tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(h5.read_bytes())
    with h5py.File(broken, "r+") as f:
        f["summaries/layer1/c/rank_lo"][3] = np.nan  # refused by the reader
        f["summaries/layer1/c/hist_lo"][3] = np.nan
        f["layer1/c"][100, 3] = np.nan  # no value, left out
    values = column(broken, "layer1.c", 3)
    with open_states(broken) as s:
        counts, edges = unit_histogram(s, Neuron.parse("layer1.c.3"))
        lo, hi = robust_range(s, Neuron.parse("layer1.c.3"))
    finite = values[np.isfinite(values)]
    assert counts.sum() == len(finite) == len(values) - 1
    width = float(edges[1] - edges[0])
    assert (lo, hi) == pytest.approx(tuple(np.percentile(finite, [1, 99])), abs=2 * width)


def test_rebinning_through_tanh_keeps_every_position(h5):
    n = Neuron.parse("layer1.c.3")
    values = column(h5, n.name, n.unit)
    with open_states(h5) as s:
        counts, edges = unit_histogram(s, n)
    shown, below, above = rebinned(counts, edges, -1.0, 1.0, 50, np.tanh)
    assert (below, above) == (0, 0) and shown.sum() == len(values)
    expected = np.histogram(np.tanh(values), bins=50, range=(-1, 1))[0]
    assert np.abs(shown - expected).sum() <= 0.02 * len(values)  # fine bins land in the right coarse bin
    lo, hi = np.percentile(values, [10, 90])
    clipped, below, above = rebinned(counts, edges, lo, hi, 50)
    assert clipped.sum() + below + above == len(values) and below > 0 and above > 0
