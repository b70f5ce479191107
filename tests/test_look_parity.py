"""The dashboard's view and an exported snippet of the same span look the same, in headless Chromium.

The dashboard draws its grid in the browser (assets/lstmviz.js) from palette indices; the export
writes every colour into HTML on the server (lstmviz/render/html.py). Both are meant to use the same
lookup tables, glyphs and legend, so here the same span is rendered both ways, and every character
cell, prediction cell and legend swatch is compared by its *computed* style. The Export buttons
must download exactly the bytes that ``lstmviz export`` writes for the same view.

The extraction is a real one of a seeded tiny model whose layer1 unit COUNTER is wired to count
characters (input and forget gates open, candidate +1), so its raw c grows into the thousands,
like the post's line-length cell; raw-c colours and legend ends are checked on that scale too.
"""

import os
import re
import tempfile
from pathlib import Path

import pytest
import torch
from browsing import require_chromium
from click.testing import CliRunner
from dashboard_files import ATTRS, TEXT

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab
from lstmviz.store.reader import open_states

pytestmark = pytest.mark.browser

require_chromium()

from app.state import View, to_query  # noqa: E402
from lstmviz.cli import cli  # noqa: E402
from lstmviz.render.export import render  # noqa: E402
from lstmviz.render.spec import ExportSpec  # noqa: E402

N_HIDDEN = 16
COUNTER = 5  # layer1.c.5 counts characters: c_t = c_(t-1) + 1
KEY = "parity"  # the file's key in the dashboard's URL (its stem)

# Everything a reader sees of a cell: its position, the glyph, its background and its text colour.
# The dashboard's cells carry their position (data-i); an export's follow its band's data-start.
CELLS_JS = """sel => Array.from(document.querySelectorAll(sel + ' .lv-band > span:not(.lv-label)')).map(e => {
    const s = getComputedStyle(e);
    const band = e.parentElement;
    const at = e.dataset.i !== undefined ? Number(e.dataset.i)
        : Number(band.dataset.start) + Array.from(band.children).indexOf(e);
    return [at, e.textContent, s.backgroundColor, s.color];
})"""
# The guesses, with the outline of the true next character (bold, inset box shadow).
STRIPS_JS = """root => [1, 2, 3, 4, 5].map(r => Array.from(
    document.querySelectorAll(root + ' .lv-strip[data-rank="' + r + '"] > span')).map(e => {
        const s = getComputedStyle(e);
        return [e.textContent, s.backgroundColor, s.color, s.fontWeight, s.boxShadow];
    }))"""
# The row of misses: the true next character where no guess named it.
MISSES_JS = """root => Array.from(document.querySelectorAll(root + ' .lv-misses > span')).map(e => {
    const s = getComputedStyle(e);
    return [e.textContent, s.backgroundColor, s.color, s.boxShadow, e.getBoundingClientRect().width];
})"""
LEGEND_JS = """root => Array.from(document.querySelectorAll(root + ' .lv-scale:not(.lv-scale-note)'))
  .map(e => [
    e.textContent.split(/\\s+/).filter(Boolean).join(' '),
    Array.from(e.querySelectorAll('.lv-key')).map(k => getComputedStyle(k).backgroundColor)])"""


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    vocab = Vocab.from_text(TEXT)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=2, n_hidden=N_HIDDEN, n_embd=8)).eval()
    with torch.no_grad():
        for p in model.lstm.parameters():
            p.mul_(4.0)  # spread the other units over the colour scale
        rows = [gate * N_HIDDEN + COUNTER for gate in range(4)]  # torch's i, f, g, o rows of the unit
        model.lstm.weight_ih_l1[rows] = 0.0
        model.lstm.weight_hh_l1[rows] = 0.0
        model.lstm.bias_hh_l1[rows] = 0.0
        model.lstm.bias_ih_l1[rows] = torch.tensor([30.0, 30.0, 30.0, 0.0])  # i = f = 1, g = 1
    loaded = LoadedModel(model, vocab, "lstmviz", Path("tiny.pt"), "sha")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = extract(loaded, vocab.encode(TEXT), tmp_path_factory.mktemp("parity") / f"{KEY}.h5",
                       Options(gates=True), attrs=ATTRS)
    finally:
        torch.set_num_threads(threads)
    with open_states(path) as states:  # the wiring works: a counter far outside tanh's range
        assert states.window("layer1.c", 3000, 3001, COUNTER)[0] > 1000
    return path


def open_view(page, server: str, view: View) -> None:
    """Open the dashboard at a view and wait until the grid and its legend show exactly it."""
    page.goto(server + to_query(view))
    page.wait_for_selector(f'.lv-view[data-neuron="{view.neuron}"][data-start="{view.pos}"]'
                           f'[data-palette="{view.palette}"]:not([data-more])', timeout=10_000)
    quantity = ("c" if view.raw_c else "tanh(c)") if ".c." in view.neuron else None
    if quantity:  # raw c is not on the grid's attributes; the legend names it
        page.wait_for_function("name => Array.from(document.querySelectorAll('.lv-scale-name'))"
                               ".some(e => e.textContent === name)", arg=f"{view.neuron}: {quantity}")


def looks(page, text: str, legend: str) -> dict:
    """The computed look of a figure's character cells, prediction strips and legend."""
    return {
        "cells": page.evaluate(CELLS_JS, text),
        "strips": page.evaluate(STRIPS_JS, text),
        "misses": page.evaluate(MISSES_JS, text),
        "legend": page.evaluate(LEGEND_JS, legend),
    }


