"""What the dashboard reads from a file (app/data.py), checked against the HDF5 datasets themselves."""

import h5py
import numpy as np
import pytest
from dashboard_files import TEXT, UNICODE_TEXT, build

from app import data, profiles
from app.catalog import cached_states
from lstmviz.model.vocab import Vocab
from lstmviz.render.palette import lut_index
from lstmviz.render.spec import ExportSpec


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("data") / "tiny.h5")


@pytest.fixture(scope="module")
def states(path):
    return cached_states(path)


@pytest.fixture(scope="module")
def byte_states(tmp_path_factory):
    return cached_states(build(tmp_path_factory.mktemp("bytes") / "bytes.h5", UNICODE_TEXT, byte_level=True))


def test_window_holds_the_text_and_the_stored_guesses(states, path):
    w = data.window_payload(states, 100, 300, fixed=True)
    assert (w["start"], w["stop"]) == (100, 400)
    assert "".join(w["chars"]) == TEXT[100:400]
    vocab = Vocab.from_text(TEXT)
    assert w["next"] == [vocab.symbols.index(c) for c in TEXT[101:401]]
    with h5py.File(path, "r") as f:
        top = f["predictions/top_ids"][100:400]
        probs = f["predictions/top_probs"][100:400]
        p_next = f["predictions/p_next"][100:400]
    assert w["guesses"] == 5 and w["top"] == top.reshape(-1).tolist()
    np.testing.assert_allclose(w["p"], probs.reshape(-1), atol=5e-5)
    np.testing.assert_allclose(w["p_next"], p_next, atol=5e-6)
    assert w["shade"] == lut_index(probs.reshape(-1), 0.0, 1.0).tolist()


def test_a_four_symbol_vocabulary_has_four_guesses(tmp_path):
    small = cached_states(build(tmp_path / "dna.h5", "ACGTTGCAAC" * 40))
    w = data.window_payload(small, 0, 100, fixed=True)
    assert w["guesses"] == 4 and len(w["top"]) == 400 and sorted(w["top"][:4]) == [0, 1, 2, 3]


def test_whitespace_is_drawn_visibly(states):
    newline = TEXT.index("\n")
    grid = data.window_payload(states, newline, 1, fixed=True)
    assert (grid["labels"], grid["faint"]) == (["↵"], "1")
    assert grid["vocab"][Vocab.from_text(TEXT).symbols.index(" ")] == "␣"


def test_the_last_window_has_no_next_character(states):
    n = states.n_tokens
    w = data.window_payload(states, n - 3, 500, fixed=False)
    assert w["stop"] == n and w["next"][-1] == -1 and w["p_next"][-1] is None


@pytest.mark.parametrize(("neuron", "raw_c"), [("layer1.c.3", False), ("layer1.c.3", True),
                                               ("layer0.h.5", False), ("layer0.gates.f.2", False)])
def test_values_colour_the_stored_activations(states, path, neuron, raw_c):
    name, unit = neuron.rsplit(".", 1)
    with h5py.File(path, "r") as f:
        stored = f["/" + name.replace(".", "/")][200:700, int(unit)].astype(np.float32)
        whole = f["/" + name.replace(".", "/")][:, int(unit)].astype(np.float32)
    v = data.values_payload(states, neuron, 200, 500, palette="blog", raw_c=raw_c)
    np.testing.assert_allclose(v["values"], stored, atol=5e-5)
    if name.endswith(".c") and raw_c:  # ± the larger of the 1st and 99th percentiles of the whole file
        robust = float(np.abs(np.percentile(whole, [1, 99])).max())
        assert v["lo"] == -v["hi"] and v["hi"] == pytest.approx(robust, abs=2 * float(np.ptp(whole)) / 2048)
        assert v["hi"] < float(np.abs(whole).max())
        shown = stored
    elif name.endswith(".c"):
        assert (v["lo"], v["hi"]) == (-1.0, 1.0)
        shown = np.tanh(stored)
    else:
        shown = stored
    assert v["idx"] == lut_index(shown, v["lo"], v["hi"]).tolist()


def test_gates_use_the_unit_interval(states):
    v = data.values_payload(states, "layer1.gates.o.0", 0, 100, palette="diverging", raw_c=False)
    assert (v["lo"], v["hi"], v["palette"]) == (0.0, 1.0, "diverging")
    assert v["label"] == "layer1.gates.o.0: output gate"


def test_multibyte_characters_sit_on_their_lead_byte(byte_states):
    start = UNICODE_TEXT.encode().index("é".encode())
    w = data.window_payload(byte_states, start, 4, fixed=True)
    assert w["chars"][:2] == ["é", ""]
    assert w["labels"][:2] == ["é", ""]
    lead = byte_states.vocab.symbols.index("\xc3")
    assert w["vocab"][lead] == "·"  # a lone non-ASCII byte in a strip


def test_find_returns_byte_positions_in_byte_files(byte_states):
    raw = UNICODE_TEXT.encode()
    hit, wrapped = data.find(byte_states, "日本語", 0)
    assert (hit, wrapped) == (raw.index("日本語".encode()), False)


def test_find_matches_str_find(states):
    assert data.find(states, "getattr", -1) == (TEXT.index("getattr"), False)
    last = TEXT.rindex("import")
    assert data.find(states, "import", last) == (TEXT.index("import"), True)
    assert data.find(states, "import", 0, backwards=True) == (last, True)
    assert data.find(states, "not in this text at all", 0) == (None, False)


def test_profile_contexts_are_the_extreme_positions(states, path):
    with h5py.File(path, "r") as f:
        column = f["/layer1/c"][:, 3].astype(np.float32)
    p = profiles.profile(states, "layer1.c.3")
    assert sum(p.counts) == states.n_tokens
    assert p.stats["max"] == pytest.approx(column.max())
    assert p.stats["mean"] == pytest.approx(column.mean(), abs=1e-4)
    assert p.top[0].value == pytest.approx(column.max())
    assert p.bottom[0].value == pytest.approx(column.min())
    c = p.top[0]
    assert column[c.pos] == pytest.approx(c.value)
    shown = {"\n": "↵", "\t": "⇥"}.get(TEXT[c.pos], TEXT[c.pos])
    assert c.char == profiles.context(states, c.pos).char == shown


def test_saturation_has_every_gate_unit(states, path):
    df = data.saturation(states)
    assert len(df) == 2 * 3 * 16
    assert set(df.gate) == {"i", "f", "o"}
    row = df[(df.layer == 1) & (df.gate == "f") & (df.unit == 4)].iloc[0]
    with h5py.File(path, "r") as f:
        f_gate = f["/layer1/gates/f"][:, 4].astype(np.float32)
    assert row.neuron == "layer1.gates.f.4"
    assert row.sat_hi == pytest.approx((f_gate > 0.9).mean(), abs=1e-6)
    assert row.sat_lo == pytest.approx((f_gate < 0.1).mean(), abs=1e-6)


def test_export_sends_the_snippet_and_writes_nothing_beside_the_served_file(states, path):
    folder = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    n = states.n_tokens
    spec = ExportSpec(["layer1.c.2"], n - 30, 200, strips=True, format="svg")
    name, text = data.export(states, spec, source_name=path.name)
    assert name == f"layer1.c.2_{n - 30}.svg"  # a download's suggested name; the server writes no file
    assert text.startswith("<?xml") and "--length 30 --strips --format svg" in text  # cut at the text's end
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == folder
