"""UnrolledLSTM against torch.nn.LSTM itself, stepped one character at a time for per-step c."""

import numpy as np
import pytest
import torch
from extraction_files import TEXT, VOCAB, gates_from_torch, make_model, one_thread, plant_counter, stepped

from lstmviz.model.runner import UnrolledLSTM, reference_steps

TOKENS = VOCAB.encode(TEXT)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_thread():
        yield


def run_in_blocks(model, tokens, sizes, gates=False):
    """UnrolledLSTM over consecutive blocks of the given sizes, state carried, outputs joined."""
    run = UnrolledLSTM(model)
    ids = torch.as_tensor(tokens, dtype=torch.long)[None]
    parts, state, at = [], None, 0
    for size in sizes:
        out, state = run(ids[:, at : at + size], state, gates=gates)
        parts.append(out)
        at += size
    assert at == ids.shape[1]
    acts = {n: torch.cat([p.acts[n][0] for p in parts]).numpy() for n in parts[0].acts}
    return acts, torch.cat([p.logits[0] for p in parts]), state


def assert_c_close(ours, ref):
    # c is unbounded: compare relative to its size, with 1e-5 of slack where it crosses zero.
    scale = np.maximum(1.0, np.abs(ref))
    assert np.max(np.abs(ours - ref) / scale) < 1e-5


@pytest.mark.parametrize(("n_layer", "n_embd", "T", "sizes"), [
    (1, None, 3000, [3000]),  # one-hot input
    (2, 16, 3000, [1000, 1, 777, 1222]),  # embedding; odd block boundaries, a block of one step
    (3, 16, 2500, [2048, 452]),
])
def test_matches_stepped_nn_lstm(n_layer, n_embd, T, sizes):
    model = make_model(n_layer, 24, n_embd, seed=n_layer)
    tokens = TOKENS[:T]
    ref = stepped(model, tokens)
    acts, logits, state = run_in_blocks(model, tokens, sizes)
    for layer in range(n_layer):
        assert np.max(np.abs(acts[f"layer{layer}.h"] - ref[f"layer{layer}.h"])) < 1e-5
        assert_c_close(acts[f"layer{layer}.c"], ref[f"layer{layer}.c"])
        h_n, c_n = state[layer]
        assert torch.allclose(h_n[0], torch.from_numpy(ref[f"layer{layer}.h"][-1]), atol=1e-5)
        assert torch.allclose(c_n[0], torch.from_numpy(ref[f"layer{layer}.c"][-1]), atol=1e-5)
    with torch.no_grad():  # logits equal the whole model run by nn.LSTM in one call
        full, _ = model(torch.as_tensor(tokens, dtype=torch.long)[None])
    assert torch.allclose(logits, full[0], atol=1e-5)


def test_gates_match_torch_equations():
    model = make_model(2, 24, 16)
    tokens = TOKENS[:2000]
    ref = stepped(model, tokens)
    acts, _, _ = run_in_blocks(model, tokens, [700, 1300], gates=True)
    expected = gates_from_torch(model, tokens, ref)
    assert len(expected) == 8
    for name, value in expected.items():
        assert np.max(np.abs(acts[name] - value)) < 1e-5, name
    # and they are the gates that made c and h: c_t = f c_{t-1} + i g,  h = o tanh(c)
    c = acts["layer1.c"]
    recon = acts["layer1.gates.f"][1:] * c[:-1] + acts["layer1.gates.i"][1:] * acts["layer1.gates.g"][1:]
    assert np.max(np.abs(recon - c[1:])) < 1e-5
    assert np.max(np.abs(acts["layer1.gates.o"] * np.tanh(c) - acts["layer1.h"])) < 1e-5


def test_batch_of_streams_equals_each_alone():
    model = make_model(2, 24, 16)
    streams = np.stack([TOKENS[0:1500], TOKENS[3000:4500], TOKENS[6000:7500]])
    out, _ = UnrolledLSTM(model)(torch.as_tensor(streams, dtype=torch.long))
    for b in range(3):
        ref = stepped(model, streams[b])
        assert np.max(np.abs(out.acts["layer1.h"][b].numpy() - ref["layer1.h"])) < 1e-5
        assert_c_close(out.acts["layer0.c"][b].numpy(), ref["layer0.c"])


def test_final_state_equals_the_state_after_a_full_run():
    model = make_model(2, 24, 16)
    ids = torch.as_tensor(TOKENS[:999], dtype=torch.long)[None]
    run = UnrolledLSTM(model)
    _, state = run(ids)
    for (h1, c1), (h2, c2) in zip(state, run.final_state(ids), strict=True):
        assert torch.allclose(h1, h2, atol=1e-6) and torch.allclose(c1, c2, atol=1e-6)


def test_reference_steps_is_nn_lstm():
    model = make_model(2, 24, None)
    tokens = TOKENS[:300]
    ref = stepped(model, tokens)
    spec = reference_steps(model, torch.as_tensor(tokens)[None])
    for name, value in ref.items():
        assert np.max(np.abs(spec[name][0].numpy() - value)) < 1e-5


def test_counter_cell_stays_exact_past_float16_range():
    # A cell that counts characters: after 70,000 of them c = 70,000, beyond float16's 65,504.
    model = plant_counter(make_model(1, 8, 16))
    T = 70_000
    tokens = np.resize(TOKENS, T)
    acts, _, state = run_in_blocks(model, tokens, [16384] * 4 + [T - 4 * 16384])
    counter = acts["layer0.c"][:, 0]
    assert np.array_equal(counter, np.arange(1, T + 1, dtype=np.float32))
    assert state[0][1][0, 0].item() == T  # nn.LSTM's own final c agrees
    assert torch.tensor(float(T)).half().isinf()  # what float16 storage would have made of it


def test_cell_gates_are_the_products_that_made_c():
    """Without --gates, c comes from the i, f, g rows alone; cell_gates hands out exactly those."""
    model = make_model(2, 32, 16, seed=4)
    run = UnrolledLSTM(model)
    hidden = run.hidden(torch.as_tensor(TOKENS[:2000], dtype=torch.long)[None])
    plain = run.complete(hidden)
    kept = run.complete(hidden, cell_gates=True)
    full = run.complete(hidden, gates=True)
    assert sorted(kept.acts) == sorted([*plain.acts, *(f"layer{k}.gates.{g}" for k in (0, 1) for g in "ifg")])
    for layer in (0, 1):
        c = plain.acts[f"layer{layer}.c"][0].double()
        assert torch.equal(kept.acts[f"layer{layer}.c"], plain.acts[f"layer{layer}.c"])
        i, f, g = (kept.acts[f"layer{layer}.gates.{k}"][0].double() for k in "ifg")
        c_prev = torch.cat([torch.zeros_like(c[:1]), c[:-1]])
        assert (f * c_prev + i * g - c).abs().max() < 1e-5 * c.abs().max()
        for k in "ifg":  # the four-gate products round differently, in the last bits only
            name = f"layer{layer}.gates.{k}"
            assert (kept.acts[name] - full.acts[name]).abs().max() < 1e-6