VIEWS = [
    View(KEY, "layer1.c.3", pos=1200, length=200, palette="blog"),
    View(KEY, "layer1.c.3", pos=1200, length=200, palette="diverging"),
    View(KEY, "layer1.c.3", pos=1200, length=200, palette="colorblind"),
    View(KEY, "layer1.c.3", pos=1200, length=200, palette="blog", raw_c=True),
    View(KEY, f"layer1.c.{COUNTER}", pos=2000, length=200, palette="diverging", raw_c=True),
    View(KEY, "layer0.gates.f.2", pos=300, length=200, palette="colorblind"),
]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: f"{v.neuron}-{v.palette}{'-raw' if v.raw_c else ''}")
def test_the_view_and_its_export_show_the_same_colours(page, server, h5, view):
    open_view(page, server, view)
    on_screen = looks(page, "#grid .lv-view", "#legend")
    with open_states(h5) as states:
        html = render(states, ExportSpec([view.neuron], view.pos, view.length, palette=view.palette,
                                         strips=True, raw_c=view.raw_c))
    page.set_content(html)
    exported = looks(page, ".lv-snippet", ".lv-snippet")

    positions = list(range(view.pos, view.pos + view.length))
    assert [c[0] for c in on_screen["cells"]] == positions
    assert [c[0] for c in exported["cells"]] == positions
    assert len({c[2] for c in on_screen["cells"]}) > 3  # a real spread of colours, not one flat band
    assert on_screen["cells"] == exported["cells"]  # glyph, background and text colour, cell by cell
    assert [len(rank) for rank in on_screen["strips"]] == [view.length] * 5
    assert on_screen["strips"] == exported["strips"]
    assert any(weight == "700" for rank in on_screen["strips"] for _, _, _, weight, _ in rank)  # hits
    assert on_screen["misses"] == exported["misses"]
    assert any(text for text, *_ in on_screen["misses"])  # and misses, drawn alike
    assert len(on_screen["legend"]) == 2  # the neuron's scale and the prediction strips' scale
    assert on_screen["legend"] == exported["legend"]


def cli_export(tmp_path: Path, h5: Path, args: list[str]) -> tuple[str, bytes]:
    """Run ``lstmviz export`` without -o in an empty folder: (the file name it chose, its bytes)."""
    folder = tmp_path / "cli"
    folder.mkdir(exist_ok=True)
    here = os.getcwd()
    os.chdir(tempfile.mkdtemp(dir=folder))  # a fresh empty folder for each export
    try:
        result = CliRunner().invoke(cli, ["export", str(h5), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        written = Path(result.output.strip()).resolve()
    finally:
        os.chdir(here)
    return written.name, written.read_bytes()


EXPORTS = [
    # the grid shows the prediction strips, so its export has them
    (View(KEY, f"layer1.c.{COUNTER}", pos=40, length=200, palette="diverging", raw_c=True),
     ["--neuron", f"layer1.c.{COUNTER}", "--start", "40", "--length", "200", "--strips",
      "--palette", "diverging", "--raw-c"]),
    # condensed text has no strips; its last page ends at the text's end
    (View(KEY, "layer0.h.7", pos=len(TEXT) - 5000, length=5000, mode="prose", palette="colorblind"),
     ["--neuron", "layer0.h.7", "--start", str(len(TEXT) - 5000), "--length", "5000",
      "--palette", "colorblind"]),
]


@pytest.mark.parametrize(("view", "options"), EXPORTS, ids=["grid", "prose"])
def test_export_buttons_download_what_the_cli_writes(page, server, h5, tmp_path, view, options):
    open_view(page, server, view)
    width = page.get_attribute(".lv-view", "data-width")  # where the screen wraps, as the export does
    for button, fmt in (("#export-html", "html"), ("#export-svg", "svg")):
        with page.expect_download() as download:
            page.click(button)
        name, data = cli_export(tmp_path, h5, [*options, "--width", width, "--format", fmt])
        assert download.value.suggested_filename == name == f"{view.neuron}_{view.pos}.{fmt}"
        downloaded = Path(download.value.path()).read_bytes()
        assert downloaded == data
        command = re.search(r"command: (.*)", data.decode("utf-8")).group(1)
        assert command.startswith(f"lstmviz export {h5.name} --neuron {view.neuron}")


def test_copy_fragment_puts_the_views_fragment_on_the_clipboard_wrapped_as_on_screen(page, server, h5,
                                                                                     tmp_path):
    view = View(KEY, "layer1.c.3", pos=1200, length=200)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    open_view(page, server, view)
    width = page.get_attribute(".lv-view", "data-width")
    lines_js = "sel => Array.from(document.querySelectorAll(sel + ' .lv-band')).map(b => b.children.length)"
    on_screen = page.evaluate(lines_js, "#grid")
    page.click("#copy-fragment")
    page.wait_for_selector("#copy-fragment:has-text('Copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    _, data = cli_export(tmp_path, h5, ["--neuron", "layer1.c.3", "--start", "1200", "--length", "200",
                                        "--strips", "--fragment", "--width", width])
    assert copied == data.decode("utf-8")
    assert copied.startswith('<div class="lv-snippet lv-')
    page.set_content(copied)
    assert page.evaluate(lines_js, ".lv-snippet") == on_screen and len(on_screen) > 1


def test_after_the_window_is_resized_an_export_wraps_where_the_screen_now_does(page, server):
    view = View(KEY, "layer1.c.3", pos=1200, length=200)
    open_view(page, server, view)
    before = page.get_attribute(".lv-view", "data-width")
    page.set_viewport_size({"width": 900, "height": 1000})  # stacked: the text pane changes width
    page.wait_for_function("w => document.querySelector('.lv-view').dataset.width !== w", arg=before)
    now = page.get_attribute(".lv-view", "data-width")
    with page.expect_download() as download:
        page.click("#export-html")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert int(now) != int(before)
    assert re.search(r"command: .* --width (\d+)", text).group(1) == now
