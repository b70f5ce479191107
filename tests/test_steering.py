"""Steering: ``lstmviz sample --clamp`` holds units at values while the model writes."""

import pytest
from click.testing import CliRunner
from extraction_files import VOCAB as INSPECT_VOCAB
from extraction_files import make_model
from search_models import AUSTEN, QUOTE, VOCAB, quote_reading_model

from lstmviz.cli import cli
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.steering import clamped, parse_clamp
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.sample import sample
from lstmviz.search.hypotheses import hypothesis_values
from lstmviz.store.reader import open_states


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("steering")
    save_checkpoint(d / "quote.pt", quote_reading_model(40, 4.0), VOCAB)
    save_checkpoint(d / "other.pt", make_model(1, 8, None, vocab=VOCAB), VOCAB)
    (d / "austen.txt").write_text(AUSTEN, encoding="utf-8")
    h5 = extract_file(d / "quote.pt", d / "austen.txt", d / "austen.h5")
    inside = int(hypothesis_values(AUSTEN, "quote").nonzero()[0][5])
    return {"model": d / "quote.pt", "other": d / "other.pt", "h5": h5, "inside": inside}


def run(*args):
    return CliRunner().invoke(cli, ["sample", *map(str, args)])


def test_no_clamp_samples_as_the_model_does():
    model = make_model(2, 16, 8)
    plain = sample(model, INSPECT_VOCAB, 200, seed=3)
    assert sample(model, INSPECT_VOCAB, 200, seed=3, step=clamped(model, [])) == plain


def test_holding_the_quote_cell_inside_makes_the_model_close_quotes(made):
    """The decoder reads only the quote cell: held inside, '"' is by far the likeliest symbol."""
    held = run(made["model"], "--clamp", f"layer0.c.{QUOTE}=1", "-n", "30", "-t", "0.05", "--seed", "0")
    assert held.exit_code == 0, held.output
    assert held.output == '"' * 30 + "\n"
    free = run(made["model"], "-n", "30", "-t", "0.05", "--seed", "0")
    assert free.output.count('"') < 10


def test_a_clamp_can_take_its_value_from_an_extraction(made):
    with open_states(made["h5"]) as s:
        value = float(s.window("layer0.c", made["inside"], made["inside"] + 1, QUOTE)[0])
    assert value > 0.5
    spec = f"{made['h5']}:layer0.c.{QUOTE}@{made['inside']}"
    held = run(made["model"], "--clamp-from", spec, "-n", "30", "-t", "0.05", "--seed", "0")
    assert held.exit_code == 0, held.output
    assert held.output == '"' * 30 + "\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--clamp", "layer0.c.0=mean"], "--clamp layer0.c.0=mean: a clamp holds a number; write NEURON=V, e.g. "
                                     "layer0.c.0=-3, or take the value from an extraction with --clamp-from"),
    (["--clamp", "layer0.c.0=x"], "'x' is not an edit operation; use zero, set:V, scale:K, mean, patch:POS "
                                  "or patch:FILE@POS (e.g. layer0.c.0=zero)"),
    (["--clamp", "layer1.c.0=1"], "layer1.c.0 is not in this model (1 layer(s) of 40 units); layers count "
                                  "0..0, units 0..39"),
    (["--clamp-from", "austen.h5-layer0.c.0"], "--clamp-from 'austen.h5-layer0.c.0': write "
                                               "FILE.h5:NEURON@POS, e.g. cache/m__val.h5:layer2.c.89@12345"),
    (["--clamp-from", "{h5}:layer0.c.0@99999"], "patch position 99999 is not within the text of austen.h5"),
])
def test_a_clamp_that_cannot_apply_is_one_line(made, args, message):
    out = run(made["model"], *[a.format(h5=made["h5"]) for a in args], "-n", "5")
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {message}") and out.output.count("\n") == 1, out.output


def test_a_value_from_an_extraction_of_another_model_is_refused(made):
    out = run(made["other"], "--clamp-from", f"{made['h5']}:layer0.c.0@10", "-n", "5")
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {made['other']}: its sha256 ")
    assert out.output.endswith("the model austen.h5 was extracted with; sample from the model the extraction "
                               "was made with\n")


def test_parse_clamp_reads_numbers():
    assert parse_clamp("layer2.c.89=-3").value == -3.0
    assert parse_clamp("layer0.h.1=zero").value == 0.0
