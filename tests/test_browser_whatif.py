"""The What if tab in a real headless Chromium: a drag over the text, Apply, the figure; a clamped sample."""

import base64
from pathlib import Path

import pytest
from browsing import require_chromium, shown
from extraction_files import TEXT, VOCAB, make_model, write_text

pytestmark = pytest.mark.browser

require_chromium()

from lstmviz.extraction.extract import extract_file  # noqa: E402
from lstmviz.model.checkpoint import save_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    """An extraction whose checkpoint is where it recorded, so the dashboard finds the model."""
    d = tmp_path_factory.mktemp("whatif-page")
    save_checkpoint(d / "m.pt", make_model(2, 16, 8), VOCAB)
    return extract_file(d / "m.pt", write_text(d / "t.txt", TEXT[:3000]), d / "x.h5")


def drag(page, a: int, b: int) -> None:
    """Drag the mouse from the character at ``a`` to the one at ``b - 1``."""
    first, last = (page.locator(f'.lv-ch[data-i="{i}"]') for i in (a, b - 1))
    first.scroll_into_view_if_needed()
    start, end = first.bounding_box(), last.bounding_box()
    page.mouse.move(start["x"] + 4, start["y"] + 8)
    page.mouse.down()
    page.mouse.move((start["x"] + end["x"]) / 2, end["y"] + 8, steps=4)
    page.mouse.move(end["x"] + 4, end["y"] + 8, steps=2)
    page.mouse.up()


def test_an_ablation_over_a_dragged_span_and_a_clamped_sample(page, server):
    page.goto(server + "?neuron=layer1.c.5&pos=0")
    shown(page, "layer1.c.5", 0)
    page.get_by_text("What if", exact=True).click()
    page.wait_for_function("() => document.getElementById('whatif-model').innerText"
                           ".startsWith('Edits rerun m.pt')")
    drag(page, 40, 52)
    page.click("#whatif-apply")  # zero, over the mouse selection: the defaults
    page.wait_for_selector("#whatif-figure img.lv-whatif-figure", timeout=10_000)
    page.wait_for_function("() => document.querySelector('#whatif-figure img').naturalWidth > 0")
    totals = page.locator("#whatif-totals").inner_text()
    assert totals.startswith("Δloss ") and "bits over the span (12 chars" in totals
    src = page.get_attribute("#whatif-figure img", "src")
    svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
    assert "--edit layer1.c.5=zero --span 40:52" in svg and 'class="lv-strip lv-edited"' in svg
    box = page.locator("#whatif-figure img").bounding_box()
    pane = page.locator("#whatif-figure").bounding_box()
    assert box["width"] <= pane["width"] + 1  # as wide as the pane at most
    page.fill("#whatif-clamp", "0.9")
    page.fill("#whatif-length", "60")
    page.click("#whatif-sample")
    page.wait_for_selector("#whatif-sample-result .lv-snip .lv-sc", timeout=10_000)
    cells = page.locator("#whatif-sample-result .lv-snip .lv-sc")
    assert cells.count() == 60
    colours = {cells.nth(i).evaluate("c => getComputedStyle(c).backgroundColor") for i in range(0, 60, 6)}
    assert len(colours) > 2  # coloured by the unit, not one flat colour
    assert "held at 0.9" in page.locator("#whatif-sample-result").inner_text()
