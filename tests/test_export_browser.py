"""Exported snippets rendered by headless Chromium: computed colours, layout, and isolation."""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from browsing import chromium_context, console_errors, require_chromium

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab
from lstmviz.render.export import render
from lstmviz.render.palette import colours, strip_colours
from lstmviz.render.spec import ExportSpec
from lstmviz.render.style import COL_PX
from lstmviz.store.reader import open_states

pytestmark = pytest.mark.browser

require_chromium()

TEXT = 'He said "<b>no</b> &amp; </div>" -->\n\tif (a < b) { return 1; }\n' * 4
NEURONS = ["layer1.c.3", "layer0.gates.f.2"]
# A host page whose generic rules would reshape any figure that relied on browser defaults,
# and an element outside the figure that shares its class names.
HOST = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body{{margin:16px}}
span{{padding:6px;margin:3px;font-size:30px;letter-spacing:4px;display:block;color:red}}
div{{margin:20px;padding:9px;line-height:3;white-space:normal;font-family:serif;background:yellow}}
.lv-band{{background:red}}
</style></head><body><div class="lv-band" id="host">host text</div>
{fragment}</body></html>"""


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    vocab = Vocab.from_text(TEXT)
    torch.manual_seed(1)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=2, n_hidden=8, n_embd=8)).eval()
    with torch.no_grad():
        for p in model.lstm.parameters():
            p.mul_(6.0)
    loaded = LoadedModel(model, vocab, "lstmviz", Path("model.pt"), "sha")
    return extract(loaded, vocab.encode(TEXT), tmp_path_factory.mktemp("b") / "b.h5",
                   Options(gates=True))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def open_page(browser, path: Path):
    """Load a file, recording every request and console error it causes."""
    page = browser.new_page()
    requests, errors = [], console_errors(page)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    return page, requests, errors


def hex_of(rgb: str) -> str:
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def expected(h5: Path, neuron: str, start: int, stop: int) -> list[str]:
    name, unit = neuron.rsplit(".", 1)
    with h5py.File(h5) as f:
        values = f["/" + name.replace(".", "/")][start:stop, int(unit)].astype(np.float32)
    if name.endswith(".c"):
        return colours(np.tanh(values), "blog", -1.0, 1.0)
    return colours(values, "blog", 0.0, 1.0)


# A character's position: its band's data-start and its place among the band's cells.
CELLS_JS = """(sel) => Array.from(document.querySelectorAll(sel)).map(e => {
    const r = e.getBoundingClientRect();
    const band = e.closest('[data-neuron]');
    const cells = band ? Array.from(band.children).filter(c => !c.classList.contains('lv-label')) : [];
    return {bg: getComputedStyle(e).backgroundColor, fill: getComputedStyle(e).fill,
            neuron: band ? band.dataset.neuron : null,
            i: band ? Number(band.dataset.start) + cells.indexOf(e) : null, x: r.x, y: r.y,
            w: r.width, h: r.height};
})"""
BAND = ".lv-band > span:not(.lv-label)"
# Each row of an SVG: its paths' computed fills and boxes (one path of boxes per colour).
SVG_ROWS_JS = """() => Array.from(document.querySelectorAll('g[data-neuron]')).map(g => [
    g.dataset.neuron, Number(g.dataset.start),
    Array.from(g.querySelectorAll(':scope > path')).map(p => [getComputedStyle(p).fill,
                                                               p.getAttribute('d')])])"""


def svg_fills(rows: list, neuron: str, col: float) -> list[tuple[int, str]]:
    """(position, fill) of each cell of a neuron's rows, cut from the boxes of its paths."""
    out = []
    for name, start, paths in rows:
        if name != neuron:
            continue
        cells = {round(float(x) / col) + k: hex_of(fill) for fill, d in paths
                 for x, w in re.findall(r"M([\d.]+) 0h([\d.]+)v", d) for k in range(round(float(w) / col))}
        out += [(start + k, cells[k]) for k in sorted(cells)]
    return out


