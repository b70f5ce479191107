"""The sparse pass for one's own patterns: the same statistics as the full pass, from fewer rows."""

import h5py
import numpy as np
import pytest
import torch
from search_models import shared_file

from lstmviz.errors import StoreError
from lstmviz.search import cache, sparse
from lstmviz.search.hypotheses import (
    HYPOTHESES,
    hypothesis_values,
    pattern_hypothesis,
    span_hypothesis,
    values_hypothesis,
)
from lstmviz.search.rank import rank_units, score_units
from lstmviz.search.scoring import UnitRanks
from lstmviz.store.reader import open_states


@pytest.fixture
def path(tmp_path):
    """A private copy of a random 2-layer model's extraction (h, c and gates) over Python source."""
    copy = tmp_path / "copy.h5"
    copy.write_bytes(shared_file("random", "python", n_layer=2).read_bytes())
    return copy


def both_ways(path, hyp, monkeypatch, **options):
    """(sparse, full) statistics of one hypothesis, neither cached."""
    with open_states(path) as s:
        monkeypatch.setattr(sparse, "SPARSE_SHARE", 1.0)
        fast = score_units(s, [hyp], cache=False, **options)[hyp.cache_key]
        monkeypatch.setattr(sparse, "SPARSE_SHARE", 0.0)
        full = score_units(s, [hyp], cache=False, **options)[hyp.cache_key]
    return fast, full


@pytest.mark.parametrize("pattern", [r"\(", "def|return", "[a-z]", "(?s)[^\n]"])  # rare to common
def test_sparse_statistics_equal_the_full_pass_and_exact_sums(path, pattern, monkeypatch):
    """Ranks: the same bins as the full pass, so AUROCs agree to float32 sums. Sums of activations:
    against exact float64 numpy (the sparse sums are the closer: fewer float32 terms)."""
    hyp = pattern_hypothesis(pattern)
    fast, full = both_ways(path, hyp, monkeypatch)
    assert fast.n_inside == full.n_inside and fast.local == full.local
    with open_states(path) as s:
        inside = hypothesis_values(s, pattern) > 0
        for name, stats in full.stats.items():
            got = fast.stats[name]
            assert stats.keys() == got.keys()
            for stat in ("score", "null", "auroc"):
                np.testing.assert_allclose(got[stat], stats[stat], atol=2e-5, err_msg=f"{name} {stat}")
            x = s.window(name, 0, s.n_tokens).astype(np.float64)
            exact = [np.corrcoef(x[:, u], inside)[0, 1] for u in range(x.shape[1])]
            np.testing.assert_allclose(got["point_biserial"], exact, atol=1e-5)
            np.testing.assert_allclose(got["mean_in"], x[inside].mean(0), atol=1e-6)
            np.testing.assert_allclose(got["mean_out"], x[~inside].mean(0), atol=1e-6)


def test_spans_and_arrays_take_the_sparse_pass_too(path, monkeypatch):
    with open_states(path) as s:
        values = values_hypothesis(hypothesis_values(s, "comment"))
    for hyp in (span_hypothesis([(100, 180), (2000, 2100)]), values):
        fast, full = both_ways(path, hyp, monkeypatch, names=["layer1.c"])
        for stat, v in full.stats["layer1.c"].items():
            np.testing.assert_allclose(fast.stats["layer1.c"][stat], v, atol=2e-5)


def test_a_rare_pattern_ranks_only_its_rows_and_the_shifted_copies(path, monkeypatch):
    ranked = []
    original = UnitRanks.piece

    def counting(self, rows, work):
        ranked.append(len(rows))
        return original(self, rows, work)

    monkeypatch.setattr(UnitRanks, "piece", counting)
    with open_states(path) as s:
        N = s.n_tokens
        inside = hypothesis_values(s, r"\(") > 0
        offsets = [round(N * j / 5) for j in range(5)]
        needed = np.unique(np.concatenate([(np.flatnonzero(inside) - o) % N for o in offsets]))
        rank_units(s, r"\(", names=["layer0.h"])
    assert sum(ranked) == len(needed) < N / 5


def test_totals_are_kept_and_a_second_pattern_uses_them(path, monkeypatch):
    def refuse(*_):
        pytest.fail("summed the totals again")

    with open_states(path) as s:
        rank_units(s, r"\(", names=["layer0.h"])  # no totals yet: summed over every block
        assert (cache.cache_dir(path) / "moments.npz").exists()
        monkeypatch.setattr(sparse, "_add_totals", refuse)
        rank_units(s, r"\)", names=["layer0.h"])
        monkeypatch.undo()
        score_units(s, [HYPOTHESES["quote"]], names=["layer1.c"])  # the built-ins: a full pass
        monkeypatch.setattr(sparse, "_add_totals", refuse)
        rank_units(s, r"\[", names=["layer0.h", "layer1.c"])


@pytest.mark.parametrize("where", ["ranked", "elsewhere"])
def test_a_nan_in_a_ranked_row_or_only_in_the_totals_is_a_clear_error(path, where):
    with open_states(path) as s:
        N = s.n_tokens
        inside = hypothesis_values(s, r"\(") > 0
    needed = np.unique(np.concatenate([(np.flatnonzero(inside) - round(N * j / 5)) % N for j in range(5)]))
    row = needed[3] if where == "ranked" else np.setdiff1d(np.arange(N), needed)[3]
    with h5py.File(path, "r+") as f:
        f["layer0/c"][row, 2] = np.nan
    message = f"layer0.c holds nan at position {row}, unit 2"
    with open_states(path) as s, pytest.raises(StoreError, match=message):
        rank_units(s, r"\(", names=["layer0.c"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_sparse_pass_on_a_gpu_equals_it_on_the_cpu(path):
    hyp = pattern_hypothesis("def|return")
    with open_states(path) as s:
        cpu = score_units(s, [hyp], cache=False, device="cpu")[hyp.cache_key]
        gpu = score_units(s, [hyp], cache=False, device="cuda")[hyp.cache_key]
    for name, stats in cpu.stats.items():
        for stat, values in stats.items():
            np.testing.assert_allclose(gpu.stats[name][stat], values, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} {stat}")
