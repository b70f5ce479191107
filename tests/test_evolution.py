"""Cells over training, the library: assignment, streaming moments, CKA, matching, evolve and its file."""

import copy
import itertools

import h5py
import numpy as np
import pytest
import torch
from extraction_files import TEXT, VOCAB, make_model, write_checkpoint
from search_models import AUSTEN, NEWLINE, QUOTE, planted_model
from search_models import VOCAB as PLANTED_VOCAB

from lstmviz.errors import SchemaVersionError, StoreError
from lstmviz.evolution.compare import compare
from lstmviz.evolution.file import read_evolution
from lstmviz.evolution.matching import linear_assignment, match_units
from lstmviz.evolution.moments import CrossMoments
from lstmviz.evolution.similarity import linear_cka
from lstmviz.evolution.timeline import evolve
from lstmviz.extraction.extract import extract_string
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint

# --- the assignment ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 6), (6, 4), (5, 5), (2, 7)])
def test_the_assignment_is_the_cheapest_by_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for trial in range(40):
        cost = rng.normal(size=shape) if trial % 2 else rng.integers(0, 3, shape).astype(float)  # ties too
        rows, cols = linear_assignment(cost)
        n, m = shape
        assert len(rows) == len(set(rows)) == len(set(cols)) == min(n, m)
        assert list(rows) == sorted(rows)
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        else:
            best = min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
        assert cost[rows, cols].sum() == pytest.approx(best, abs=1e-12)


def test_the_assignment_recovers_a_permutation_of_a_large_matrix():
    rng = np.random.default_rng(0)
    perm = rng.permutation(300)
    cost = rng.uniform(0.5, 1.0, (300, 300))
    cost[np.arange(300), perm] = 0.0
    rows, cols = linear_assignment(cost)
    assert (cols == perm).all()


def test_matching_maximises_absolute_correlation_not_greedily():
    # Greedy (unit 0 takes its best, 0.9) leaves unit 1 with 0.1; the optimum pairs 0.8 + 0.85.
    r = np.array([[0.9, -0.8], [0.85, 0.1]])
    m = match_units(r)
    assert m.partner.tolist() == [1, 0] and m.correlation.tolist() == [-0.8, 0.85]
    assert m.nearest.tolist() == [0, 0] and m.inverse(2).tolist() == [1, 0]
    wider = match_units(np.array([[0.2, 0.9, 0.1]]))
    assert wider.partner.tolist() == [1] and wider.inverse(3).tolist() == [-1, 0, -1]
    assert match_units(np.array([[0.5], [0.7]])).partner.tolist() == [-1, 0]


# --- streaming moments and CKA -------------------------------------------------------------------------