def test_computed_backgrounds_equal_the_stored_activations_colours(browser, h5, tmp_path):
    start, length = 3, 120
    with open_states(h5) as states:
        page_html = render(states, ExportSpec(NEURONS, start, length, strips=True, width=30))
        svg_text = render(states, ExportSpec(NEURONS, start, length, strips=True, width=30, format="svg"))
    (tmp_path / "fig.html").write_text(page_html, encoding="utf-8")
    (tmp_path / "fig.svg").write_text(svg_text, encoding="utf-8")
    with h5py.File(h5) as f:
        probs = f["/predictions/top_probs"][start:start + length]

    page, requests, errors = open_page(browser, tmp_path / "fig.html")
    cells = page.evaluate(CELLS_JS, BAND)
    for neuron in NEURONS:
        mine = [c for c in cells if c["neuron"] == neuron]
        assert [int(c["i"]) for c in mine] == list(range(start, start + length))
        assert [hex_of(c["bg"]) for c in mine] == expected(h5, neuron, start, start + length)
    strips = page.evaluate(CELLS_JS, ".lv-strip[data-rank='1'] > span:not(.lv-label)")
    assert [hex_of(c["bg"]) for c in strips] == strip_colours(probs[:, 0])
    # every top-1 cell sits exactly under the character it belongs to
    first_band = [c for c in cells if c["neuron"] == NEURONS[0]]
    assert [round(c["x"], 2) for c in strips] == [round(c["x"], 2) for c in first_band]
    assert all(s["y"] > c["y"] for s, c in zip(strips, first_band, strict=True))
    assert requests == [(tmp_path / "fig.html").as_uri()] and errors == []
    page.close()

    page, requests, errors = open_page(browser, tmp_path / "fig.svg")
    fills = svg_fills(page.evaluate(SVG_ROWS_JS), NEURONS[1], COL_PX)
    assert [i for i, _ in fills] == list(range(start, start + length))
    assert [fill for _, fill in fills] == expected(h5, NEURONS[1], start, start + length)
    assert requests == [(tmp_path / "fig.svg").as_uri()] and errors == []
    page.close()


@pytest.mark.parametrize("strips", [False, True])
def test_a_hostile_host_page_and_the_fragment_leave_each_other_alone(browser, h5, tmp_path, strips):
    options = dict(strips=strips, width=40, title="Title", caption="Caption")
    with open_states(h5) as states:
        alone = render(states, ExportSpec(NEURONS, 0, 90, **options))
        fragment = render(states, ExportSpec(NEURONS, 0, 90, fragment=True, **options))
    (tmp_path / "alone.html").write_text(alone, encoding="utf-8")
    (tmp_path / "host.html").write_text(HOST.format(fragment=fragment), encoding="utf-8")

    def geometry(path: Path):
        page, _, errors = open_page(browser, path)
        origin = page.evaluate("() => { const r = document.querySelector('.lv-snippet')"
                               ".getBoundingClientRect(); return [r.x, r.y]; }")
        cells = page.evaluate(CELLS_JS, ".lv-snippet span, .lv-snippet div")
        host = page.evaluate("() => { const e = document.getElementById('host'); if (!e) return null;"
                             " const s = getComputedStyle(e); return [s.backgroundColor, s.whiteSpace]; }")
        page.close()
        assert errors == []
        shape = [(round(c["x"] - origin[0], 1), round(c["y"] - origin[1], 1), round(c["w"], 1),
                  round(c["h"], 1), c["bg"]) for c in cells]
        return shape, host

    alone_shape, _ = geometry(tmp_path / "alone.html")
    hosted_shape, host = geometry(tmp_path / "host.html")
    assert hosted_shape == alone_shape  # the host's rules do not reach into the figure
    assert host[0] == "rgb(255, 0, 0)" and host[1] == "normal"  # nor the figure's into the host
