"""What `extract` stores equals torch.nn.LSTM and torch.topk on the same weights and text."""

import math

import h5py
import numpy as np
import pytest
import torch
from extraction_files import (
    TEXT,
    VOCAB,
    gates_from_torch,
    make_model,
    plant_counter,
    stepped,
    torch_threads,
    write_checkpoint,
    write_text,
)

from lstmviz.extraction.extract import extract, extract_file
from lstmviz.extraction.options import Options
from lstmviz.extraction.parallel_streams import plan_streams
from lstmviz.model.loading import load_model
from lstmviz.model.vocab import Vocab
from lstmviz.store.reader import open_states
from lstmviz.store.spec import N_TOP, SEGMENT
from lstmviz.store.validate import validate

C_SAT = math.atanh(0.9)  # tanh(c) > 0.9  <=>  c > atanh(0.9)
TOKENS = VOCAB.encode(TEXT)  # 10,000 characters: blocks of 4,096 meet twice


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extract")
    model_path = write_checkpoint(tmp / "tiny.pt")
    text_path = write_text(tmp / "inspect.txt")
    f16 = extract_file(model_path, text_path, tmp / "f16.h5", Options(gates=True))
    # two stages at once (lstmviz.extraction.two_stage); f16 runs them one after the other
    with torch_threads(2):
        f32 = extract_file(model_path, text_path, tmp / "f32.h5", Options(gates=True, dtype="float32"))
    return {"model": model_path, "text": text_path, "f16": f16, "f32": f32}


@pytest.fixture(scope="module")
def reference(files):
    model = load_model(files["model"]).model
    ref = stepped(model, TOKENS)
    ref.update(gates_from_torch(model, TOKENS, ref))
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(TOKENS)[None])
    return ref, logits[0]


def test_h_and_gates_equal_nn_lstm(files, reference):
    ref, _ = reference
    with open_states(files["f32"]) as s32, open_states(files["f16"]) as s16:
        assert s32.n_tokens == len(TOKENS) and s32.names == list(s16.names)
        for name in s32.names:
            if name.endswith(".c"):
                continue
            exact = ref[name]
            assert np.max(np.abs(s32.window(name, 0, len(TOKENS)) - exact)) < 1e-5, name
            # float16 storage: within half a float16 step of the exact value (plus float32 noise)
            stored = s16.window(name, 0, len(TOKENS))
            step = np.spacing(np.abs(exact).astype(np.float16)).astype(np.float32)
            assert np.all(np.abs(stored - exact) <= step / 2 + 1e-5), name
            assert s16.file[f"/{name.replace('.', '/')}"].dtype == np.float16


def test_c_equals_nn_lstm_in_float32_in_both_files(files, reference):
    ref, _ = reference
    for key in ("f16", "f32"):
        with open_states(files[key]) as s:
            for layer in range(2):
                name = f"layer{layer}.c"
                assert s.file[f"/layer{layer}/c"].dtype == np.float32
                got, want = s.window(name, 0, len(TOKENS)), ref[name]
                assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) < 1e-5


def test_predictions_are_torch_topk_of_the_softmax(files, reference):
    _, logits = reference
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, 5, dim=-1)
    with open_states(files["f16"]) as s:
        p = s.predictions(0, len(TOKENS))
    assert np.array_equal(p.top_ids, top.indices.numpy())
    assert np.allclose(p.top_probs, top.values.numpy(), atol=1e-6)
    true_next = probs[torch.arange(len(TOKENS) - 1), torch.as_tensor(TOKENS[1:])].numpy()
    assert np.allclose(p.p_next[:-1], true_next, rtol=1e-4, atol=1e-7)
    assert np.allclose(p.loss_nats[:-1], -np.log(true_next), rtol=1e-4, atol=1e-5)
    assert np.allclose(p.loss_bits[:-1], -np.log2(true_next), rtol=1e-4, atol=1e-5)
    assert math.isnan(p.p_next[-1]) and math.isnan(p.loss_nats[-1])  # nothing follows the end


def test_text_is_recoverable_exactly(files):
    with open_states(files["f16"]) as s:
        assert s.text() == TEXT
        assert s.symbols(10, 15) == list(TEXT[10:15])
        assert list(s.file["vocab"].asstr()[()]) == list(VOCAB.symbols)


