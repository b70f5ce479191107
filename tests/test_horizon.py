"""Memory horizons: streamed per position they agree with provenance, and planted cells have theirs.

Also how they reach the file: measured by ``extract --gates``, or added afterwards by a replay and
an atomic replacement of the file, then read and checked as format 1.3 summaries.
"""

import hashlib
import math
import shutil

import h5py
import numpy as np
import pytest
import torch
from extraction_files import TEXT, VOCAB, make_model, write_checkpoint
from memory_models import COUNTER, FORGETFUL, PARITY, columns, extract_memory
from memory_models import TEXT as MEMORY_TEXT

from lstmviz.errors import StoreError
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.files import temporaries
from lstmviz.intervene import memory
from lstmviz.intervene.horizon import Horizons
from lstmviz.intervene.memory import measure_horizons, store_horizons
from lstmviz.intervene.model_source import model_for
from lstmviz.intervene.provenance import cell_gates, decompose, look_back
from lstmviz.model.loading import load_model
from lstmviz.search.cache import file_identity
from lstmviz.store.reader import open_states
from lstmviz.store.spec import HORIZON_KEYS
from lstmviz.store.validate import validate

TOKENS = VOCAB.encode(TEXT[:5000])


def per_position(states, layer, window, rows=None):
    """Every position's horizon of every unit, from the gates, fed in blocks of ``rows``."""
    (i, f, g), _ = cell_gates(states, layer, 0, states.n_tokens)
    horizons = Horizons(states.n_hidden, window)
    rows = rows or states.n_tokens
    out = [horizons.update(*(torch.from_numpy(x[a : a + rows]) for x in (i, f, g)))
           for a in range(0, states.n_tokens, rows)]
    return torch.cat(out).numpy(), horizons.result(), (i, f, g)


@pytest.fixture(scope="module")
def two_layer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("horizon")
    loaded = load_model(write_checkpoint(folder / "two.pt", make_model(2, 16, 8, seed=2)))
    return {kind: extract(loaded, TOKENS, folder / f"{kind}.h5", Options(gates=gates))
            for kind, gates in (("plain", False), ("gates", True))}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return extract_memory(tmp_path_factory.mktemp("planted"))


def test_streamed_horizons_are_provenance_look_backs(two_layer):
    """The O(T·H·log W) pass gives, at every position and unit, what taking c apart gives."""
    with open_states(two_layer["plain"]) as s:
        for layer in (0, 1):
            fed, _, (i, f, g) = per_position(s, layer, window=s.n_tokens, rows=700)
            agree = total = 0
            for t in range(0, s.n_tokens, 7):
                contributions, _ = decompose(i[: t + 1], f[: t + 1], g[: t + 1], np.zeros(s.n_hidden))
                for unit in range(s.n_hidden):
                    expected = look_back(contributions[:, unit], 0.0, 0.9)
                    agree += fed[t, unit] == expected
                    total += 1
                    assert abs(int(fed[t, unit]) - expected) <= 1  # only a tie at 90 % may tip
            assert agree / total > 0.999, (layer, agree, total)


def test_blocks_and_windows_do_not_change_the_horizons(two_layer):
    with open_states(two_layer["plain"]) as s:
        whole, summary, _ = per_position(s, 1, window=4096)
        for rows in (7, 333, 4096):
            np.testing.assert_array_equal(per_position(s, 1, window=4096, rows=rows)[0], whole)
        small, censored, _ = per_position(s, 1, window=16, rows=1000)
    np.testing.assert_array_equal(small, np.minimum(whole, 17))  # further back than 16: 16 + 1
    assert (censored["horizon_window"] == 16).all()
    np.testing.assert_allclose(censored["horizon_beyond"], (whole > 16).mean(axis=0))
    for key, q in (("horizon_median", 0.5), ("horizon_p90", 0.9)):
        expected = [int(np.sort(whole[:, u])[math.ceil(q * len(whole)) - 1]) for u in range(whole.shape[1])]
        assert summary[key].tolist() == expected  # the lower quantile: at least q of positions at or below


