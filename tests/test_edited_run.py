"""The edited recurrence equals torch.nn.LSTMCell stepped by hand with the same edit.

References build one ``nn.LSTMCell`` per layer from the CharLSTM's own weights and step it, applying
each edit right after the step's update: an edit of c is written into the cell's c and h is
recomputed as o * tanh(c) (o from the same cell's weights); an edit of h is written into h alone.
Tolerance: 1e-5 on h and c (float32 noise), and identical top-5 guesses.
"""

import numpy as np
import pytest
import torch
from extraction_files import TEXT, VOCAB, make_model
from torch import nn

from lstmviz.errors import OptionError, UnknownActivation
from lstmviz.intervene.edited_run import Edit, EditedRunner, run_edited, run_span, stored_state
from lstmviz.kinds import GATES
from lstmviz.model.loading import LoadedModel
from lstmviz.names import Neuron, act_name

TOKENS = torch.from_numpy(VOCAB.encode(TEXT[:300]).astype(np.int64))


def cells_of(model):
    """One nn.LSTMCell per layer, holding that layer's weights."""
    cells = []
    for layer in range(model.config.n_layer):
        w_ih = getattr(model.lstm, f"weight_ih_l{layer}")
        cell = nn.LSTMCell(w_ih.shape[1], model.config.n_hidden)
        with torch.no_grad():
            for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, part).copy_(getattr(model.lstm, f"{part}_l{layer}"))
        cells.append(cell.eval())
    return cells


def _set(x, unit, edit):
    x[:, unit] = x[:, unit] * edit.value if edit.scale else edit.value


@torch.no_grad()
def reference(model, tokens, edits, start=None):
    """h and c per layer (T, H) and logits (T, V), from nn.LSTMCell stepped by hand with ``edits``."""
    cells = cells_of(model)
    L, H = model.config.n_layer, model.config.n_hidden
    state = [(torch.zeros(1, H), torch.zeros(1, H)) for _ in range(L)] if start is None else \
        [(h.reshape(1, H).clone(), c.reshape(1, H).clone()) for h, c in start]
    xs = model.inputs(tokens[None])[0]
    hs, cs, logits = [[] for _ in range(L)], [[] for _ in range(L)], []
    for t in range(len(tokens)):
        x = xs[t : t + 1]
        for layer, cell in enumerate(cells):
            h_prev, c_prev = state[layer]
            h, c = cell(x, (h_prev, c_prev))
            here = [e for e in edits if e.neuron.layer == layer and e.active(t)]
            for e in here:
                if e.neuron.kind == "c":
                    _set(c, e.neuron.unit, e)
            if any(e.neuron.kind == "c" for e in here):
                z = x @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T + cell.bias_hh
                h = z[:, 3 * H :].sigmoid() * c.tanh()
            for e in here:
                if e.neuron.kind == "h":
                    _set(h, e.neuron.unit, e)
            state[layer] = (h, c)
            hs[layer].append(h[0])
            cs[layer].append(c[0])
            x = h
        logits.append(model.decoder(x)[0])
    return [torch.stack(v) for v in hs], [torch.stack(v) for v in cs], torch.stack(logits)


@pytest.fixture(scope="module")
def model():
    return make_model(3, 16, 8)


EDIT_SETS = {
    "unedited": [],
    "c held at 0 in the top layer": [Edit(Neuron(2, "c", 3), 0.0)],
    "h held in the first layer": [Edit(Neuron(0, "h", 5), 0.5)],
    "c scaled in the middle layer, steps 40-120": [Edit(Neuron(1, "c", 7), 2.0, scale=True, start=40,
                                                        stop=120)],
    "c and h of two layers at once": [Edit(Neuron(0, "c", 1), -3.0), Edit(Neuron(1, "h", 2), 0.9, start=10)],
}


def _same(ours_h, ours_c, ours_logits, ref, stream):
    ref_h, ref_c, ref_logits = ref
    for layer in range(len(ref_h)):
        assert (ours_h[layer][stream] - ref_h[layer]).abs().max() < 1e-5
        assert (ours_c[layer][stream] - ref_c[layer]).abs().max() < 1e-5
    assert torch.equal(ours_logits[stream].topk(5).indices, ref_logits.topk(5).indices)


def test_every_stream_of_a_batch_equals_lstmcell_with_its_edit(model):
    """Streams edited in different layers run in one batch; each equals its own reference."""
    sets = list(EDIT_SETS.values())
    trace = run_edited(model, TOKENS, sets)
    for stream, edits in enumerate(sets):
        _same(trace.h, trace.c, trace.logits, reference(model, TOKENS, edits), stream)