def test_streamed_correlations_and_cka_equal_the_direct_ones():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 7)) * [1, 2, 3, 4, 5, 6, 7] + 1000.0  # a large mean tests the shift
    y = np.column_stack([x[:, :3] @ rng.normal(size=(3, 4)), rng.normal(size=(3000, 2))]) - 500.0
    m = CrossMoments([3, 4], [6])
    for a in range(0, 3000, 700):
        m.add([x[a:a + 700, :3], x[a:a + 700, 3:]], [y[a:a + 700]])
    direct = np.corrcoef(x.T, y.T)[:7, 7:]
    assert np.abs(m.correlation(0, 0) - direct[:3]).max() < 1e-9
    assert np.abs(m.correlation(1, 0) - direct[3:]).max() < 1e-9
    xc, yc = x[:, :3] - x[:, :3].mean(0), y - y.mean(0)
    reference = np.linalg.norm(xc.T @ yc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    cka = linear_cka(m.covariance(0, 0), m.covariance_within("a", 0), m.covariance_within("b", 0))
    assert cka == pytest.approx(reference, rel=1e-9)
    assert np.isnan(linear_cka(np.zeros((2, 2)), np.zeros((2, 2)), np.eye(2)))


# --- permutation recovery on a real model --------------------------------------------------------------


def permuted(model: CharLSTM, perms: list[np.ndarray]) -> CharLSTM:
    """The same function with each layer's units reordered: new unit j is old unit perms[layer][j]."""
    out = copy.deepcopy(model)
    H, L = model.config.n_hidden, model.config.n_layer
    with torch.no_grad():
        for layer, perm in enumerate(perms):
            p = torch.as_tensor(perm)
            rows = torch.cat([gate * H + p for gate in range(4)])  # each gate block, i f g o
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                w = getattr(out.lstm, f"{name}_l{layer}")
                w.copy_(w[rows])
            w = getattr(out.lstm, f"weight_hh_l{layer}")
            w.copy_(w[:, p])  # the recurrent input from this layer's own units
            reader = getattr(out.lstm, f"weight_ih_l{layer + 1}") if layer + 1 < L else out.decoder.weight
            reader.copy_(reader[:, p])
    return out


@pytest.fixture(scope="module")
def model_and_permuted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("perm")
    model = make_model(n_layer=2, n_hidden=24, n_embd=12, seed=4)
    rng = np.random.default_rng(7)
    perms = [rng.permutation(24), rng.permutation(24)]
    a = extract_string(write_checkpoint(folder / "a.pt", model), TEXT[:4000], folder / "a.h5")
    other = write_checkpoint(folder / "b.pt", permuted(model, perms))
    b = extract_string(other, TEXT[:4000], folder / "b.h5")
    return a, b, perms


def test_a_permuted_model_predicts_the_same(model_and_permuted):
    _, _, perms = model_and_permuted
    model = make_model(n_layer=2, n_hidden=24, n_embd=12, seed=4)
    tokens = torch.as_tensor(VOCAB.encode(TEXT[:300]))[None]
    assert torch.allclose(model(tokens)[0], permuted(model, perms)(tokens)[0], atol=1e-5)


def test_compare_recovers_the_permutation_exactly(model_and_permuted):
    a, b, perms = model_and_permuted
    result = compare(a, b, device="cpu")
    for layer, perm in zip(result.layers, perms, strict=True):
        assert layer.matching.partner.tolist() == np.argsort(perm).tolist()
        assert np.abs(layer.matching.correlation - 1).max() < 1e-5
        assert (layer.matching.nearest == layer.matching.partner).all()
        assert layer.cka == pytest.approx(1, abs=1e-5) and layer.paired() == 24
    assert result.cka.shape == (2, 2) and result.notes == []
    for h in result.hypotheses:  # every best cell's twin is the other's best cell, scored alike
        assert h.twin.score == pytest.approx(h.a.score, abs=1e-3)
        assert h.b.score == pytest.approx(h.a.score, abs=1e-3)


# --- evolve over snapshots of a planted model ----------------------------------------------------------


def planted_snapshots(folder):
    """Three snapshots whose quote cell appears at the second: unit QUOTE of the planted model.

    step 100: the quote unit's weights are another unit's (no quote cell), units permuted;
    step 200: the planted model, units permuted another way; step 300: the planted model.
    """
    final = planted_model(n_hidden=16)
    early = copy.deepcopy(final)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            w = getattr(early.lstm, name)
            for gate in range(4):
                w[gate * 16 + QUOTE] = w[gate * 16 + 9]
    rng = np.random.default_rng(3)
    p100, p200 = rng.permutation(16), rng.permutation(16)
    for step, model in ((300, final), (100, permuted(early, [p100])), (200, permuted(final, [p200]))):
        save_checkpoint(folder / f"step-{step:06d}.pt", model, PLANTED_VOCAB, {"steps": step})
    return p100, p200


@pytest.fixture(scope="module")
def planted_evolution(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    run = folder / "run"
    run.mkdir()
    perms = planted_snapshots(run)
    text = folder / "austen.txt"
    text.write_text(AUSTEN, encoding="utf-8")
    return evolve(run, text, folder / "evolution.h5", device="cpu"), perms


def test_evolve_finds_the_planted_quote_cell_and_follows_it_back(planted_evolution):
    ev, (p100, p200) = planted_evolution
    assert ev.steps == [100, 200, 300] and ev.n_chars == 20_000 and ev.notes == []
    quote = ev.hypotheses["quote"]
    assert quote.best[-1].neuron in (f"layer0.c.{QUOTE}", f"layer0.h.{QUOTE}")
    kind = quote.best[-1].neuron.split(".")[1]
    at_200 = int(np.flatnonzero(p200 == QUOTE)[0])
    assert quote.lineage[1].neuron == f"layer0.{kind}.{at_200}"
    assert quote.lineage[1].score == pytest.approx(quote.lineage[2].score, abs=1e-6)
    assert not quote.lineage[0].clears() and quote.lineage[1].clears() and quote.lineage[2].clears()
    emergence = quote.emergence()
    assert (emergence.cleared, emergence.rise_from, emergence.rise_to) == (1, 0, 1)
    assert emergence.share == pytest.approx(1.0)
    # the unchanged planted units are followed back exactly through both permutations
    at_100, at_200 = (int(np.flatnonzero(p == NEWLINE)[0]) for p in (p100, p200))
    assert ev.trace(f"layer0.c.{NEWLINE}") == [f"layer0.c.{u}" for u in (at_100, at_200, NEWLINE)]
    assert np.abs(ev.links(f"layer0.c.{NEWLINE}") - 1).max() < 1e-5
    assert abs(ev.links(quote.best[-1].neuron)[1]) > 0.99 > abs(ev.links(quote.best[-1].neuron)[0])
    assert ev.snapshots[0].sample and ev.snapshots[0].val_bpc is None


def test_the_evolution_file_round_trips(planted_evolution):
    ev, _ = planted_evolution
    back = read_evolution(ev.path)
    assert back.snapshots == ev.snapshots and back.hypotheses.keys() == ev.hypotheses.keys()
    for name, timeline in ev.hypotheses.items():
        for mine, theirs in zip(timeline.best + timeline.lineage,
                                back.hypotheses[name].best + back.hypotheses[name].lineage, strict=True):
            assert mine.neuron == theirs.neuron and mine.direction == theirs.direction
            np.testing.assert_equal([mine.score, mine.baseline], [theirs.score, theirs.baseline])
        assert back.hypotheses[name].description == timeline.description
    for key in ("scores", "identity", "partner", "correlation", "cka"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ev, key))
    fields = ("activations", "text_path", "text_sha256", "n_chars", "kind", "margin", "notes")
    assert [getattr(back, k) for k in fields] == [getattr(ev, k) for k in fields]
    with h5py.File(ev.path) as f:
        assert f.attrs["encoding-type"] == "lstmviz-evolution"
        assert f["scores"].shape == (3, len(ev.hypotheses), 2, 16)
        assert f["best/margin"][2, list(ev.hypotheses).index("quote")] == pytest.approx(
            ev.hypotheses["quote"].best[2].margin)


def test_reading_something_else_says_what_it_is(planted_evolution, tmp_path):
    ev, _ = planted_evolution
    with pytest.raises(StoreError, match="not an lstmviz evolution file"):
        read_evolution(write_checkpoint(tmp_path / "m.pt"))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["encoding-type"] = "lstmviz-states"
    with pytest.raises(StoreError, match=r"not an lstmviz evolution file \(it is 'lstmviz-states'\)"):
        read_evolution(other)
    newer = tmp_path / "newer.h5"
    newer.write_bytes(ev.path.read_bytes())
    with h5py.File(newer, "r+") as f:
        f.attrs["encoding-version"] = "2.0"
    with pytest.raises(SchemaVersionError):
        read_evolution(newer)