def test_planted_cells_have_the_horizons_they_should(planted):
    col = columns(MEMORY_TEXT)
    with open_states(planted) as s:
        fed, summary, _ = per_position(s, 0, window=4096, rows=1000)
    text = np.array(list(MEMORY_TEXT))
    ties = (col % 10 == 0)  # 90 % of a column of 10 falls exactly on a character
    counted = ~ties & (text != "\n")
    np.testing.assert_array_equal(fed[counted, COUNTER], np.ceil(0.9 * col[counted]))
    assert (fed[:, FORGETFUL] == 1).all()
    assert summary["horizon_median"][FORGETFUL] == summary["horizon_p90"][FORGETFUL] == 1
    quotes = np.flatnonzero(text == '"')
    for opening, closing in zip(quotes[::2], quotes[1::2], strict=False):
        inside = np.arange(opening, closing)  # c = 1 from the opening quote alone
        np.testing.assert_array_equal(fed[inside, PARITY], inside - opening + 1)


def test_extraction_with_gates_stores_the_horizons_a_replay_measures(two_layer, tmp_path):
    with open_states(two_layer["gates"]) as s:
        stored = {name: s.horizon(name) for name in ("layer0.c", "layer1.c")}
        assert s.horizon("layer0.h") is None  # of c only
        measured = measure_horizons(s, model_for(s))
        for name in stored:
            for key in HORIZON_KEYS:
                np.testing.assert_array_equal(stored[name][key], measured[name][key])
    with open_states(two_layer["plain"]) as s:
        assert s.horizon("layer0.c") is None
        loaded = load_model(s.attrs["model_source"])
    streams = extract(loaded, TOKENS, tmp_path / "streams.h5", Options(gates=True, streams=2, burn_in=64))
    with open_states(streams) as s:
        assert s.attrs["streams"] == 2 and s.horizon("layer0.c") is None  # burn-in states: not exact


def test_added_horizons_replace_the_file_atomically(two_layer, tmp_path):
    path = shutil.copy(two_layer["plain"], tmp_path / "plain.h5")
    before = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: before.update({name: obj[()]}) if isinstance(obj, h5py.Dataset)
                     else None)
    with open_states(path) as s:
        identity = file_identity(path)
        measured = measure_horizons(s, model_for(s), window=64)
    store_horizons(path, measured, identity)
    assert validate(path) == [] and temporaries(tmp_path) == []
    with open_states(path) as s:
        for name in ("layer0.c", "layer1.c"):
            for key in HORIZON_KEYS:
                np.testing.assert_array_equal(s.horizon(name)[key], measured[name][key])
        assert s.horizon("layer1.c")["horizon_window"][0] == 64
    with h5py.File(path, "r") as f:
        for name, values in before.items():
            np.testing.assert_array_equal(f[name][()], values)  # nothing else changed
    with open_states(path) as s:
        again = measure_horizons(s, model_for(s), window=32)
    store_horizons(path, again)
    with open_states(path) as s:
        assert s.horizon("layer0.c")["horizon_window"][0] == 32  # measured again: replaced


def test_an_interrupted_store_leaves_the_file_as_it_was(two_layer, tmp_path, monkeypatch):
    path = shutil.copy(two_layer["plain"], tmp_path / "plain.h5")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with open_states(path) as s:
        measured = measure_horizons(s, model_for(s), window=64)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(memory.h5py, "File", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store_horizons(path, measured)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and temporaries(tmp_path) == []


def test_a_changed_or_cramped_file_is_refused(two_layer, tmp_path, monkeypatch):
    path = shutil.copy(two_layer["plain"], tmp_path / "plain.h5")
    with open_states(path) as s:
        identity = file_identity(path)
        measured = measure_horizons(s, model_for(s), window=64)
    path.touch()
    with pytest.raises(StoreError, match="changed while its horizons were measured"):
        store_horizons(path, measured, {**identity, "mtime_ns": identity["mtime_ns"] - 1})
    monkeypatch.setattr(memory.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(StoreError, match="writes a copy of the file beside it, which needs"):
        store_horizons(path, measured)


def test_damaged_horizons_are_reported(two_layer, tmp_path):
    path = shutil.copy(two_layer["gates"], tmp_path / "gates.h5")
    with h5py.File(path, "r+") as f:
        group = f["summaries/layer0/c"]
        group["horizon_median"][0] = group["horizon_p90"][0] + 1
        group["horizon_p90"][1] = group["horizon_window"][1] + 2
        del f["summaries/layer1/c/horizon_beyond"]
    assert validate(path) == [
        "summary 'horizon_median' of layer0.c lies above 'horizon_p90'",
        "summary 'horizon_p90' of layer0.c lies beyond 'horizon_window' + 1",
        "summary 'horizon_beyond' of layer1.c is missing while 'horizon_median' is there",
    ]
    with open_states(path) as s, pytest.raises(StoreError, match="lies above 'horizon_p90'"):
        s.horizon("layer0.c")