def test_byte_level_model_with_every_byte(tmp_path):
    # Byte 0 is a symbol of every byte-level vocabulary, and HDF5 strings cannot hold it.
    vocab = Vocab(tuple(chr(b) for b in range(256)), byte_level=True)
    model = make_model(1, 8, 4, vocab=vocab, seed=3)
    text = "na\u00efve \u201cquotes\u201d \x00 nul\n" * 20
    text_path = write_text(tmp_path / "bytes.txt", text)
    out = extract_file(write_checkpoint(tmp_path / "bytes.pt", model, vocab), text_path, tmp_path / "b.h5",
                       Options(dtype="float32"))
    assert validate(out) == []
    ids = np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int64)
    ref = stepped(model, ids)
    with open_states(out) as s, h5py.File(out, "r") as f:
        assert s.vocab == vocab and s.n_tokens == len(ids)
        assert bytes(s.tokens(0, len(ids)).astype(np.uint8)).decode("utf-8") == text
        assert np.max(np.abs(s.window("layer0.h", 0, len(ids)) - ref["layer0.h"])) < 1e-5
        stored = f["vocab"].asstr()[()]
        assert stored[0] == "" and list(stored[1:]) == list(vocab.symbols[1:])


def test_a_vocabulary_of_fewer_than_five_symbols_ranks_them_all(tmp_path):
    vocab = Vocab(tuple("ACGT"))
    model = make_model(1, 8, 4, vocab=vocab, seed=4)
    text = "ACGTTGCAAC" * 50
    checkpoint = write_checkpoint(tmp_path / "dna.pt", model, vocab)
    out = extract_file(checkpoint, write_text(tmp_path / "dna.txt", text), tmp_path / "dna.h5")
    assert validate(out) == []
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(vocab.encode(text))[None])
    probs, ids = torch.softmax(logits[0], -1).topk(4, dim=-1)
    with open_states(out) as s:
        pred = s.predictions(0, len(text))
        assert pred.top_ids.shape == (len(text), 4)
        np.testing.assert_array_equal(pred.top_ids, ids.numpy())
        np.testing.assert_allclose(pred.top_probs, probs.numpy(), atol=1e-6)


def test_metadata(files):
    with open_states(files["f16"]) as s:
        a = s.attrs
    assert a["encoding-type"] == "lstmviz-states" and a["complete"]
    assert a["model_path"] == "tiny.pt" and a["model_layout"] == "lstmviz" and len(a["model_sha256"]) == 64
    assert a["text_path"] == "inspect.txt" and len(a["text_sha256"]) == 64
    assert a["text_chars"] == len(TEXT) and a["unknown"] == "error" and a["unknown_count"] == 0
    assert a["device"] == "cpu" and a["dtype"] == "float16" and a["c_dtype"] == "float32"
    assert a["streams"] == 1 and a["burn_in"] == 0 and a["elapsed_s"] > 0
    assert 0 < a["f16_error_h_max"] <= a["f16_error_bound"] == 2.0**-12
    assert a["lstmviz_version"] and a["created"]


def test_summaries_describe_the_stored_values(files):
    T = len(TOKENS)
    with open_states(files["f32"]) as s:
        for name in ("layer0.h", "layer1.c", "layer1.gates.f", "layer0.gates.g"):
            x = s.window(name, 0, T).astype(np.float64)  # (T, H)
            m = s.summary(name)
            assert np.allclose(m["mean"], x.mean(0), atol=1e-9)
            assert np.allclose(m["std"], x.std(0), atol=1e-7)
            assert np.allclose(m["min"], x.min(0)) and np.allclose(m["max"], x.max(0))
            assert m["hist"].shape == (32, 50) and m["hist"].dtype == np.int64
            assert np.all(m["hist"].sum(1) == T)
            lo, hi = m["hist_lo"], m["hist_hi"]
            if name.endswith(".c"):
                assert np.allclose(lo, x.min(0)) and np.allclose(hi, x.max(0))
                assert np.allclose(m["sat_hi"], (x > C_SAT).mean(0))
                assert np.allclose(m["sat_lo"], (x < -C_SAT).mean(0))
            else:
                wanted = (0.0, 1.0) if name.endswith((".f", ".i", ".o")) else (-1.0, 1.0)
                assert np.all(lo == wanted[0]) and np.all(hi == wanted[1])
                thresholds = (0.1, 0.9) if wanted[0] == 0.0 else (-0.9, 0.9)
                assert np.allclose(m["sat_lo"], (x < thresholds[0]).mean(0), atol=2 / T)
                assert np.allclose(m["sat_hi"], (x >= thresholds[1]).mean(0), atol=2 / T)
            for unit in (0, 17):
                counts, _ = np.histogram(x[:, unit], bins=50, range=(lo[unit], hi[unit]))
                assert np.abs(counts - m["hist"][unit]).sum() <= 4  # bin-edge rounding only
                check_extremes(x[:, unit], m["top_pos"][unit], m["top_val"][unit], largest=True)
                check_extremes(x[:, unit], m["bottom_pos"][unit], m["bottom_val"][unit], largest=False)


