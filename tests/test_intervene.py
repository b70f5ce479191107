"""``lstmviz intervene`` and the library under it, on real checkpoints and real extractions."""

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model, write_text
from test_edited_run import reference

from lstmviz.cli import cli
from lstmviz.errors import OptionError, UnknownActivation
from lstmviz.extraction.extract import F16_ERROR_BOUND, extract_file
from lstmviz.intervene.edited_run import Edit, stored_state
from lstmviz.intervene.edits import EditSpec, resolve
from lstmviz.intervene.intervention import intervene
from lstmviz.intervene.model_source import ModelMismatch, model_for
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.names import Neuron
from lstmviz.store.reader import open_states

N = 3000


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A 2 x 16 model, its extraction over N characters, another over other text, and another model."""
    d = tmp_path_factory.mktemp("intervene")
    save_checkpoint(d / "m.pt", make_model(2, 16, 8), VOCAB)
    save_checkpoint(d / "other.pt", make_model(2, 16, 8, seed=1), VOCAB)
    x = extract_file(d / "m.pt", write_text(d / "t.txt", TEXT[:N]), d / "x.h5")
    y = extract_file(d / "m.pt", write_text(d / "u.txt", TEXT[5000:6000]), d / "y.h5")
    z = extract_file(d / "other.pt", write_text(d / "v.txt", TEXT[:1000]), d / "z.h5")
    return {"dir": d, "x": x, "y": y, "z": z, "model": d / "m.pt", "other": d / "other.pt"}


def run(*args):
    return CliRunner().invoke(cli, ["intervene", *map(str, args)])


# --- the grammar of an edit -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "op", "number", "position", "source"), [
    ("layer1.c.3=zero", "zero", None, None, None),
    ("layer1.c.3=set:-0.5", "set", -0.5, None, None),
    ("layer1.c.3=2.5", "set", 2.5, None, None),
    ("layer0.h.12=scale:2", "scale", 2.0, None, None),
    ("layer0.h.12=mean", "mean", None, None, None),
    ("layer0.gates.f.1=patch:40", "patch", None, 40, None),
    ("layer0.h.1=patch:run/other.h5@12345", "patch", None, 12345, "run/other.h5"),
])
def test_edits_are_read_as_written(text, op, number, position, source):
    spec = EditSpec.parse(text)
    assert (spec.op, spec.number, spec.position, spec.source) == (op, number, position, source)
    assert EditSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(("text", "error", "message"), [
    ("layer1.c.3", OptionError, "'layer1.c.3' is not an edit; write NEURON=OP, e.g. layer2.c.89=zero "
                                "(OP: zero, set:V, scale:K, mean, patch:POS or patch:FILE@POS)"),
    ("layer1.c.3=set:abc", OptionError, "set:abc: 'abc' is not a number; write e.g. set:0.5"),
    ("layer1.c.3=scale:nan", OptionError, "scale:nan: nan is not a finite number; write e.g. scale:0.5"),
    ("layer1.c.3=half", OptionError, "'half' is not an edit operation; use zero, set:V, scale:K, mean, "
                                     "patch:POS or patch:FILE@POS (e.g. layer1.c.3=zero)"),
    ("layer1.c.3=patch:x", OptionError, "patch:x: 'x' is not a position; write patch:POS or patch:FILE@POS, "
                                        "e.g. patch:12345"),
    ("layer1.x.3=zero", UnknownActivation, "'layer1.x.3' is not a neuron; write layer.kind.unit, e.g. "
                                           "'layer1.c.117' or 'layer0.gates.f.3'"),
])
def test_an_edit_that_cannot_be_read_is_one_line(text, error, message):
    with pytest.raises(error) as e:
        EditSpec.parse(text)
    assert str(e.value) == message


def test_mean_and_patch_are_read_from_the_files(made):
    with open_states(made["x"]) as s:
        mean = resolve(EditSpec.parse("layer1.c.3=mean"), s)
        here = resolve(EditSpec.parse("layer0.h.5=patch:1234"), s)
        there = resolve(EditSpec.parse(f"layer1.c.3=patch:{made['y']}@17"), s)
        assert mean.value == pytest.approx(float(s.summary("layer1.c")["mean"][3]))
        assert here.value == float(s.window("layer0.h", 1234, 1235, 5)[0])
        with open_states(made["y"]) as y:
            assert there.value == float(y.window("layer1.c", 17, 18, 3)[0])
        with pytest.raises(ModelMismatch) as e:
            resolve(EditSpec.parse(f"layer1.c.3=patch:{made['z']}@17"), s)
        assert str(e.value).startswith("z.h5 was extracted with another model than x.h5 (sha256 ")
        assert str(e.value).endswith("…); patch from an extraction of the same model")


# --- the intervention ------------------------------------------------------------------------------------


def test_an_intervention_is_the_edited_minus_the_unedited_rerun(made):
    with open_states(made["x"]) as s:
        model = model_for(s).model
        result = intervene(s, model, [EditSpec.parse("layer0.c.2=zero")], 1000, 1100, after=500)
        start = stored_state(s, 999)
        tokens = torch.from_numpy(s.tokens(1000, result.end + 1).astype(np.int64))
    n = result.end - 1000
    ref_h, ref_c, ref_logits = reference(model, tokens[:n], [Edit(Neuron(0, "c", 2), 0.0, stop=100)], start)
    _, _, base_logits = reference(model, tokens[:n], [], start)
    p = torch.softmax(ref_logits, -1)[torch.arange(n), tokens[1 : n + 1]].numpy()
    p0 = torch.softmax(base_logits, -1)[torch.arange(n), tokens[1 : n + 1]].numpy()
    np.testing.assert_allclose(result.p_next, p, atol=1e-5)
    np.testing.assert_allclose(result.base_p_next, p0, atol=1e-5)
    np.testing.assert_allclose(result.delta_bits, np.log2(p0) - np.log2(p), atol=1e-3)
    assert (result.units["layer0.c.2"][0][:100] == 0).all()
    np.testing.assert_allclose(result.units["layer0.c.2"][0][100:], ref_c[0][100:, 2].numpy(), atol=1e-5)
    assert (result.top_ids == ref_logits.topk(5).indices.numpy()).all()
    totals = result.totals()
    assert totals["span_chars"] == 100 and totals["span_chars"] + totals["after_chars"] == n
    assert totals["delta_bits_span"] == pytest.approx(float(result.delta_bits[:100].sum()), abs=1e-6)
    assert totals["top1_changed"] == [int(q) for q in result.positions[result.top_ids[:, 0] !=
                                                                        result.base_top_ids[:, 0]]]
    df = result.to_frame()
    assert len(df) == n and list(df.columns[:4]) == ["position", "symbol", "next", "in_span"]
    assert df["symbol"].iloc[0] == TEXT[1000] and df["next"].iloc[0] == TEXT[1001]


def test_the_run_ends_once_the_effect_has_died_out(made):
    with open_states(made["x"]) as s:
        model = model_for(s).model
        nothing = intervene(s, model, [EditSpec.parse("layer1.h.0=scale:1")], 200, 260)
        real = intervene(s, model, [EditSpec.parse("layer1.c.4=set:5")], 200, 260, settle=30, after=2000)
        capped = intervene(s, model, [EditSpec.parse("layer1.c.4=set:5")], 200, 260, settle=30, after=3)
    assert nothing.settled and nothing.end == 260 and (nothing.delta_bits == 0).all()
    assert real.settled and real.end > 260
    quiet_after = real.max_dp[real.positions >= 260]
    assert quiet_after[-1] >= 1e-4  # the last position shown still moved; 30 quiet ones followed it
    assert not capped.settled and capped.end == 263


def test_the_rerun_lies_within_float16_rounding_of_the_stored_values(made):
    """From position 0 the start state is exact: h differs by float16 storage, c by float32 noise."""
    with open_states(made["x"]) as s:
        result = intervene(s, model_for(s).model, [EditSpec.parse("layer1.c.4=zero")], 0, 200)
    assert 0 < result.rerun_error["h"] <= F16_ERROR_BOUND
    assert result.rerun_error["c"] < 1e-5
    assert result.rerun_error["loss_bits"] < 1e-3


def test_the_last_position_has_no_next_symbol(made):
    with open_states(made["x"]) as s:
        result = intervene(s, model_for(s).model, [EditSpec.parse("layer1.c.4=zero")], N - 10, N)
    assert result.end == N and result.next_symbols[-1] == "" and math.isnan(result.p_next[-1])
    assert math.isfinite(result.totals()["delta_bits_span"])
    json.dumps(result.to_dict())  # NaN becomes null


# --- the command ----------------------------------------------------------------------------------------


def test_the_command_shows_the_effect(made):
    out = run(made["x"], "--edit", "layer1.c.4=set:5", "--edit", "layer0.h.1=mean", "--span", "200:260",
              "--rows", "5")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("edits:     layer1.c.4=set:5, layer0.h.1=mean (")
    assert lines[1].startswith("span:      200:260 ")
    assert lines[2].startswith("Δloss:     ") and "bits over the span (60 chars" in lines[2]
    assert lines[5].startswith("rounding:  the unedited rerun lies within ")
    assert lines[7].split() == ["pos", "char", "next", "top-5", "edited", "top-1", "before", "p_next",
                                "Δbits", "layer1.c.4", "layer0.h.1"]
    assert len(lines) == 8 + 5 + 2


def test_the_command_gives_every_position_as_json(made):
    out = run(made["x"], "--edit", "layer1.c.4=zero", "--span", "all", "--limit", "300", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["span"] == [0, 300] and data["edits"] == ["layer1.c.4=zero"]
    assert data["positions"][0]["position"] == 0 and data["positions"][0]["layer1.c.4"] == 0
    assert len(data["positions"]) == data["end"]
    assert set(data["rerun_error"]) == {"h", "c", "loss_bits"}


@pytest.mark.parametrize(("args", "message"), [
    (["--edit", "layer1.c.99=zero", "--span", "0:10"], "layer1.c has units 0..15; there is no unit 99"),
    (["--edit", "layer5.c.1=zero", "--span", "0:10"],
     "x.h5 has no activation 'layer5.c'; available: layer0.h, layer0.c, layer1.h, layer1.c"),
    (["--edit", "layer1.c.1=zero", "--span", "2990:3010"],
     f"span 2990:3010 is not within the text of x.h5 (0:{N}); give START:END with 0 <= START < END <= {N}"),
    (["--edit", "layer1.c.1=zero", "--span", "10"],
     "--span '10' is not START:END or all; write e.g. --span 1200:1260"),
    (["--edit", "layer1.c.1=set:x", "--span", "0:10"], "set:x: 'x' is not a number; write e.g. set:0.5"),
    (["--edit", "layer1.c.1=patch:5000", "--span", "0:10"],
     f"patch position 5000 is not within the text of x.h5 (0:{N}); give a position from 0 to {N - 1}"),
    (["--edit", "layer1.c.1=mean", "--span", "0:10", "--model", "{other}"], "{other}: its sha256 "),
    (["--edit", "layer1.c.1=patch:{z}@3", "--span", "0:10"],
     "z.h5 was extracted with another model than x.h5"),
    (["--edit", "layer0.gates.f.1=mean", "--span", "0:10"], "x.h5 has no activation 'layer0.gates.f'; "),
])
def test_bad_input_is_one_line(made, args, message):
    args = [a.format(other=made["other"], z=made["z"]) for a in args]
    message = message.format(other=made["other"])
    out = run(made["x"], *args)
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {message}") and out.output.count("\n") == 1, out.output


def test_a_gate_can_be_held_without_being_stored(made):
    out = run(made["x"], "--edit", "layer0.gates.f.1=zero", "--span", "0:20", "--json")
    assert out.exit_code == 0, out.output
    assert {p["layer0.gates.f.1"] for p in json.loads(out.output)["positions"][:20]} == {0}