def test_an_edit_holds_its_unit_and_an_edit_of_h_leaves_c(model):
    trace = run_edited(model, TOKENS, [[], [Edit(Neuron(1, "h", 2), 0.25)], [Edit(Neuron(1, "c", 2), 0.0)]])
    assert (trace.h[1][1, :, 2] == 0.25).all()
    assert (trace.c[1][2, :, 2] == 0).all() and (trace.h[1][2, :, 2] == 0).all()  # o * tanh(0)
    # h edited: its own c moves only through the recurrence (other units' h feed back), never set
    assert not torch.equal(trace.c[1][1, :, 2], trace.c[1][0, :, 2])
    assert (trace.c[1][1, :, 2] != 0.25).any()
    # below the edited layer nothing changes
    assert torch.equal(trace.h[0][1], trace.h[0][0]) and torch.equal(trace.c[0][2], trace.c[0][0])


def test_gate_edits_act_before_the_cell_update(model):
    """A gate edit replaces the gate value, so c and h follow from it (checked against the equations)."""
    f_zero = Edit(Neuron(0, "gates.f", 4), 0.0)
    trace = EditedRunner(model, [[], [f_zero]]).run(TOKENS, gates=True)
    i, g = (trace.gates[act_name(0, gate)][1, :, 4] for gate in ("gates.i", "gates.g"))
    assert (trace.gates["layer0.gates.f"][1, :, 4] == 0).all()
    torch.testing.assert_close(trace.c[0][1, :, 4], i * g, atol=1e-6, rtol=0)  # f = 0: c = i * g
    o = trace.gates["layer0.gates.o"][1, :, 4]
    torch.testing.assert_close(trace.h[0][1, :, 4], o * torch.tanh(i * g), atol=1e-6, rtol=0)
    assert set(trace.gates) == {act_name(layer, gate) for layer in range(3) for gate in GATES}


def test_blocks_carry_every_stream_across_calls(model):
    sets = [[], [Edit(Neuron(1, "c", 7), 2.0, scale=True, start=40, stop=120)],
            [Edit(Neuron(2, "h", 0), -1.0)]]
    whole = run_edited(model, TOKENS, sets)
    runner = EditedRunner(model, sets)
    parts = [runner.run(TOKENS[a:b]) for a, b in ((0, 37), (37, 100), (100, 300))]
    for layer in range(3):
        torch.testing.assert_close(torch.cat([p.c[layer] for p in parts], 1), whole.c[layer], atol=0, rtol=0)
    torch.testing.assert_close(torch.cat([p.logits for p in parts], 1), whole.logits, atol=0, rtol=0)
    assert runner.step == 300


def test_without_records_only_logits_and_the_final_state(model):
    sets = [[], [Edit(Neuron(0, "c", 1), 0.0)]]
    full = run_edited(model, TOKENS, sets)
    lean = EditedRunner(model, sets).run(TOKENS, record=False)
    assert lean.h == [] and lean.c == []
    assert torch.equal(lean.logits, full.logits)
    for (h, c), (h2, c2) in zip(lean.final, full.final, strict=True):
        assert torch.equal(h, h2) and torch.equal(c, c2)


def test_a_run_from_a_stored_state_equals_lstmcell_from_that_state(model, tmp_path):
    from lstmviz.extraction.extract import extract

    path = extract(LoadedModel(model, VOCAB, "lstmviz", tmp_path / "m.pt", "0" * 64),
                   TOKENS.numpy(), tmp_path / "x.h5")
    from lstmviz.store.reader import open_states

    edits = [Edit(Neuron(2, "c", 3), 0.0, start=5, stop=30)]
    with open_states(path) as states:
        start = stored_state(states, 99)
        trace = run_span(states, model, 100, 200, [[], edits])
        stored_h = states.window("layer2.h", 100, 200)
        stored_c = states.window("layer2.c", 100, 200)
        assert [tuple(x.shape) for x in start[0]] == [(1, 16), (1, 16)]
        assert torch.equal(stored_state(states, -1)[1][1], torch.zeros(1, 16))
    _same(trace.h, trace.c, trace.logits, reference(model, TOKENS[100:200], edits, start), 1)
    # the unedited rerun from the stored (float16) h lies within float16 rounding of the stored values
    assert np.abs(trace.h[2][0].numpy() - stored_h).max() < 5e-3
    assert np.abs(trace.c[2][0].numpy() - stored_c).max() < 5e-2


def test_edits_outside_the_model_or_of_no_number_are_refused(model):
    with pytest.raises(UnknownActivation,
                       match=r"^layer3.c.0 is not in this model \(3 layer\(s\) of 16 units\)"):
        EditedRunner(model, [[Edit(Neuron(3, "c", 0), 0.0)]])
    with pytest.raises(OptionError, match=r"^layer0.c.0: an edit's value must be a finite number, not nan$"):
        Edit(Neuron(0, "c", 0), float("nan"))
