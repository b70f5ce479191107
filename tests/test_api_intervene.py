"""The notebook API's interventions, provenance and causal scores: the command line's numbers, from the
same functions, on the planted model whose decoder reads the quote cell; the model is found once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from search_models import AUSTEN, QUOTE, VOCAB, quote_reading_model
from test_export import parse

import lstmviz
from lstmviz.cli import cli
from lstmviz.errors import CheckpointError, OptionError, PositionOutOfRange, UnknownKey
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene import model_source
from lstmviz.intervene.intervention import Intervention
from lstmviz.intervene.model_source import ModelMismatch
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.loading import LoadedModel
from lstmviz.search.hypotheses import hypothesis_values

CELL = f"layer0.c.{QUOTE}"
CHARS = 1500  # characters silenced for causal scores: 4 quotations close in them


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("api-intervene")
    save_checkpoint(d / "quote.pt", quote_reading_model(40, 4.0), VOCAB)
    (d / "austen.txt").write_text(AUSTEN, encoding="utf-8")
    return extract_file(d / "quote.pt", d / "austen.txt", d / "austen.h5")


@pytest.fixture()
def ex(made):
    with lstmviz.open(made) as opened:
        yield opened


def narration() -> int:
    """A position followed by 40 characters outside any quotation."""
    quote = hypothesis_values(AUSTEN, "quote")
    return next(t for t in range(AUSTEN.index('"'), len(AUSTEN)) if not quote[t : t + 40].any())


def cli_json(*args) -> dict:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_intervene_gives_the_commands_numbers(ex, made):
    start = narration()
    result = ex.intervene([f"{CELL}=set:1"], span=(start, start + 40))
    assert isinstance(result, Intervention)
    assert result.to_dict() == cli_json("intervene", made, "--edit", f"{CELL}=set:1", "--span",
                                        f"{start}:{start + 40}", "--json")
    table = result.to_frame()
    assert (table["top5"].str[0].iloc[:40] == '"').all()  # held "inside", the model expects the closer
    assert (table["delta_bits"].iloc[:40] > 0.2).all()  # and the narration's next symbol less
    assert ex.intervene(f"{CELL}=zero", (start, start + 5)).edits == [f"{CELL}=zero"]  # one edit, a str


def test_provenance_gives_the_commands_contributions_as_a_table_and_a_figure(ex, made, tmp_path):
    at = narration() + 20
    view = ex.provenance(CELL, at, back=60)
    out = cli_json("provenance", made, "-n", CELL, "--at", at, "--back", 60, "--json", "-q")
    table = view.table()
    assert list(table.columns) == ["position", "char", "contribution"]
    assert table["position"].tolist() == [c["position"] for c in out["contributions"]]
    assert table["contribution"].tolist() == [c["contribution"] for c in out["contributions"]]
    assert "".join(table["char"]) == AUSTEN[at - 59 : at + 1]
    assert (view.value, view.remainder, view.look_back(0.9)) == (out["value"], out["remainder"],
                                                                 out["look_back"]["90%"])
    figure = view.figure()
    fragment = figure._repr_html_()
    assert fragment.startswith('<div class="lv-snippet') and "<script" not in fragment
    assert f"command: lstmviz provenance austen.h5 --neuron {CELL} --at {at} --back 60" in fragment
    saved = figure.save(tmp_path / "where.svg")
    assert saved.read_text(encoding="utf-8").startswith("<?xml")
    cli_page = tmp_path / "cli" / "where.html"
    CliRunner().invoke(cli, ["provenance", str(made), "-n", CELL, "--at", str(at), "--back", "60", "-q",
                             "-o", str(cli_page)])
    assert figure.save(tmp_path / "api" / "where.html").read_bytes() == cli_page.read_bytes()
    with pytest.raises(OptionError, match="exists"):
        figure.save(tmp_path / "where.svg")
    assert len(parse(figure.to_html(fragment=False)).comments) == 1


def test_causal_gives_the_commands_scores(ex, made):
    out = cli_json("search", made, "--hypothesis", "quote", "--top", 3, "--causal", "--random", 5,
                   "--causal-chars", CHARS, "--json", "--no-cache")
    neurons = [u["neuron"] for u in out["units"]]
    df = ex.causal("quote", neurons, n_random=5, chars=CHARS)
    assert df["neuron"].tolist() == neurons
    for column in ("causal_delta_bits", "causal_percentile", "causal_inside_bits"):
        expected = [u[column] for u in out["units"]]
        assert df[column].tolist() == pytest.approx(expected, rel=1e-9)  # the JSON has 10 digits
    assert df.attrs["random"] == out["causal"]["random"]
    row = df.set_index("neuron").loc[CELL]
    assert row.causal_percentile == 100 and row.causal_delta_bits > 0.5


def test_the_model_is_found_once_and_can_be_given(made, tmp_path, monkeypatch):
    found = []
    real = model_source.model_for
    monkeypatch.setattr(model_source, "model_for", lambda *a, **k: found.append(a) or real(*a, **k))
    with lstmviz.open(made) as ex:
        first = ex.model()
        ex.intervene(f"{CELL}=zero", (10, 20))
        ex.causal("quote", CELL, n_random=2, chars=50)
        assert ex.model() is first and len(found) == 1
    shutil.copy(made, tmp_path / "moved.h5")
    checkpoint = Path(shutil.copy(made.parent / "quote.pt", tmp_path / "kept.pt"))
    hidden = made.parent / "quote.pt"
    hidden.rename(tmp_path / "away.pt")
    try:
        with lstmviz.open(tmp_path / "moved.h5") as ex:
            with pytest.raises(CheckpointError, match=r"^moved.h5 was extracted with 'quote.pt', which is "
                                                      r"not at .*; give it with --model PATH$"):
                ex.intervene(f"{CELL}=zero", (10, 20))
            ex.intervene(f"{CELL}=zero", (10, 20), model=checkpoint)
            assert ex.model().path == checkpoint  # kept for the calls after
            other = LoadedModel(quote_reading_model(40, 3.0), VOCAB, "lstmviz", Path("x.pt"), "1" * 64)
            with pytest.raises(ModelMismatch, match="give the model the file was extracted with$"):
                ex.model(other)
    finally:
        (tmp_path / "away.pt").rename(hidden)


def test_an_extraction_made_from_a_model_keeps_it(tmp_path):
    loaded = LoadedModel(quote_reading_model(40, 4.0), VOCAB, "lstmviz", tmp_path / "nowhere.pt", "0" * 64)
    with lstmviz.extract(loaded, AUSTEN[:600], device="cpu") as ex:
        assert ex.model() is loaded  # no checkpoint on disk to look for
        df = ex.causal("quote", CELL, n_random=3, chars=600)
    assert df["n_random"].tolist() == [3]


def test_bad_input_is_the_librarys_typed_error_and_pythons(ex):
    with pytest.raises(UnknownKey, match="^layer0.c has units 0..39; there is no unit 99$") as e:
        ex.intervene("layer0.c.99=zero", (1, 5))
    assert isinstance(e.value, KeyError)
    with pytest.raises(PositionOutOfRange) as e:
        ex.intervene(f"{CELL}=zero", (5, 10**6))
    assert isinstance(e.value, IndexError)
    with pytest.raises(OptionError, match="is not an edit"):
        ex.intervene(CELL, (1, 5))
    with pytest.raises(OptionError, match=r"^span=\(1.5, 3\): give the positions as \(start, stop\)"):
        ex.intervene(f"{CELL}=zero", (1.5, 3))
    with pytest.raises(UnknownKey, match="is a gate; provenance takes apart a cell state"):
        ex.provenance("layer0.gates.f.1", 5)
    with pytest.raises(IndexError, match="position 99999 is not in the text"):
        ex.provenance(CELL, 99999)
    with pytest.raises(KeyError):
        ex.causal("quote", ["layer3.c.0"])
    assert np.isfinite(ex.provenance(CELL, 30, back=5).table()["contribution"]).all()
