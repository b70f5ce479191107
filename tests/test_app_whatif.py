"""The "What if" panel's logic on a real checkpoint and a real extraction: edits, exports, scores, samples.

Every bad input the page can send is answered by one line in the panel, in the words the command
line uses for it; without the model, the panel says how to serve it.
"""

import base64
import shutil

import h5py
import numpy as np
import pytest
from extraction_files import TEXT, VOCAB, make_model, write_text

from app import whatif
from app.catalog import Catalog
from app.models import Models
from app.state import View
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.causal import causal_scores
from lstmviz.model.checkpoint import save_checkpoint

N = 12_000  # longer than the longest span the panel edits


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("whatif")
    save_checkpoint(d / "m.pt", make_model(1, 40, 8), VOCAB)
    save_checkpoint(d / "other.pt", make_model(1, 40, 8, seed=1), VOCAB)
    x = extract_file(d / "m.pt", write_text(d / "t.txt", (TEXT * 2)[:N]), d / "x.h5")
    return {"dir": d, "x": x, "model": d / "m.pt", "other": d / "other.pt"}


@pytest.fixture(scope="module")
def catalog(made):
    return Catalog.scan([made["x"]], Models())


def view(**changes) -> dict:
    return {**View("x", "layer0.c.3", pos=100, length=200).to_dict(), **changes}


def svg_of(image) -> str:
    return base64.b64decode(image.src.split(",", 1)[1]).decode("utf-8")


def test_apply_draws_the_figure_as_wide_as_the_pane_with_its_totals(catalog):
    figure, totals, shown = whatif.apply_reply(catalog, view(), "zero", "", "selection", "120:130", 600)
    svg = svg_of(figure[0])
    assert svg.startswith("<svg") and 'class="lv-strip lv-edited"' in svg
    assert 'class="lv-strip lv-delta"' in svg
    assert "lstmviz intervene x.h5 --edit layer0.c.3=zero --span 120:130 --after 500" in svg
    assert totals.startswith("Δloss ") and "bits over the span (10 chars" in totals
    assert shown == {"file": "x", "edit": "layer0.c.3=zero", "start": 120, "stop": 130, "columns": 31}
    lines = svg.count('<g class="lv-group">')
    assert lines >= 2  # 10 characters and the aftermath, wrapped at 31 columns
    for source, span in (("window", "100:300"), ("mark", "150:154")):
        marked = view(mark=150, mark_len=4)
        _, totals, shown = whatif.apply_reply(catalog, marked, "set", "0.5", source, "", 600)
        assert f"{shown['start']}:{shown['stop']}" == span, totals


@pytest.mark.parametrize(("op", "value", "edit"), [
    ("mean", "", "layer0.c.3=mean"), ("set", "-0.25", "layer0.c.3=set:-0.25"),
    ("scale", "2", "layer0.c.3=scale:2"), ("patch", "40", "layer0.c.3=patch:40"),
])
def test_every_operation_of_the_menu_is_an_edit_of_the_command_line(catalog, op, value, edit):
    _, totals, shown = whatif.apply_reply(catalog, view(), op, value, "selection", "200:210", 900)
    assert shown["edit"] == edit, totals


