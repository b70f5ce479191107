"""Streaming cell search against a direct numpy computation, its histograms, cache and API."""

import itertools

import numpy as np
import pytest
import torch
from search_models import PYTHON, extract_text, random_model, shared_file

from lstmviz.errors import SearchError, UnknownActivation
from lstmviz.search import cache
from lstmviz.search.histograms import UnitHistograms
from lstmviz.search.hypotheses import HYPOTHESES, hypothesis_values
from lstmviz.search.rank import (
    BINARY_COLUMNS,
    NUMERIC_COLUMNS,
    cached_scores,
    rank_all,
    rank_units,
    score_units,
    select_names,
)
from lstmviz.store.reader import States, open_states


@pytest.fixture(scope="module")
def random_file():
    """A real extraction of a random 2-layer model (h, c and gates) over Python source."""
    return shared_file("random", "python", n_layer=2)


@pytest.fixture
def states(random_file, tmp_path):
    """A private copy of the file, so each test starts without cached results."""
    copy = tmp_path / "copy.h5"
    copy.write_bytes(random_file.read_bytes())
    with open_states(copy) as s:
        yield s


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (as scipy.stats.rankdata)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2)[inverse]


def exact_auroc(x: np.ndarray, inside: np.ndarray) -> float:
    n1, n0 = inside.sum(), (~inside).sum()
    return float((midranks(x)[inside].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


def all_units(states: States, name: str) -> np.ndarray:
    return states.window(name, 0, states.n_tokens)


@pytest.mark.parametrize("hypothesis", ["quote", "comment", "string"])
def test_binary_scores_equal_exact_numpy(states, hypothesis):
    inside = hypothesis_values(states, hypothesis) > 0
    df = rank_units(states, hypothesis, top=None, cache=False)
    assert len(df) == states.n_hidden * len(states.names) and list(df.columns) == BINARY_COLUMNS
    worst_auroc = 0.0
    for name in states.names:
        x = all_units(states, name)
        rows = df[df.name == name].set_index("unit").sort_index()
        for u in range(states.n_hidden):
            row = rows.loc[u]
            auroc = exact_auroc(x[:, u], inside)
            worst_auroc = max(worst_auroc, abs(row.auroc - auroc))
            assert row.score == pytest.approx(max(auroc, 1 - auroc), abs=1e-3)
            assert row.direction == ("+" if row.auroc >= 0.5 else "-")
            assert row.point_biserial == pytest.approx(corr(x[:, u], inside), abs=1e-5)
            assert row.mean_in == pytest.approx(x[inside, u].mean(dtype=np.float64), abs=1e-5)
            assert row.mean_out == pytest.approx(x[~inside, u].mean(dtype=np.float64), abs=1e-5)
    assert worst_auroc < 1e-3  # the documented accuracy of 2048-bin histograms


@pytest.mark.parametrize("hypothesis", ["depth", "column", "indent"])
def test_numeric_scores_equal_exact_numpy(states, hypothesis):
    y = hypothesis_values(states, hypothesis)
    df = rank_units(states, hypothesis, top=None, cache=False)
    assert list(df.columns) == NUMERIC_COLUMNS
    for name in ("layer0.c", "layer1.h", "layer1.gates.f"):
        x = all_units(states, name)
        rows = df[df.name == name].set_index("unit").sort_index()
        for u in range(states.n_hidden):
            r = corr(x[:, u], y)
            assert rows.loc[u].pearson == pytest.approx(r, abs=1e-5)
            assert rows.loc[u].score == pytest.approx(abs(r), abs=1e-5)
            assert rows.loc[u].spearman == pytest.approx(corr(midranks(x[:, u]), midranks(y)), abs=2e-3)
            slope = np.polyfit(y.astype(np.float64), x[:, u].astype(np.float64), 1)[0]
            assert rows.loc[u].slope == pytest.approx(slope, rel=1e-4, abs=1e-7)
            assert rows.loc[u]["mean"] == pytest.approx(x[:, u].mean(dtype=np.float64), abs=1e-6)


def test_null_is_the_best_score_against_shifted_copies(states):
    """null = max over the 4 circular shifts (1/5 .. 4/5 of the text) of the unit's score."""
    inside = hypothesis_values(states, "comment") > 0
    N = states.n_tokens
    df = rank_units(states, "comment", names=["layer1.c"], top=None, cache=False).sort_values("unit")
    x = all_units(states, "layer1.c")
    for u in range(states.n_hidden):
        shifted = [exact_auroc(x[:, u], np.roll(inside, -round(N * j / 5))) for j in range(1, 5)]
        assert df.null.iloc[u] == pytest.approx(max(max(a, 1 - a) for a in shifted), abs=1e-3)
    assert df.attrs["null_best"] == pytest.approx(df.null.max())


def test_block_size_does_not_change_results(states):
    hyps = [HYPOTHESES["quote"], HYPOTHESES["depth"]]
    small = score_units(states, hyps, names=["layer1.h"], rows=1000, cache=False)
    large = score_units(states, hyps, names=["layer1.h"], rows=1 << 20, cache=False)
    for key in ("quote", "depth"):
        for stat, values in large[key].stats["layer1.h"].items():
            np.testing.assert_allclose(small[key].stats["layer1.h"][stat], values, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_scores_equal_cpu_scores(states):
    # Same bins and ranks on both; only the order of float32 sums inside a product differs.
    hyps = list(HYPOTHESES.values())
    cpu = score_units(states, hyps, cache=False, skip_constant=True, device="cpu")
    gpu = score_units(states, hyps, cache=False, skip_constant=True, device="cuda")
    assert cpu.keys() == gpu.keys() and len(cpu) > 8
    for key, scores in cpu.items():
        for name, stats in scores.stats.items():
            for stat, values in stats.items():
                np.testing.assert_allclose(gpu[key].stats[name][stat], values, rtol=1e-5, atol=1e-6,
                                           err_msg=f"{key} {name} {stat}")


def test_histograms_grow_by_merging_exactly():
    rng = np.random.default_rng(0)
    hist = UnitHistograms.empty(3, bins=64)
    blocks = [rng.normal(0, s, size=(500, 3)).astype(np.float32) + m
              for s, m in ((0.01, 0), (1, 0), (0.1, 5), (3, -20))]  # the range grows both ways
    for b in blocks:
        hist.update(b)
    x = np.concatenate(blocks)
    assert hist.n == len(x) and (hist.counts.sum(axis=1) == len(x)).all()
    for u in range(3):
        edges = hist.lo[u] + hist.width[u] * np.arange(65)
        assert edges[0] <= x[:, u].min() and x[:, u].max() < edges[-1]
        expected, _ = np.histogram(x[:, u], bins=edges)
        assert np.abs(hist.counts[u] - expected).sum() <= 2  # only values on a bin edge may move
        assert (hist.counts[u] > 0).sum() >= 64 / 8  # the final range is not wasted
    np.testing.assert_allclose(hist.mean, x.mean(axis=0), rtol=1e-5)


def test_results_are_cached_and_reused_without_reading_activations(states, monkeypatch):
    first = rank_units(states, "quote", top=5)
    folder = cache.cache_dir(states.path)
    assert folder == states.path.with_name(states.path.name + ".search")
    assert {p.name for p in folder.iterdir()} >= {"scores-quote.npz", "scores-depth.npz"}
    assert cached_scores(states, "column") is not None  # all built-ins are computed together
    monkeypatch.setattr(States, "blocks", lambda *a, **k: pytest.fail("read activations"))
    monkeypatch.setattr(States, "read_ahead", lambda *a, **k: pytest.fail("read activations"))
    again = rank_units(states, "quote", top=5)
    assert again.equals(first) and again.attrs == first.attrs
    assert rank_all(states).neuron.notna().all()


def test_fresh_search_reads_the_activations_once(states, monkeypatch):
    spans = []
    original = States.read_ahead

    def counting(self, asked, **options):
        spans.extend(asked)
        return original(self, asked, **options)

    monkeypatch.setattr(States, "read_ahead", counting)
    monkeypatch.setattr(States, "blocks", lambda *a, **k: pytest.fail("a second pass over activations"))
    rank_units(states, "quote", top=5)
    assert sorted({name for name, _, _ in spans}) == sorted(select_names(states))
    for name in select_names(states):  # the scoring pass only: every position of every activation once
        covered = sorted((a, b) for n, a, b in spans if n == name)
        assert covered[0][0] == 0 and covered[-1][1] == states.n_tokens
        assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(covered))
    assert not (cache.cache_dir(states.path) / "profile.npz").exists()


def test_stored_histograms_equal_a_histogram_pass_over_the_file(states, monkeypatch):
    names = select_names(states)
    for name in names:
        ranks = states.rank_histogram(name)
        assert ranks["rank_hist"].shape == (states.n_hidden, 2048)
        assert (ranks["rank_hist"].sum(axis=1) == states.n_tokens).all()
        counted = UnitHistograms(ranks["rank_lo"], ranks["rank_width"], np.zeros_like(ranks["rank_hist"]),
                                 np.zeros(states.n_hidden), known_range=True)
        counted.update(all_units(states, name))  # the stored values, binned as the search bins them
        np.testing.assert_array_equal(counted.counts, ranks["rank_hist"])
    hyps = [HYPOTHESES["quote"], HYPOTHESES["depth"]]
    one_pass = score_units(states, hyps, cache=False)
    monkeypatch.setattr(States, "rank_histogram", lambda self, name: None)  # as a format 1.1 file
    two_pass = score_units(states, hyps, cache=False)
    for key in ("quote", "depth"):
        for name in names:
            for stat, values in two_pass[key].stats[name].items():
                np.testing.assert_allclose(one_pass[key].stats[name][stat], values, atol=2e-3)


def test_cache_is_invalidated_when_the_file_changes(states, tmp_path):
    rank_units(states, "quote", names=["layer0.h"])
    assert cached_scores(states, "quote", names=["layer0.h"]) is not None
    assert cached_scores(states, "quote", names=["layer0.c"]) is None  # not computed for c yet
    path = states.path
    states.close()
    other = extract_text(random_model(seed=1, n_layer=2), PYTHON, tmp_path / "other.h5", gates=True)
    path.write_bytes(other.read_bytes())  # a new extraction at the same path
    with open_states(path) as fresh:
        assert cached_scores(fresh, "quote", names=["layer0.h"]) is None
        new = rank_units(fresh, "quote", names=["layer0.h"], top=None).sort_values("unit")
        x = fresh.window("layer0.h", 0, fresh.n_tokens, 0)
        inside = hypothesis_values(fresh, "quote") > 0
        assert new.auroc.iloc[0] == pytest.approx(exact_auroc(x, inside), abs=1e-3)


def test_pattern_and_array_hypotheses_are_cached_by_content(states):
    df = rank_units(states, r"\bdef\b", names=["layer1.c"], top=3)
    assert df.attrs["hypothesis"] == r"pattern \bdef\b" and len(df) == 3
    values = hypothesis_values(states, r"\bdef\b")
    same = rank_units(states, values, names=["layer1.c"], top=3)
    assert same.neuron.tolist() == df.neuron.tolist()
    np.testing.assert_allclose(same.score, df.score)


def test_rank_all_lists_best_unit_per_hypothesis_and_skips_absent_ones(states):
    df = rank_all(states, top=2)
    skipped = set(df.attrs["skipped"])
    assert {"url", "wikilink", "template"} <= skipped  # no URLs or wiki markup in this source
    assert set(df.hypothesis) | skipped == set(HYPOTHESES)
    assert (df.groupby("hypothesis")["rank"].apply(list) == [[1, 2]] * df.hypothesis.nunique()).all()
    assert (df.null_best >= df.null).all()
    binary = df.measure == "AUROC"
    assert (df.score[binary] >= 0.5).all() and df.coverage[binary].between(0, 1).all()
    assert df.coverage[~binary].isna().all()


def test_constant_hypothesis_is_a_clear_error(states):
    with pytest.raises(SearchError, match="'url' is never true in this text"):
        rank_units(states, "url")
    with pytest.raises(SearchError, match="never true"):
        rank_units(states, "zzzzqqq")


def test_select_names_and_unknown_names(states):
    assert select_names(states, layer=1, kind="c") == ["layer1.c"]
    assert select_names(states, kind="gates") == [f"layer{k}.gates.{g}" for k in (0, 1) for g in "ifgo"]
    with pytest.raises(UnknownActivation, match=r"no layer 5 in copy.h5 \(layers: 0..1\)"):
        select_names(states, layer=5)
    with pytest.raises(UnknownActivation, match="has no activation 'layer9.h'"):
        rank_units(states, "quote", names=["layer9.h"])


def test_progress_callback_reaches_the_total(states):
    seen = []
    rank_units(states, "quote", names=["layer0.h"], progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == states.n_tokens


def test_scores_stay_within_their_range_on_a_three_character_text(tmp_path):
    # The bundled model over "a\nb": float32 sums can step past 1 (AUROC 1.0000000149).
    from lstmviz.demo import MODEL
    from lstmviz.extraction.extract import extract_file

    text = tmp_path / "three.txt"
    text.write_text("a\nb", encoding="utf-8")
    path = extract_file(MODEL, text, tmp_path / "three.h5")
    with open_states(path) as s:
        best = rank_all(s, top=3, cache=False)
        for hyp in ("after_newline", "word_pos"):
            ranked = rank_units(s, hyp, top=3, cache=False)
            extremes = ranked[["score", "null"]].to_numpy()
            assert (0 <= extremes).all() and (extremes <= 1).all(), (hyp, extremes.max())
        assert (best.score <= 1).all() and (best.null_best <= 1).all()
