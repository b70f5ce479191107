"""The reader: lazy windows of real extraction files, and clear refusals of bad ones."""

import h5py
import numpy as np
import pytest
import torch
from extraction_files import TEXT, VOCAB, make_model, one_thread

from lstmviz.errors import SchemaVersionError, SpanError, StoreError, UnknownActivation
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel
from lstmviz.store.reader import open_states
from lstmviz.store.spec import CHUNK_ROWS

TOKENS = VOCAB.encode(TEXT)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    with one_thread():
        loaded = LoadedModel(make_model(2, 16, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
        return extract(loaded, TOKENS, tmp_path_factory.mktemp("store") / "good.h5", Options(gates=True))


def copy_with(src, dst, **attrs):
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
    return dst


def test_window_reads_units_and_spans(good):
    with open_states(good) as s, h5py.File(good, "r") as f:
        raw = f["layer1/h"][100:2100].astype(np.float32)
        assert np.array_equal(s.window("layer1.h", 100, 2100), raw)
        assert np.array_equal(s.window("layer1.h", 100, 2100, 5), raw[:, 5])
        assert np.array_equal(s.window("layer1.h", 100, 2100, [7, 2]), raw[:, [7, 2]])
        assert s.window("layer0.c", 0, 10).dtype == np.float32
        assert s.window("layer0.h", 50, 50).shape == (0, 16)


def test_reader_api(good):
    with open_states(good) as s:
        assert (s.n_tokens, s.n_layer, s.n_hidden) == (len(TOKENS), 2, 16)
        assert s.vocab == VOCAB and s.config.n_embd == 8
        assert s.has_gates and s.kinds() == ["h", "c", "gates.i", "gates.f", "gates.g", "gates.o"]
        assert s.names[:2] == ["layer0.h", "layer0.c"]
        assert np.array_equal(s.tokens(0, 20), TOKENS[:20])
        assert "".join(s.symbols(0, 20)) == TEXT[:20] and s.text(5, 9) == TEXT[5:9]
        p = s.predictions(10, 20)
        assert p.top_ids.shape == (10, 5) and p.top_probs.shape == (10, 5) and p.p_next.shape == (10,)
        assert set(s.summary("layer0.gates.f")) >= {"mean", "hist", "top_pos", "bottom_val"}
        assert s.attrs["encoding-version"] == "1.3"


def test_blocks_stream_everything_in_bounded_pieces(good):
    with open_states(good) as s:
        seen = 0
        for start, block in s.blocks(["layer0.h", "layer1.c"], rows=CHUNK_ROWS):
            assert start == seen and set(block) == {"layer0.h", "layer1.c"}
            assert block["layer1.c"].shape == (min(CHUNK_ROWS, s.n_tokens - start), 16)
            stop = start + len(block["layer0.h"])
            assert np.array_equal(block["layer0.h"], s.window("layer0.h", start, stop))
            seen += len(block["layer0.h"])
        assert seen == s.n_tokens


def test_read_ahead_yields_every_slice_as_stored_in_order(good):
    spans = [(name, a, min(a + 3000, len(TOKENS))) for a in range(0, len(TOKENS), 3000)
             for name in ("layer1.h", "layer0.c")]
    with open_states(good) as s, h5py.File(good, "r") as f:
        seen = []
        for (name, a, b), block in s.read_ahead(spans):  # a block is valid until the next is asked for
            stored = f[name.replace(".", "/")][a:b]
            assert block.dtype == stored.dtype and np.array_equal(block, stored)
            seen.append((name, a, b))
        assert seen == spans
        assert list(s.read_ahead([])) == []


def test_damaged_data_is_named_when_read(good, tmp_path):
    data = good.read_bytes()
    chunk_index, group_index = b"TREE\x01", b"TREE\x00"  # B-tree nodes: chunks of data, groups
    assert chunk_index in data and group_index in data
    damaged = {"chunks": data.replace(chunk_index, b"XXXX\x01"),
               "groups": data.replace(group_index, b"XXXX\x00")}
    for what, content in damaged.items():  # the header stays readable: open_states succeeds
        path = tmp_path / f"{what}.h5"
        path.write_bytes(content)
        with open_states(path) as s:
            with pytest.raises(StoreError, match=r"cannot (read|open) /layer1/c .*the file is damaged"):
                list(s.read_ahead([("layer1.c", 0, len(TOKENS))]))
            with pytest.raises(StoreError, match=r"cannot (read|open) /layer1/c .*the file is damaged"):
                s.window("layer1.c", 0, 10)


@pytest.mark.parametrize(("dataset", "row", "bad"), [
    ("tokens", (123,), len(VOCAB)), ("tokens", (123,), -1),
    ("predictions/top_ids", (123, 2), 999), ("predictions/top_ids", (123, 0), -3),
])
def test_symbol_ids_outside_the_vocabulary_are_named_when_read(good, tmp_path, dataset, row, bad):
    path = copy_with(good, tmp_path / "ids.h5")
    with h5py.File(path, "a") as f:
        f[dataset][row] = bad
    with open_states(path) as s:
        assert len(s.tokens(0, 100)) == 100 and len(s.predictions(0, 100).top_ids) == 100  # before it
        read = s.tokens if dataset == "tokens" else s.predictions
        said = rf"damaged: /{dataset} holds the symbol id {bad} at position 123, outside the vocabulary of "
        with pytest.raises(StoreError, match=said + rf"{len(VOCAB)}; `lstmviz validate`"):
            read(100, 200)


def test_unknown_names_units_and_spans(good):
    with open_states(good) as s:
        with pytest.raises(UnknownActivation, match="has no activation 'layer2.h'; available: layer0.h, "):
            s.window("layer2.h", 0, 10)
        with pytest.raises(UnknownActivation, match="has units 0..15; there is no unit 16"):
            s.window("layer0.h", 0, 10, 16)
        with pytest.raises(SpanError, match=r"span 0:20000 is not within the text of good.h5 \(0:10000\)"):
            s.window("layer0.h", 0, 20_000)


def test_truncated_file(good, tmp_path):
    data = good.read_bytes()
    for fraction in (0.5, 0.9, 0.999):
        cut = tmp_path / f"cut{fraction}.h5"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(StoreError, match="truncated or damaged"):
            open_states(cut)


def test_incomplete_foreign_and_future_files(good, tmp_path):
    with pytest.raises(StoreError, match="the extraction is incomplete .*run `lstmviz extract` again"):
        open_states(copy_with(good, tmp_path / "half.h5", complete=False))
    with pytest.raises(StoreError, match="not an lstmviz extraction"):
        open_states(copy_with(good, tmp_path / "other.h5", **{"encoding-type": "anndata"}))
    with pytest.raises(SchemaVersionError, match="format version 2.0 is not readable"):
        open_states(copy_with(good, tmp_path / "v2.h5", **{"encoding-version": "2.0"}))
    minor = copy_with(good, tmp_path / "v1_9.h5", **{"encoding-version": "1.9"})
    with open_states(minor) as s:  # additive minor versions stay readable
        assert s.n_tokens == len(TOKENS)
    with pytest.raises(StoreError, match="header is damaged"):
        open_states(copy_with(good, tmp_path / "bad.h5", model_config="{not json"))
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(StoreError, match="not an lstmviz extraction"):
        open_states(plain)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(StoreError, match="text.h5: not an HDF5 file, not an extraction; make one with"):
        open_states(tmp_path / "text.h5")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(StoreError, match="model.pt: a PyTorch checkpoint, not an extraction; extract it"):
        open_states(tmp_path / "model.pt")
    with pytest.raises(StoreError, match="no such file"):
        open_states(tmp_path / "missing.h5")


def test_writer_leaves_only_complete_files(tmp_path):
    from lstmviz.model.config import LSTMConfig
    from lstmviz.store.writer import StatesWriter

    w = StatesWriter(tmp_path / "x.h5", n_tokens=10, config=LSTMConfig(vocab_size=len(VOCAB)),
                     vocab=VOCAB, names=["layer0.h"])
    assert w.tmp_path.exists() and not (tmp_path / "x.h5").exists()
    w.abort()
    assert list(tmp_path.iterdir()) == []