def check_extremes(x, pos, val, largest):
    """Strongest value of each 256-character segment, strongest segments first, one per segment."""
    n_seg = -(-len(x) // SEGMENT)
    padded = np.full(n_seg * SEGMENT, -np.inf if largest else np.inf)
    padded[: len(x)] = x
    seg = padded.reshape(n_seg, SEGMENT)
    best = seg.max(1) if largest else seg.min(1)
    order = np.sort(best)[::-1] if largest else np.sort(best)
    k = min(N_TOP, n_seg)
    assert np.allclose(val[:k], order[:k])
    assert np.all(pos[k:] == -1) and np.all(np.isnan(val[k:]))
    assert np.allclose(x[pos[:k]], val[:k])
    assert len(set(pos[:k] // SEGMENT)) == k


def test_short_text_pads_the_extremes(tmp_path):
    model = make_model(1, 8, 16)
    loaded = _loaded(model)
    path = extract(loaded, TOKENS[:600], tmp_path / "short.h5")
    with open_states(path) as s:
        m = s.summary("layer0.h")
    assert m["top_pos"].shape == (8, 20)
    assert np.all(m["top_pos"][:, 3:] == -1) and np.all(m["top_pos"][:, :3] >= 0)


def _loaded(model):
    from lstmviz.model.loading import LoadedModel

    return LoadedModel(model, VOCAB, "lstmviz", "tiny.pt", "0" * 64)


@pytest.mark.parametrize(("streams", "burn_in", "threads", "plan"),
                         [(3, 500, 1, (3, 4096)),
                          pytest.param(3, 5000, 1, (3, 4096), marks=pytest.mark.slow),
                          # every burn-in reaches the start: no 224 GiB array
                          pytest.param(3, 10**12, 1, (3, 4096), marks=pytest.mark.slow),
                          # two blocks per stream, in two stages
                          pytest.param(2, 500, 2, (2, 8192), marks=pytest.mark.slow)])
def test_streams_start_each_piece_burn_in_characters_early(tmp_path, streams, burn_in, threads, plan):
    model = make_model(2, 24, 16, seed=3)
    with torch_threads(threads):
        path = extract(_loaded(model), TOKENS, tmp_path / "s.h5",
                       Options(streams=streams, burn_in=burn_in, dtype="float32"))
    B, L = plan_streams(len(TOKENS), streams)
    assert (B, L) == plan
    with open_states(path) as s:
        assert s.attrs["streams"] == B and s.attrs["burn_in"] == burn_in
        assert s.attrs["stream_length"] == L
        for k in range(B):
            a, b = k * L, min((k + 1) * L, len(TOKENS))
            begin = max(0, a - burn_in)  # a burn-in that would start before the text starts at 0
            ref = stepped(model, TOKENS[begin:b])
            for name in ("layer0.h", "layer1.h", "layer1.c"):
                got = s.window(name, a, b)
                want = ref[name][a - begin :]
                assert np.max(np.abs(got - want) / np.maximum(1, np.abs(want))) < 1e-5, (k, name)
        assert validate(path) == []


def test_streams_record_their_deviation(tmp_path):
    model = make_model(2, 24, 16, seed=3)
    devs = {}
    for burn_in in (0, 1000):
        path = extract(_loaded(model), TOKENS, tmp_path / f"b{burn_in}.h5",
                       Options(streams=2, burn_in=burn_in))
        with open_states(path) as s:
            devs[burn_in] = s.attrs
    assert devs[0]["streams_deviation_h_max"] > 0.01  # a cold start is visibly wrong
    assert devs[1000]["streams_deviation_h_max"] < devs[0]["streams_deviation_h_max"] / 10
    assert 0 <= devs[1000]["streams_deviation_top1_agree"] <= 1
    assert "boundaries" in devs[1000]["streams_deviation_sample"]


def test_counter_cell_is_stored_faithfully_beyond_float16_range(tmp_path):
    model = plant_counter(make_model(1, 8, 16))
    T = 70_000
    path = extract(_loaded(model), np.resize(TOKENS, T), tmp_path / "counter.h5")
    with open_states(path) as s:
        c = s.window("layer0.c", 0, T, 0)
        assert np.array_equal(c, np.arange(1, T + 1, dtype=np.float32))
        assert s.summary("layer0.c")["max"][0] == T
        assert s.summary("layer0.c")["sat_hi"][0] == (T - 1) / T  # tanh(1) < 0.9 <= tanh(2)
    assert validate(path) == []  # no inf anywhere


def test_block_boundaries_inside_blocks_of_any_size(tmp_path, files, reference):
    # A length that is no multiple of anything: the last block is short and odd.
    ref, _ = reference
    T = 8191
    path = extract(load_model(files["model"]), TOKENS[:T], tmp_path / "odd.h5", Options(dtype="float32"))
    with open_states(path) as s:
        assert np.max(np.abs(s.window("layer1.h", 0, T) - ref["layer1.h"][:T])) < 1e-5
        assert np.max(np.abs(s.window("layer1.c", 4090, 4100) - ref["layer1.c"][4090:4100])) < 1e-4


def test_h5py_alone_reads_the_golden_names(files):
    # Another tool needs nothing but h5py and docs/file-format.md.
    found = []
    with h5py.File(files["f16"], "r") as f:
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert f["layer1/gates/o"].shape == (len(TOKENS), 32)
        assert f["layer1/gates/o"].chunks == (4096, 32)
    acts = [n for n in found if n.startswith("layer")]
    assert acts == [
        "layer0/c", "layer0/gates/f", "layer0/gates/g", "layer0/gates/i", "layer0/gates/o", "layer0/h",
        "layer1/c", "layer1/gates/f", "layer1/gates/g", "layer1/gates/i", "layer1/gates/o", "layer1/h",
    ]
    others = [n for n in found if not n.startswith(("layer", "summaries"))]
    assert others == ["decoder/bias", "decoder/weight", "predictions/loss_bits", "predictions/loss_nats",
                      "predictions/p_next", "predictions/top_ids", "predictions/top_probs", "tokens",
                      "vocab"]
    summaries = sorted(n.split("/")[-1] for n in found if n.startswith("summaries/layer0/h/"))
    assert summaries == sorted(["mean", "std", "min", "max", "hist", "hist_lo", "hist_hi", "sat_hi",
                                "sat_lo", "top_pos", "top_val", "bottom_pos", "bottom_val",
                                "rank_hist", "rank_lo", "rank_width"])
    horizons = sorted(n.split("/")[-1] for n in found if n.startswith("summaries/layer1/c/horizon_"))
    assert horizons == ["horizon_beyond", "horizon_median", "horizon_p90", "horizon_window"]  # c only (1.3)
    assert len([n for n in found if n.startswith("summaries/")]) == 12 * 16 + 2 * 4


def test_decoder_weights_are_the_models(files):
    decoder = load_model(files["model"]).model.decoder
    with h5py.File(files["f16"], "r") as f:
        assert np.array_equal(f["decoder/weight"][()], decoder.weight.detach().numpy())
        assert np.array_equal(f["decoder/bias"][()], decoder.bias.detach().numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_extraction_equals_cpu(tmp_path):
    out = {}
    for device in ("cpu", "cuda"):
        for streams in (1, 3):
            out[device, streams] = extract(_loaded(make_model(2, 24, 16, seed=5)), TOKENS,
                                           tmp_path / f"{device}{streams}.h5",
                                           Options(device=device, streams=streams, burn_in=300,
                                                   dtype="float32", gates=True))
    for streams in (1, 3):
        with open_states(out["cpu", streams]) as a, open_states(out["cuda", streams]) as b:
            assert b.attrs["device"].startswith("cuda (")
            for name in a.names:
                x, y = a.window(name, 0, len(TOKENS)), b.window(name, 0, len(TOKENS))
                worst = np.max(np.abs(x - y) / np.maximum(1, np.abs(x)))
                assert worst < 1e-4, (streams, name, worst)
            pa, pb = a.predictions(0, len(TOKENS)), b.predictions(0, len(TOKENS))
            agree = np.mean(pa.top_ids[:, 0] == pb.top_ids[:, 0])
            assert agree > 0.999, (streams, agree)
        assert validate(out["cuda", streams]) == []


def test_small_memory_budget_changes_nothing_but_the_path(tmp_path, files, monkeypatch):
    # Blocks of 256 rows (partial chunks) and c read back from the file for its histograms.
    import lstmviz.extraction.extract as ex

    monkeypatch.setattr(ex, "_CPU_BLOCK_BUDGET", 300_000)
    monkeypatch.setattr(ex, "_CPU_C_KEEP", 0)
    path = extract_file(files["model"], files["text"], tmp_path / "small.h5", Options(gates=True,
                                                                                     dtype="float32"))
    with open_states(path) as small, open_states(files["f32"]) as big:
        for name in big.names:
            a, b = small.window(name, 0, len(TOKENS)), big.window(name, 0, len(TOKENS))
            assert np.max(np.abs(a - b) / np.maximum(1, np.abs(b))) < 1e-5, name
            sa, sb = small.summary(name), big.summary(name)
            assert np.allclose(sa["mean"], sb["mean"], atol=1e-6)
            assert np.allclose(sa["hist_lo"], sb["hist_lo"], atol=1e-5)
            assert np.abs(sa["hist"] - sb["hist"]).sum() <= 8
            assert np.allclose(sa["top_val"], sb["top_val"], atol=1e-5, equal_nan=True)  # ties may swap
