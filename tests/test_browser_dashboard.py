"""The dashboard in a real headless Chromium (Debian's `chromium`), driven by Playwright.

The app runs in a background thread on a free 127.0.0.1 port, on a small real extraction. Each
test ends by checking that the browser logged no console errors.
"""

import math
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from browsing import require_chromium, shown
from dashboard_files import TEXT, build

pytestmark = pytest.mark.browser

require_chromium()

from app.catalog import cached_states  # noqa: E402
from app.data import export  # noqa: E402
from lstmviz.render import style  # noqa: E402
from lstmviz.render.palette import colours, display_range, display_values  # noqa: E402
from lstmviz.render.spec import ExportSpec  # noqa: E402


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("browser") / "tiny.h5")


def cells(page) -> dict[int, tuple[str, str]]:
    """Every character cell on screen: position -> (text, computed background as #rrggbb)."""
    found = page.eval_on_selector_all(".lv-view .lv-ch[data-i]", """els => els.map(e => [
        Number(e.dataset.i), e.textContent, getComputedStyle(e).backgroundColor])""")
    def hex_of(rgb):
        return "#" + "".join(f"{int(v):02x}" for v in re.findall(r"\d+", rgb)[:3])
    return {i: (text, hex_of(bg)) for i, text, bg in found}


def stored_colours(h5, neuron: str, start: int, stop: int, palette: str = "blog") -> list[str]:
    name, unit = neuron.rsplit(".", 1)
    kind = name.split(".", 1)[1]
    with h5py.File(h5, "r") as f:
        raw = f["/" + name.replace(".", "/")][start:stop, int(unit)].astype(np.float32)
    return colours(display_values(kind, raw), palette, *display_range(kind))


def test_colours_match_the_stored_activations(page, server, h5, tmp_path):
    page.goto(server + "?neuron=layer1.c.3&pos=100")
    shown(page, "layer1.c.3", 100)
    on_screen = cells(page)
    assert sorted(on_screen) == list(range(100, 600))
    expected = stored_colours(h5, "layer1.c.3", 100, 600)
    assert [on_screen[i][1] for i in range(100, 600)] == expected
    letters = [i for i in range(100, 600) if TEXT[i].isalnum()]
    assert all(on_screen[i][0] == TEXT[i] for i in letters)
    assert page.locator(".lv-strip[data-rank]").count() > 0  # the top-5 strips are drawn
    width = page.eval_on_selector('.lv-ch[data-i="100"]', "e => getComputedStyle(e).width")
    assert width == f"{style.COL_PX}px"  # exported snippets' geometry (lstmviz/render/style.py) applies
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_flicking_through_units_with_buttons_and_keys(page, server, h5):
    page.goto(server + "?neuron=layer0.h.3&pos=0")
    shown(page, "layer0.h.3", 0)
    page.click("#unit-next")
    shown(page, "layer0.h.4")
    page.keyboard.press("]")
    shown(page, "layer0.h.5")
    page.keyboard.press("[")
    shown(page, "layer0.h.4")
    assert "neuron=layer0.h.4" in page.url
    on_screen = cells(page)
    assert [on_screen[i][1] for i in range(500)] == stored_colours(h5, "layer0.h.4", 0, 500)
    page.click("#kind")
    page.get_by_role("option", name="forget gate").click()
    shown(page, "layer0.gates.f.4")
    on_screen = cells(page)
    assert [on_screen[i][1] for i in range(500)] == stored_colours(h5, "layer0.gates.f.4", 0, 500)


def test_moving_the_window_and_finding_text(page, server):
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.click("#page-next")
    shown(page, "layer1.c.0", 500)
    page.keyboard.press("ArrowLeft")
    shown(page, "layer1.c.0", 0)
    page.fill("#position", "2000")
    page.press("#position", "Enter")
    shown(page, "layer1.c.0", 2000)
    assert "pos=2000" in page.url
    first = TEXT.index("object", 2000 + 1)  # searched from the current window on
    page.fill("#find-text", "object")
    page.press("#find-text", "Enter")
    page.wait_for_selector(f'.lv-ch.lv-mark[data-i="{first}"]')
    marked = page.eval_on_selector_all(".lv-ch.lv-mark", "els => els.map(e => Number(e.dataset.i))")
    assert marked == list(range(first, first + len("object")))
    page.click("#find-next")
    page.wait_for_selector(f'.lv-ch.lv-mark[data-i="{TEXT.index("object", first + 1)}"]')
    page.get_by_label("condensed text").check()
    page.wait_for_selector(".lv-view.lv-prose:not([data-more])")
    assert "mode=prose" in page.url
    assert page.locator(".lv-strip").count() == 0
    start = int(page.locator(".lv-view").get_attribute("data-start"))
    assert len(cells(page)) == min(5000, len(TEXT) - start)


def tip_at(page, server, neuron: str, pos: int) -> str:
    """The details box of position ``pos`` (hovered) in the window from 300 of ``neuron``."""
    page.goto(server + f"?neuron={neuron}&pos=300")
    shown(page, neuron, 300)
    page.hover(f'.lv-ch[data-i="{pos}"]')
    tip = page.locator("#lv-tip")
    tip.wait_for(state="visible")
    return tip.inner_text()