@pytest.mark.parametrize(("changes", "op", "value", "source", "selection", "line"), [
    ({"neuron": "layer0.c.99"}, "zero", "", "window", "",
     "Cannot edit: layer0.c has units 0..39; there is no unit 99"),
    ({}, "set", "abc", "window", "", "Cannot edit: set:abc: 'abc' is not a number; write e.g. set:0.5"),
    ({}, "set", "", "window", "", "Cannot edit: set needs V: type it in the value box, e.g. 0.5"),
    ({}, "zero", "", "selection", "11990:12010",
     "Cannot edit: span 11990:12010 is not within the text of x.h5 (0:12000); give START:END with "
     "0 <= START < END <= 12000"),
    ({}, "zero", "", "selection", "0:2001",
     "Cannot edit: the span 0:2001 is 2,001 characters long; edit at most 2,000 at once"),
    ({}, "zero", "", "selection", "",
     "Cannot edit: no span is selected; drag over the text to select one, or choose the mark or the window"),
    ({}, "zero", "", "selection", "a:b",
     "Cannot edit: 'a:b' is not a span; drag over the text again, or type START:END in By example"),
    ({}, "zero", "", "mark", "",
     "Cannot edit: no text is marked; mark some with Find, or choose the mouse selection or the window"),
    ({}, "patch", "99999", "window", "",
     "Cannot edit: patch position 99999 is not within the text of x.h5 (0:12000); give a position from "
     "0 to 11999"),
    ({}, "patch", "/etc/passwd@3", "window", "",
     "Cannot edit: patch takes a position of the file shown here; type P, e.g. 1200 (lstmviz intervene "
     "--edit NEURON=patch:FILE@POS patches from another file)"),
    ({}, "halve", "", "window", "",
     "Cannot edit: the page sent the operation 'halve'; choose one of zero, mean, set, scale, patch"),
])
def test_a_bad_request_is_one_line(catalog, changes, op, value, source, selection, line):
    figure, totals, shown = whatif.apply_reply(catalog, view(**changes), op, value, source, selection, 600)
    assert (figure, totals, shown) == ([], line, None)


def moved(made, tmp_path) -> Catalog:
    """The extraction, with its model moved where it does not look."""
    x = shutil.copy(made["x"], tmp_path / "x.h5")
    with h5py.File(x, "a") as f:
        f.attrs["model_source"] = str(tmp_path / "gone" / "m.pt")
        f.attrs["model_path"] = "gone.pt"
    return x


def test_without_its_model_the_panel_says_how_to_give_it(made, tmp_path):
    x = moved(made, tmp_path)
    catalog = Catalog.scan([x], Models())
    line = (f"x.h5 was extracted with 'gone.pt', which is not at {tmp_path}/gone/m.pt, {tmp_path}/gone.pt, "
            "gone.pt; give it with --model PATH (restart the dashboard as `lstmviz serve x.h5 --model PATH`)")
    assert whatif.model_line(catalog, view()) == line
    assert whatif.apply_reply(catalog, view(), "zero", "", "window", "", 600)[1] == f"Cannot edit: {line}"
    assert whatif.sample_reply(catalog, view(), "0.5", "", "20", "0")[0].children == f"Cannot sample: {line}"
    served = Catalog.scan([x], Models([made["model"]]))
    assert whatif.model_line(served, view()).startswith("Edits rerun m.pt (sha256 ")
    other = Catalog.scan([x], Models([made["other"]]))
    refused = whatif.apply_reply(other, view(), "zero", "", "window", "", 600)[1]
    assert refused.startswith(f"Cannot edit: {made['other']}: its sha256 ") and " differs from " in refused
    assert refused.endswith("(restart the dashboard as `lstmviz serve x.h5 --model PATH`)")


def test_a_file_without_the_state_to_start_from_is_one_line(made, tmp_path):
    x = shutil.copy(made["x"], tmp_path / "x.h5")
    with h5py.File(x, "a") as f:
        f["layer0/c"][119, 5] = np.nan
    catalog = Catalog.scan([x], Models([made["model"]]))
    assert whatif.apply_reply(catalog, view(), "zero", "", "selection", "120:130", 600)[1] == (
        "Cannot edit: x.h5 holds no usable state at position 119 (layer0.c is not finite there), which a "
        "rerun from 120 starts from; start the span elsewhere, or extract the text again with lstmviz "
        "extract")


def test_exports_write_the_figure_shown(catalog):
    _, _, shown = whatif.apply_reply(catalog, view(), "zero", "", "selection", "120:130", 600)
    download, refusal = whatif.export_reply(catalog, shown, "html")
    assert refusal is None and download["filename"] == "whatif_layer0.c.3_120.html"
    assert download["content"].startswith("<!DOCTYPE html>") and "lv-edited" in download["content"]
    svg, _ = whatif.export_reply(catalog, shown, "svg")
    assert svg["content"].startswith("<?xml") and svg["filename"].endswith(".svg")
    hostile = {**shown, "edit": "layer0.c.3=patch:/etc/passwd@3"}
    assert whatif.export_reply(catalog, hostile, "svg")[1].startswith("Cannot export: patch takes a position")
    assert whatif.export_reply(catalog, None, "svg") == (
        None, "Cannot export: there is no edit to export yet; press Apply first")
    assert whatif.export_reply(catalog, {**shown, "stop": 99_999}, "svg") == (
        None, "Cannot export: span 120:99999 is not within the text of x.h5 (0:12000); give START:END with "
              "0 <= START < END <= 12000")


