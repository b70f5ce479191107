"""Provenance of a cell's value: contributions + remainder = the stored c; planted cells say what they should.

Real extractions of real checkpoints: a seeded 2-layer model (tests/extraction_files.py) and an LSTM
with hand-set memory cells (tests/memory_models.py), read back through the file.
"""

import math
import shutil

import numpy as np
import pytest
from extraction_files import TEXT, VOCAB, make_model, write_checkpoint, write_text
from memory_models import COUNTER, FORGETFUL, PARITY, columns, extract_memory
from memory_models import TEXT as MEMORY_TEXT

from lstmviz.demo import MODEL as BUNDLED_MODEL
from lstmviz.demo import TEXT as BUNDLED_TEXT
from lstmviz.errors import OptionError, SpanError, UnknownActivation
from lstmviz.extraction.extract import extract, extract_file
from lstmviz.extraction.options import Options
from lstmviz.intervene.model_source import ModelMismatch, model_for
from lstmviz.intervene.provenance import block_carries, cell_gates, decompose, look_back, provenance
from lstmviz.intervene.replay import stored_gates_exact
from lstmviz.model.loading import load_model
from lstmviz.store.reader import open_states

TOKENS = VOCAB.encode(TEXT[:6000])


def exactness(states, gates, layer, positions, back):
    """How far contributions + remainder lie from the stored c, for every unit at each position.

    Returns the error relative to the absolute contribution (Σ|contributions| + |remainder|, never
    below |c|) at worst, the share of values whose error relative to |c| itself passes 1e-5, and
    where the gates came from. ``gates`` are the layer's i, f, g from position 0 on. c is stored
    in float32, so where large contributions cancel to a small c its rounding is large next to c,
    though not next to what cancelled.

    What the extraction carried into its blocks depends on the position alone, so it is found once
    for the whole span; windows of one length are taken apart together, each position's units as
    columns of their own (decompose works column by column).
    """
    i, f, g = (x.astype(np.float64) for x in gates)
    n, H = i.shape
    c = np.concatenate([np.zeros((1, states.n_hidden)),  # c = 0 before the text
                        states.window(f"layer{layer}.c", 0, states.n_tokens).astype(np.float64)])
    carried = block_carries(states, c[: n + 1], i, f, g, 0)
    positions = np.asarray(positions)
    full = positions[positions >= back - 1]  # windows of ``back`` characters
    errors, scales, values = [], [], []
    for part in np.array_split(full, max(1, full.size * back * H // 2_000_000)):
        window = part[None, :] - back + 1 + np.arange(back)[:, None]  # (back, P)
        columns = [x[window].reshape(back, -1) for x in (i, f, g, carried)]
        contributions, remainder = decompose(*columns[:3], c[part - back + 1].ravel(), columns[3])
        errors.append(contributions.sum(axis=0) + remainder - c[part + 1].ravel())
        scales.append(np.abs(contributions).sum(axis=0) + np.abs(remainder))
        values.append(c[part + 1].ravel())
    for t in positions[positions < back - 1]:  # windows from the text's start
        contributions, remainder = decompose(i[: t + 1], f[: t + 1], g[: t + 1], c[0], carried[: t + 1])
        errors.append(contributions.sum(axis=0) + remainder - c[t + 1])
        scales.append(np.abs(contributions).sum(axis=0) + np.abs(remainder))
        values.append(c[t + 1])
    error, scale, value = (np.abs(np.concatenate(x)) for x in (errors, scales, values))
    return float(np.max(error / scale)), float(np.mean(error > 1e-5 * value))


@pytest.fixture(scope="module")
def two_layer(tmp_path_factory):
    """A real checkpoint of a seeded 2-layer model, extracted plain, with float16 and with float32 gates."""
    folder = tmp_path_factory.mktemp("provenance")
    checkpoint = write_checkpoint(folder / "two.pt", make_model(2, 32, 16, seed=5))
    loaded = load_model(checkpoint)
    files = {kind: extract(loaded, TOKENS, folder / f"{kind}.h5", Options(gates=gates, dtype=dtype))
             for kind, gates, dtype in (("plain", False, "float16"), ("gates16", True, "float16"),
                                        ("gates32", True, "float32"))}
    return checkpoint, files


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    return extract_memory(tmp_path_factory.mktemp("memory"))


def test_decompose_is_the_recurrence_unrolled():
    rng = np.random.default_rng(0)
    n, H = 300, 6
    i, g = rng.uniform(0, 1, (n, H)), rng.uniform(-1, 1, (n, H))
    f = rng.uniform(0, 1, (n, H)) ** 0.05  # mostly near 1, so the products span many orders
    f[100, 0] = 0.0  # a forget gate of exactly 0 keeps nothing before it
    c0 = rng.normal(size=H) * 10
    c = c0.copy()
    for t in range(n):
        c = f[t] * c + i[t] * g[t]
    contributions, remainder = decompose(i, f, g, c0)
    np.testing.assert_allclose(contributions.sum(0) + remainder, c, rtol=1e-12, atol=1e-12)
    assert (contributions[:100, 0] == 0).all() and contributions[100, 0] != 0 and remainder[0] == 0
    one, rest = decompose(i[-1:], f[-1:], g[-1:], c0)
    np.testing.assert_allclose(one[0], i[-1] * g[-1]) and np.testing.assert_allclose(rest, f[-1] * c0)


def test_long_spans_neither_underflow_nor_lose_precision():
    n = 20_000
    f = np.full(n, 0.97)
    contributions, remainder = decompose(np.ones(n), f, np.ones(n), 1.0)
    assert remainder == 0.0 or remainder < 1e-260  # 0.97**20000 ~ 1e-265: no NaN, no error
    expected = 0.97 ** np.arange(n - 1, -1, -1.0)
    np.testing.assert_allclose(contributions, expected, rtol=1e-9)  # a sum of 20,000 logs: 3e-10 off


def test_look_back_counts_from_the_position_itself():
    assert look_back(np.array([5.0, 0.0, 1.0]), 0.0, 0.5) == 3
    assert look_back(np.array([1.0, 1.0, 8.0]), 0.0, 0.8) == 1
    assert look_back(np.array([1.0, -1.0]), 0.0, 0.9) == 2  # absolute values: cancelling ones count
    assert look_back(np.array([1.0]), -9.0, 0.5) is None  # the remainder holds the bulk


@pytest.mark.parametrize("kind", ["plain", "gates16", "gates32"])
def test_contributions_and_remainder_equal_the_stored_c(two_layer, kind):
    """Thousands of positions, every unit of both layers, windows from 1 character to the text's start."""
    _, files = two_layer
    with open_states(files[kind]) as s:
        for layer in (0, 1):
            gates, source = cell_gates(s, layer, 0, 5000)
            for back, step in ((1, 1), (40, 1), (5000, 20)):  # 5000 reaches the text's start
                worst, off = exactness(s, gates, layer, range(2000, 5000, step), back)
                assert worst < 1e-5, (layer, back, worst)  # measured: 2.2e-7 at most
                assert off < 0.002, (layer, back, off)  # measured: 0.08 % of values at most
        assert source == ("stored float32 gates" if kind == "gates32" else
                          "recomputed in float32 by two.pt on cpu")


def test_stream_seams_are_carried_into_the_remainder(two_layer, tmp_path):
    """With --streams a stream starts from its burn-in state, not the c stored before it."""
    checkpoint, _ = two_layer
    path = extract(load_model(checkpoint), TOKENS, tmp_path / "streams.h5",
                   Options(gates=True, dtype="float32", streams=2, burn_in=0))  # from c = 0
    with open_states(path) as s:
        seam = s.attrs["stream_length"]
        assert s.attrs["streams"] == 2 and seam == 4096
        gates, source = cell_gates(s, 1, 0, s.n_tokens)
        assert source == "stored float32 gates"
        worst, _ = exactness(s, gates, 1, range(seam - 5, seam + 300), 400)
        assert worst < 1e-5
        c = s.window("layer1.c", seam - 1, seam + 1)
        f, i, g = (x[seam] for x in (gates[1], gates[0], gates[2]))
        assert np.abs(c[1] - (f * c[0] + i * g)).max() > 0.1  # the seam the remainder carries


def test_float16_gates_do_not_reproduce_c_so_they_are_recomputed(two_layer):
    _, files = two_layer
    with open_states(files["gates16"]) as s:
        assert not stored_gates_exact(s)
        i, f, g = (s.window(f"layer1.gates.{k}", 1000, 3000) for k in "ifg")
        c = s.window("layer1.c", 999, 3000)
        one_step = f * c[:-1] + i * g
        relative = np.abs(one_step - c[1:]) / np.abs(c[1:])
        assert np.mean(relative > 1e-5) > 0.5  # most positions are off by more than the promise


def test_float32_gates_need_no_model(two_layer, tmp_path):
    checkpoint, files = two_layer
    copy = shutil.copy(files["gates32"], tmp_path / "moved.h5")
    hidden = checkpoint.rename(checkpoint.with_suffix(".away"))
    try:
        with open_states(copy) as s:
            p = provenance(s, "layer1.c.3", 4321, 100)
    finally:
        hidden.rename(checkpoint)
    assert p.source == "stored float32 gates" and abs(p.discrepancy) <= 1e-6 * p.absolute


def test_provenance_of_one_value(two_layer):
    _, files = two_layer
    with open_states(files["plain"]) as s:
        c = s.window("layer0.c", 0, s.n_tokens, 7)
        p = provenance(s, "layer0.h.7", 3000, 250)
        assert (str(p.asked), str(p.neuron)) == ("layer0.h.7", "layer0.c.7")  # an h unit shows its c
        assert (p.start, len(p.contributions), p.value) == (2751, 250, float(c[3000]))
        assert p.positions[0] == 2751 and p.positions[-1] == 3000
        assert abs(p.discrepancy) <= 1e-6 * p.absolute
        first = provenance(s, "layer0.c.7", 0, 10)  # the text's start: the initial state, c = 0
        assert (first.start, first.remainder) == (0, 0.0) and first.contributions[0] == pytest.approx(c[0])
        k = p.look_back(0.9)
        magnitude = np.abs(p.contributions)
        assert p.absolute == magnitude.sum() + abs(p.remainder) >= abs(p.value)
        assert magnitude[-k:].sum() >= 0.9 * p.absolute > magnitude[-k + 1 :].sum()
        assert set(p.strongest(3)) == set(p.positions[np.argsort(-magnitude)[:3]])


def test_bad_requests_are_refused(two_layer, tmp_path):
    checkpoint, files = two_layer
    with open_states(files["plain"]) as s:
        with pytest.raises(UnknownActivation, match="has no activation 'layer5.c'"):
            provenance(s, "layer5.c.1", 10)
        with pytest.raises(UnknownActivation, match="layer0.gates.f.1 is a gate"):
            provenance(s, "layer0.gates.f.1", 10)
        with pytest.raises(SpanError, match="position 6000 is not in the text"):
            provenance(s, "layer0.c.1", 6000)
        with pytest.raises(OptionError, match="--back 0: look back at least 1 character"):
            provenance(s, "layer0.c.1", 10, 0)
        other = write_checkpoint(tmp_path / "other.pt", make_model(2, 32, 16, seed=6))
        with pytest.raises(ModelMismatch, match="differs from"):
            model_for(s, other)


def test_counter_cell_every_character_since_the_newline_counts_once(memory):
    col = columns(MEMORY_TEXT)
    with open_states(memory) as s:
        for t in (500, 1234, 2222, len(MEMORY_TEXT) - 3):
            if MEMORY_TEXT[t] == "\n":
                t += 1
            p = provenance(s, f"layer0.c.{COUNTER}", t, 400)
            since = col[t]
            recent = p.contributions[-since:]
            assert np.all(recent == 1.0), t  # exactly 1 from each character of the line so far
            assert np.all(np.abs(p.contributions[:-since]) < 1e-15)  # the newline forgot the rest
            assert p.value == since and abs(p.discrepancy) <= 1e-6 * since
            if since % 10:
                assert p.look_back(0.9) == math.ceil(0.9 * since)


def test_parity_cell_after_a_closing_quote_comes_from_the_two_quotes(memory):
    quotes = [k for k, ch in enumerate(MEMORY_TEXT) if ch == '"']
    with open_states(memory) as s:
        checked = 0
        for opening, closing in zip(quotes[0:40:2], quotes[1:40:2], strict=True):
            after = closing + 1
            if after in quotes:
                continue
            p = provenance(s, f"layer0.c.{PARITY}", after, 2000)
            assert sorted(p.strongest(2).tolist()) == [opening, closing]
            assert p.contributions[opening - p.start] == 1.0 and p.contributions[closing - p.start] == -1.0
            others = np.delete(p.contributions, [opening - p.start, closing - p.start])
            assert np.all(np.abs(others) < 1e-12) and abs(p.value) < 1e-12
            checked += 1
    assert checked >= 10


def test_forgetful_cell_comes_from_its_own_character(memory):
    with open_states(memory) as s:
        for t in (100, 2000, 4000):
            p = provenance(s, f"layer0.c.{FORGETFUL}", t, 50)
            assert p.look_back(0.9) == 1 and p.strongest(1)[0] == t
            assert p.contributions[-1] == pytest.approx(p.value, rel=1e-6)


@pytest.mark.slow
def test_the_bundled_model_is_taken_apart_exactly(tmp_path):
    """The bundled 3 x 256 model over the start of its validation text, extracted without gates."""
    text = write_text(tmp_path / "wiki_val.txt", BUNDLED_TEXT.read_text(encoding="utf-8")[:12_000])
    path = extract_file(BUNDLED_MODEL, text, tmp_path / "wiki.h5", Options(), unknown="replace:\ufffd")
    with open_states(path) as s:
        for layer in range(s.n_layer):
            gates, source = cell_gates(s, layer, 0, s.n_tokens)
            for back, step in ((1, 1), (300, 1), (s.n_tokens, 25)):
                worst, off = exactness(s, gates, layer, range(8000, s.n_tokens, step), back)
                assert worst < 1e-5, (layer, back, worst)  # see benchmarks/provenance.py
                assert off < 0.002, (layer, back, off)
        assert source == "recomputed in float32 by wiki_lstm.pt on cpu"