def test_hover_shows_exact_numbers(page, server, h5):
    text = tip_at(page, server, "layer0.gates.f.2", 345)
    with h5py.File(h5, "r") as f:
        value = float(f["/layer0/gates/f"][345, 2])
        p_next = float(f["predictions/p_next"][345])
    assert "position 345" in text
    assert f"value {value:.4f}" in text
    assert f"p = {p_next:.4f}" in text


def test_hover_on_c_shows_it_and_its_tanh(page, server, h5):
    text = tip_at(page, server, "layer1.c.3", 345)
    with h5py.File(h5, "r") as f:
        c = float(f["/layer1/c"][345, 3])
    assert f"layer1.c.3: c = {c:.4f}, tanh(c) = {math.tanh(c):.4f}" in text


def test_profile_lists_contexts_that_jump_to_the_text(page, server):
    page.goto(server + "?neuron=layer1.c.5&pos=0")
    shown(page, "layer1.c.5", 0)
    first = page.locator(".lv-ctx").first
    first.wait_for()
    target = int(re.search(r"position ([\d,]+)", first.get_attribute("title")).group(1).replace(",", ""))
    first.click()
    page.wait_for_selector(f'.lv-ch.lv-mark[data-i="{target}"]')
    assert f"mark={target}-{target + 1}" in page.url


def test_gate_saturation_point_opens_its_unit(page, server):
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.get_by_text("Gate saturation").click()
    point = page.locator(".scatterlayer .point").first
    point.wait_for()
    point.click(force=True)
    page.wait_for_function("!document.querySelector('.lv-view').dataset.neuron.startsWith('layer1.c.')")
    assert ".gates." in page.locator(".lv-view").get_attribute("data-neuron")


def test_export_downloads_what_lstmviz_export_writes(page, server, h5):
    page.goto(server + "?neuron=layer1.c.2&pos=40&len=200")
    shown(page, "layer1.c.2", 40)
    width = int(page.get_attribute(".lv-view", "data-width"))  # the export wraps where the screen does
    with page.expect_download() as download:
        page.click("#export-html")
    spec = ExportSpec(["layer1.c.2"], 40, 200, strips=True, palette="blog", raw_c=False, format="html",
                      width=width)
    name, text = export(cached_states(h5), spec, source_name=h5.name)
    assert download.value.suggested_filename == name == "layer1.c.2_40.html"
    assert Path(download.value.path()).read_text(encoding="utf-8") == text


def test_a_bad_url_gives_messages_not_a_blank_page(page, server):
    page.goto(server + "?file=nope&neuron=layer9.h.0&pos=99999999")
    shown(page, "layer1.c.0")
    message = page.locator(".lv-message").inner_text()
    assert "file 'nope' is not on this server" in message
    assert "has no activation 'layer9.h'" in message
    assert "past the end of the text" in message


def test_out_of_range_numbers_typed_in_the_boxes_get_messages(page, server):
    page.goto(server + "?neuron=layer1.c.3&pos=0")
    shown(page, "layer1.c.3", 0)
    message = page.locator(".lv-message")
    page.fill("#position", "500")
    page.press("#position", "Enter")
    shown(page, "layer1.c.3", 500)
    page.fill("#position", "100000")
    page.press("#position", "Enter")
    shown(page, "layer1.c.3", len(TEXT) - 500)
    assert "position 100,000 is past the end of the text" in message.inner_text()
    assert page.input_value("#position") == str(len(TEXT) - 500)
    page.fill("#position", "-5")
    page.press("#position", "Enter")
    shown(page, "layer1.c.3", 0)
    assert "position -5 is before the start; showing position 0" in message.inner_text()
    page.fill("#position", "")
    page.press("#position", "Enter")
    page.wait_for_function("document.querySelector('.lv-message').innerText.includes('type a position')")
    page.click("#go")
    shown(page, "layer1.c.3", 0)
    for typed in ("300", "2.5", "-1"):
        page.fill("#unit", typed)
        page.press("#unit", "Enter")
        said = f"document.querySelector('.lv-message').innerText.includes('there is no unit {typed}:')"
        page.wait_for_function(said)
        assert page.input_value("#unit") == "3"
    assert "there is no unit -1: units run from 0 to 15" in message.inner_text()
    page.fill("#unit", "7")
    page.press("#unit", "Enter")
    shown(page, "layer1.c.7", 0)


def test_a_custom_ranking_stays_while_its_units_are_opened(page, server):
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.get_by_text("Find units").click()
    results = page.locator("#search-results")
    page.fill("#search-pattern", r"\(")
    page.click("#search-run")
    page.wait_for_selector("#search-results .lv-link")
    assert results.inner_text().startswith(r"pattern \(")
    first = page.locator("#search-results .lv-link").first
    neuron = first.inner_text()
    first.click()
    shown(page, neuron)
    page.keyboard.press("]")
    page.wait_for_timeout(500)  # give a stray refresh of the panel the time to arrive
    assert results.inner_text().startswith(r"pattern \(")
    assert page.locator("#search-results .lv-link").first.inner_text() == neuron