def test_the_causal_score_compares_the_unit_with_30_random_units(catalog):
    neuron, states, model, why = whatif.causal_request(catalog, view())
    seen = []
    found = whatif.causal_work(states, model, neuron, 600, hypothesis=why,
                               progress=lambda done, n: seen.append((done, n)))
    assert found["n_random"] == 30 and found["chars"] == 600 and seen[-1] == (600, 600)
    [row] = found["rows"]  # opened for no hypothesis: every character only
    assert row["where"] == "every character" and row["positions"] == 600
    assert row["percentile"] == 100 * np.mean(np.array(row["random"]) < row["bits"])
    text = str(whatif.causal_panel(found))
    assert f"{row['bits']:+.4f} bits per character" in text and "of 30;" in text


def test_a_unit_opened_for_a_hypothesis_is_also_scored_where_the_search_scores_it(catalog):
    neuron, states, model, why = whatif.causal_request(catalog, {**view(), "why": "quote"})
    assert why == "quote"
    found = whatif.causal_work(states, model, neuron, 600, hypothesis=why)
    assert [r["where"] for r in found["rows"]][0] == "every character"
    searched = causal_scores(states, model, [("quote", str(neuron))], chars=600).iloc[0]
    rows = {r["where"]: r for r in found["rows"]}
    assert set(rows) == {"every character", "closing quote", "inside quote"}
    assert rows["closing quote"]["bits"] == pytest.approx(searched.causal_delta_bits, rel=1e-6)
    unreadable = whatif.causal_work(states, model, neuron, 50, hypothesis="([")  # a pattern RE2 refuses
    assert [r["where"] for r in unreadable["rows"]] == ["every character"]


def test_a_sample_with_the_cell_clamped_is_coloured_by_it(catalog):
    panel = whatif.sample_reply(catalog, view(), "0.9", "def ", "40", "3")
    note, listing = panel
    assert note.children.startswith("40 characters written with layer0.c.3 held at 0.9 (seed 3)")
    import json

    snip = json.loads(listing.to_plotly_json()["props"]["data-list"])[0]["snip"]
    assert snip["t"][:4] == ["d", "e", "f", " "] and len(snip["t"]) == 44 and snip["m"] == [4, 44]
    assert all(s is None or 0 <= s <= 1 for s in snip["s"]) and len(set(snip["s"])) > 3  # coloured
    again = whatif.sample_reply(catalog, view(), "0.9", "def ", "40", "3")
    assert json.loads(again[1].to_plotly_json()["props"]["data-list"]) == json.loads(
        listing.to_plotly_json()["props"]["data-list"])  # seeded


@pytest.mark.parametrize(("value", "prime", "length", "seed", "line"), [
    ("", "", "20", "0", "Cannot sample: type the value to hold layer0.c.3 at, e.g. 0.9"),
    ("big", "", "20", "0",
     "Cannot sample: 'big' is not a number; type the value to hold layer0.c.3 at, e.g. 0.9"),
    ("inf", "", "20", "0", "Cannot sample: set:inf: inf is not a finite number; write e.g. set:0.5"),
    ("1", "dé€f", "20", "0", "Cannot sample: the prime has 2 character(s) the model's vocabulary lacks: "
                             "'é'×1, '€'×1; remove them from --prime"),
    ("1", "", "5000", "0", "Cannot sample: the length is 5,000; type one from 1 to 1,000"),
    ("1", "", "ten", "0", "Cannot sample: the length 'ten' is not a whole number; type one from 1 to 1,000"),
    ("1", "", "20", "-1", "Cannot sample: the seed is -1; type one from 0 to 2,147,483,647"),
])
def test_a_bad_sample_request_is_one_line(catalog, value, prime, length, seed, line):
    assert whatif.sample_reply(catalog, view(), value, prime, length, seed)[0].children == line
