"""The "where from" mode in a real headless Chromium: toggle, click a character, see what wrote it.

A real extraction with float32 gates of the planted memory model (tests/memory_models.py): the
counter cell is written 1 by every character since the last newline, so a click on a character
shades exactly its line so far, and the legend gives the 50 % and 90 % look-backs.
"""

from pathlib import Path

import pytest
from browsing import require_chromium, shown
from memory_models import COUNTER, extract_memory
from memory_models import TEXT as MEMORY_TEXT

pytestmark = pytest.mark.browser

require_chromium()

TEXT = MEMORY_TEXT[:3000]
ORIGIN = TEXT.index("\n", 300) - 1  # the last character of a line
LINE = TEXT.rindex("\n", 0, ORIGIN) + 1  # its first character
NEURON = f"layer0.c.{COUNTER}"
# background colours of the cells at [a, b), by position
BACKGROUNDS = """([a, b]) => Array.from({length: b - a}, (_, k) => {
    const c = document.querySelector(`.lv-view .lv-ch[data-i="${a + k}"]`);
    return c ? getComputedStyle(c).backgroundColor : null;
})"""


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return extract_memory(tmp_path_factory.mktemp("wherefrom"), text=TEXT, gates=True, dtype="float32")


def test_a_click_in_where_from_mode_shades_what_wrote_the_cell(page, server):
    page.goto(server + f"?neuron={NEURON}&pos=0")
    shown(page, NEURON, 0)
    before = page.evaluate(BACKGROUNDS, [LINE, ORIGIN + 1])
    page.click("button.lv-wherefrom")
    assert page.get_attribute("button.lv-wherefrom", "aria-pressed") == "true"
    page.click(f'.lv-view .lv-ch[data-i="{ORIGIN}"]')
    page.wait_for_selector(f'.lv-view[data-origin="{ORIGIN}"][data-neuron="{NEURON}"]', timeout=10_000)
    assert page.locator(".lv-ch.lv-origin").get_attribute("data-i") == str(ORIGIN)
    assert page.locator("#lv-tip").count() == 0 or page.locator("#lv-tip").is_hidden()  # nothing pinned
    line = page.evaluate(BACKGROUNDS, [LINE, ORIGIN + 1])
    assert len(set(line)) == 1 and line != before  # every character of the line wrote the same 1
    white = "rgb(255, 255, 255)"
    assert set(page.evaluate(BACKGROUNDS, [ORIGIN + 1, ORIGIN + 30])) == {white}  # after: nothing
    legend = page.locator(".lv-legend").inner_text()
    n = ORIGIN - LINE + 1
    assert f"where {NEURON} at {ORIGIN:,} comes from" in legend
    assert f"50 % in the last {-(-n // 2):,}" in legend and "90 % in the last" in legend
    assert f"from={ORIGIN}" in page.url
    page.keyboard.press("Escape")  # ends it: the cell's own colours again
    page.wait_for_selector('.lv-view[data-origin="-1"]', timeout=10_000)
    assert page.evaluate(BACKGROUNDS, [LINE, ORIGIN + 1]) == before
    assert page.get_attribute("button.lv-wherefrom", "aria-pressed") == "false"
    assert "from=" not in page.url


def test_a_gate_says_in_the_page_why_it_has_no_provenance(page, server):
    page.goto(server + f"?neuron=layer0.gates.f.{COUNTER}&pos=0&from={ORIGIN}")
    page.wait_for_selector(f'.lv-view[data-neuron="layer0.gates.f.{COUNTER}"][data-origin="-1"]')
    assert "is a gate; provenance takes apart a cell state" in page.locator("#message").inner_text()


def test_the_profile_and_the_saturation_plot_show_the_memory_horizons(page, server):
    page.goto(server + f"?neuron={NEURON}&pos=0")
    shown(page, NEURON, 0)
    page.wait_for_selector(".lv-horizon .lv-hbar-this", timeout=10_000)  # the profile tab is open first
    assert f"Memory horizon of {NEURON}: median" in page.locator(".lv-horizon h4").inner_text()
    page.get_by_text("Gate saturation", exact=True).click()
    page.wait_for_selector(".lv-side .js-plotly-plot .colorbar", timeout=10_000)
    assert "median horizon" in page.locator(".lv-side .js-plotly-plot .colorbar").text_content()
