"""The before/after figure of an intervention, read from its HTML and SVG, on a model whose answer is known.

The hand-built model (tests/search_models.py) has its quote cell in unit 0 and a decoder that reads
that cell alone: the logit of '"' is W * h_0 and every other logit is 0, with h_0 = tanh(c_0). Outside
a quotation c_0 = -1, so '"' is the least likely symbol; holding c_0 at 1 makes it the most likely.
So over a span outside quotes that ends just before an opening '"', the edit changes the first guess
at every position, hurts wherever the next symbol is not '"' (red), and helps at the last one, where
it is (blue); by how much is computed by hand.
"""

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner
from search_models import AUSTEN, VOCAB, quote_reading_model

from lstmviz.cli import cli
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.edits import EditSpec
from lstmviz.intervene.intervention import intervene
from lstmviz.intervene.model_source import model_for
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.render import style
from lstmviz.render.intervention import before_after, intervention_command
from lstmviz.store.reader import open_states

H, W = 40, 4.0
TEXT = AUSTEN[:3000]
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("figure")
    save_checkpoint(d / "quote.pt", quote_reading_model(H, W), VOCAB)
    (d / "austen.txt").write_text(TEXT, encoding="utf-8")
    return extract_file(d / "quote.pt", d / "austen.txt", d / "austen.h5")


def outside_before_quote(states) -> tuple[int, int]:
    """13 positions outside quotes, with no '"' in them, the last one just before an opening '"'."""
    c = states.window("layer0.c", 0, len(TEXT), 0)
    for p in range(12, len(TEXT) - 1):
        if TEXT[p + 1] == '"' and (c[p - 12 : p + 1] < -0.9).all() and '"' not in TEXT[p - 12 : p + 1]:
            return p - 12, p + 1
    raise AssertionError("no such span")


@pytest.fixture(scope="module")
def result(made):
    with open_states(made) as states:
        a, b = outside_before_quote(states)
        r = intervene(states, model_for(states).model, [EditSpec.parse("layer0.c.0=set:1")], a, b)
        html = before_after(states, r, command="lstmviz intervene austen.h5 --edit layer0.c.0=set:1")
        svg = before_after(states, r, command="lstmviz intervene austen.h5 --edit layer0.c.0=set:1",
                           fmt="svg")
    return r, html, svg


def bits_by_hand(h: float, nxt: str) -> float:
    """-log2 p(next) when the logit of '"' is W * h and every other of the V logits is 0."""
    top = W * h if nxt == '"' else 0.0
    return -(top - math.log(math.exp(W * h) + len(VOCAB) - 1)) / math.log(2)


def test_the_edit_does_what_the_wiring_says(result):
    r, _, _ = result
    span = r.positions < r.stop
    assert set(r.positions[span]) <= set(r.top1_changed)  # '"' is the first guess all over the span
    sym = np.asarray(VOCAB.symbols)
    assert (sym[r.top_ids[span, 0]] == '"').all() and (sym[r.base_top_ids[span, 0]] != '"').all()
    by_hand = [bits_by_hand(math.tanh(1.0), n) - bits_by_hand(math.tanh(-1.0), n)
               for n in r.next_symbols[: span.sum()]]
    assert np.allclose(r.delta_bits[span], by_hand, atol=2e-3)  # the stored c is -1 to float16
    assert (r.delta_bits[span][:-1] > 0).all() and r.delta_bits[span][-1] < 0


