"""The table of the format in lstmviz.store.spec: the docs list it, and the reader and validate obey it."""

from pathlib import Path

import numpy as np
import pytest
from extraction_files import TEXT, VOCAB, make_model

from lstmviz.errors import StoreError
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel
from lstmviz.store import spec
from lstmviz.store.reader import open_states
from lstmviz.store.validate import validate

DOCS = (Path(__file__).parent.parent / "docs" / "file-format.md").read_text(encoding="utf-8")
TOKENS = VOCAB.encode(TEXT[:3000])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    loaded = LoadedModel(make_model(1, 8, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
    return extract(loaded, TOKENS, tmp_path_factory.mktemp("spec") / "good.h5", Options(gates=True))


def test_the_docs_name_everything_the_table_holds():
    for path in spec.DATASETS:
        assert f"`{path}`" in DOCS, path
    for key in spec.SUMMARIES:
        assert f"`{key}`" in DOCS, key
    for key in spec.ATTRIBUTES:
        assert f"`{key}`" in DOCS, key
    for kind, entry in spec.ACTIVATIONS.items():
        assert entry.at(f"layer3.{kind}") == f"/layer3/{kind.replace('.', '/')}"


def test_shapes_are_written_in_dimensions():
    sizes = spec.dims(n_tokens=100, n_hidden=16, vocab_size=3)
    assert spec.DATASETS["/predictions/top_ids"].shape_in(sizes) == (100, 3)
    assert spec.DATASETS["/decoder/weight"].shape_in(sizes) == (3, 16)
    assert spec.SUMMARIES["rank_hist"].shape_in(sizes) == (16, 2048)
    assert spec.SUMMARIES["rank_hist"].since == "1.2" and spec.DATASETS["/decoder/weight"].since == "1.1"
    assert spec.DATASETS["/decoder/bias"].when == "decoder_bias"  # absent from a model without one
    assert spec.SUMMARIES["top_pos"].at("layer0.gates.f") == "/summaries/layer0/gates/f/top_pos"


def test_values_mark_what_cannot_be():
    sizes = spec.dims(n_tokens=4, n_hidden=2, vocab_size=3)
    ids = spec.DATASETS["/tokens"].values
    assert ids.impossible(np.array([0, 2, 3, -1]), sizes).tolist() == [False, False, True, True]
    p_next = spec.DATASETS["/predictions/p_next"].values
    read = np.array([0.5, 1.0005, np.nan, np.nan])
    assert p_next.impossible(read, sizes).tolist() == [False, False, True, False]
    assert p_next.impossible(np.array([np.nan]), sizes, start=1).tolist() == [True]  # NaN only at the end
    h = spec.ACTIVATIONS["h"].values
    assert h.impossible(np.array([-1.0, 1.0009, 1.002, np.inf])).tolist() == [False, False, True, True]
    counts = spec.SUMMARIES["hist"].values
    assert counts.impossible(np.array([[1, 3], [5, -1]]), sizes).any(axis=1).tolist() == [False, True]
    assert spec.ACTIVATIONS["gates.g"].values.bounds() == (-1.0, 1.0)
    assert not spec.ACTIVATIONS["c"].values.bounded


def test_a_dataset_added_to_the_table_is_required_by_validate(good, monkeypatch):
    assert validate(good) == []
    monkeypatch.setitem(spec.DATASETS, "/extra", spec.Dataset("/extra", ("T", "H"), "f", spec.FINITE))
    assert validate(good) == ["dataset /extra is missing"]
    later = spec.Dataset("/extra", ("T",), "f", spec.FINITE, since="1.4")
    monkeypatch.setitem(spec.DATASETS, "/extra", later)
    assert validate(good) == []  # a 1.3 file need not hold what 1.4 adds


def test_the_reader_and_validate_take_ranges_and_shapes_from_the_table(good, monkeypatch):
    strict = spec.Dataset("/predictions/p_next", ("T",), "f", spec.Values(0, 1e-9, nan_at_end=True))
    monkeypatch.setitem(spec.DATASETS, strict.path, strict)
    with open_states(good) as s, pytest.raises(StoreError, match="/predictions/p_next holds the impossible"):
        s.predictions(0, 10)
    assert any(p.startswith("/predictions/p_next holds") for p in validate(good))
    wide = spec.Dataset("/summaries/<activation>/mean", ("H", 2), "f", spec.FINITE, family="summary")
    monkeypatch.setitem(spec.SUMMARIES, "mean", wide)
    said = r"summary 'mean' of layer0.h has shape \(8,\), expected \(8, 2\)"
    with open_states(good) as s, pytest.raises(StoreError, match=said):
        s.summary("layer0.h")