class Rows(HTMLParser):
    """The rows of a figure's HTML: each div of a display line with the classes and titles of its cells."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.text: list[str] = []
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div" and ({"lv-band", "lv-strip"} & set(classes)):
            self._row = {"class": classes, "rank": a.get("data-rank"), "start": a.get("data-start"),
                         "cells": []}
            self.rows.append(self._row)
        elif tag == "span" and self._row is not None:
            self._row["cells"].append(classes)
        elif tag == "div":
            self._row = None

    def handle_endtag(self, tag):
        if tag == "div":
            self._row = None

    def handle_data(self, data):
        self.text.append(data)

    def joined(self, kind: str, rank: str | None = None) -> list[list[str]]:
        """The cells of every row of one kind, display line after display line."""
        return [c for row in self.rows if kind in row["class"] and row["rank"] == rank
                and (kind != "lv-strip" or {"lv-edited", "lv-delta", "lv-misses"}.isdisjoint(row["class"]))
                for c in row["cells"]]


def colour_sign(cls: str) -> int:
    """-1 for a cell of the Δ scale on the blue side, +1 on the red side (however pale)."""
    r, _, b = (int(style.class_colour(cls, "blog")[i : i + 2], 16) for i in (1, 3, 5))
    return int(np.sign(r - b))


def test_the_html_figure_shows_both_strips_the_changes_and_the_signs(result):
    r, html, _ = result
    rows = Rows()
    rows.feed(html)
    n = len(r.positions)
    band = rows.joined("lv-band")
    assert len(band) == n
    assert [k for k, c in enumerate(band) if "lv-in" in c] == list(range(r.stop - r.start))  # the span
    for rank in "12345":
        assert len(rows.joined("lv-strip", rank)) == n
        assert len(rows.joined("lv-edited", rank)) == n
    first = rows.joined("lv-edited", "1")
    changed = [r.start + k for k, c in enumerate(first) if "lv-changed" in c]
    assert changed == r.top1_changed.tolist() and changed[: r.stop - r.start] == list(range(r.start, r.stop))
    assert not any("lv-changed" in c for c in rows.joined("lv-strip", "1"))  # only the edited run's
    delta = rows.joined("lv-delta")
    signs = [colour_sign(next(x for x in c if x.startswith("d"))) for c in delta]
    clear = np.abs(np.nan_to_num(r.delta_bits)) > 0.02 * np.nanmax(np.abs(r.delta_bits))
    assert clear.sum() > 20
    assert np.array_equal(np.array(signs)[clear], np.sign(r.delta_bits[clear]))
    k = r.stop - r.start
    assert signs[:k] == [1] * (k - 1) + [-1]  # hurt, then helped at the opening quote
    text = "".join(rows.text)
    assert "blue = the edit helped, red = it hurt" in text
    assert re.search(r"Δloss, bits: blue.*-\d", text)  # the diverging scale's ends
    totals = r.totals()
    assert f"Δloss {totals['delta_bits_span']:+.4f} bits over the span" in text
    assert f"first guess changed at {len(r.top1_changed)} position(s)" in text
    assert "<script" not in html and "command: lstmviz intervene austen.h5" in html


def test_the_svg_figure_marks_the_same_positions(result):
    r, _, svg = result
    root = ET.fromstring(svg)
    assert root.get("width") == "100%" and root.get("viewBox")  # scales to its holder
    assert "lstmviz intervene austen.h5 --edit layer0.c.0=set:1" in root.find(SVG_NS + "metadata").text
    groups = root.findall(f"{SVG_NS}g[@class='lv-group']")
    changed, reds, blues = [], [], []
    sign = {}
    for group in groups:
        start = int(group.find(f"{SVG_NS}g[@class='lv-band']").get("data-start"))
        edited = group.find(f"{SVG_NS}g[@class='lv-strip lv-edited'][@data-rank='1']")
        for path in edited.findall(f"{SVG_NS}path[@class='lv-changed']"):
            xs = re.findall(r"M([\d.]+) ", path.get("d"))
            changed += [start + round((float(x) - 1) / style.COL_PX) for x in xs]
        for path in group.find(f"{SVG_NS}g[@class='lv-strip lv-delta']").findall(f"{SVG_NS}path"):
            s = colour_sign(path.get("class"))
            boxes = re.findall(r"M([\d.]+) [\d.]+h([\d.]+)", path.get("d"))
            for x, w in boxes:
                for k in range(round(float(w) / style.COL_PX)):
                    sign[start + round(float(x) / style.COL_PX) + k] = s
    assert sorted(changed) == r.top1_changed.tolist()
    assert len(sign) == len(r.positions)
    reds = [p for p in range(r.start, r.stop) if sign[p] > 0]
    blues = [p for p in range(r.start, r.stop) if sign[p] < 0]
    assert reds == list(range(r.start, r.stop - 1)) and blues == [r.stop - 1]
    assert len(groups[0].findall(f"{SVG_NS}g[@class='lv-strip lv-edited']")) == 5


def test_the_command_recreates_the_figure(made, tmp_path):
    out = tmp_path / "fig.svg"
    with open_states(made) as states:
        a, b = outside_before_quote(states)
    args = ["intervene", str(made), "--edit", "layer0.c.0=set:1", "--span", f"{a}:{b}", "-o", str(out)]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert f"wrote {out}" in done.output
    svg = out.read_text()
    assert intervention_command(str(made), ["layer0.c.0=set:1"], a, b, output=str(out)) in svg
    assert f"lstmviz intervene austen.h5 --edit layer0.c.0=set:1 --span {a}:{b} -o fig.svg" in svg
    again = CliRunner().invoke(cli, args)  # never overwritten without --force
    assert again.exit_code == 1
    assert again.output == (f"Error: {out} already exists; pass --force to replace it, "
                            "or choose -o OTHER.svg\n")
    out.write_text("old")
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0 and out.read_text() == svg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg"]  # written through a temporary
    html = tmp_path / "fig.html"
    assert CliRunner().invoke(cli, [*args[:-1], str(html)]).exit_code == 0
    assert html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("output", "message"), [
    ("fig.png", "Error: -o fig.png: name the figure .html or .svg\n"),
    ("INPUT", "Error: {input}: -o names an input of this run; choose another output file\n"),
])
def test_a_figure_that_cannot_be_written_is_refused_before_the_run(made, tmp_path, output, message):
    target = str(tmp_path / output)
    if output == "INPUT":  # a name that looks like a figure but is the extraction itself
        target = str(tmp_path / "link.svg")
        (tmp_path / "link.svg").symlink_to(made)
    before = made.read_bytes()
    done = CliRunner().invoke(cli, ["intervene", str(made), "--edit", "layer0.c.0=zero", "--span", "10:20",
                                    "-o", target, "--force"])
    assert done.exit_code == 1
    expected = message.format(input=made.resolve()).replace("fig.png", target)
    assert done.output == expected
    assert made.read_bytes() == before


def test_a_file_without_the_state_to_start_from_is_one_line(made, tmp_path):
    import shutil

    import h5py

    damaged = shutil.copy(made, tmp_path / "austen.h5")
    with h5py.File(damaged, "a") as f:
        f["layer0/c"][99, 0] = np.nan
    done = CliRunner().invoke(cli, ["intervene", str(damaged), "--edit", "layer0.c.0=zero", "--span",
                                    "100:110", "--model", str(made.parent / "quote.pt")])
    assert done.exit_code == 1
    assert done.output == ("Error: austen.h5 holds no usable state at position 99 (layer0.c is not finite "
                           "there), which a rerun from 100 starts from; start the span elsewhere, or extract "
                           "the text again with lstmviz extract\n")
