"""The dashboard's keyboard shortcuts and narrow-screen layout, in a real headless Chromium.

Keys must work whatever non-text control has the focus, and count every press even when presses
come faster than the server answers (key auto-repeat); so must clicks on the unit and page step
buttons. Panels must stay usable at 500 px.
"""

import time
from pathlib import Path

import pytest
from browsing import require_chromium, shown
from dashboard_files import TEXT, build

pytestmark = pytest.mark.browser

require_chromium()

LAST_PAGE = len(TEXT) - 500  # the last grid page ends at the end of the text
# ink(el): where an element's text is drawn, even where it spills out of the element's box
INK = """window.ink = el => {
    const r = document.createRange();
    r.selectNodeContents(el);
    return r.getBoundingClientRect();
}"""


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("keys") / "tiny.h5")


def start_of(page) -> int:
    return int(page.locator(".lv-view").get_attribute("data-start"))


def focused(page) -> str:
    """The focused element, as "INPUT radio" or "SPAN slider"."""
    return page.evaluate("e => e.tagName + ' ' + (e.type || e.getAttribute('role'))",
                         page.evaluate_handle("document.activeElement"))


def test_keys_after_the_condensed_text_radio(page, server):
    page.goto(server + "?neuron=layer0.h.3&pos=0")
    shown(page, "layer0.h.3", 0)
    page.get_by_label("condensed text").check()
    page.wait_for_selector(".lv-view.lv-prose")
    assert focused(page) == "INPUT radio"
    page.keyboard.press("ArrowRight")  # a radio's own arrow keys would switch back to the grid
    shown(page, "layer0.h.3", len(TEXT) - 5000)
    page.keyboard.press("]")
    shown(page, "layer0.h.4")
    assert page.locator(".lv-view.lv-prose").count() == 1
    assert "mode=prose" in page.url


def test_keys_after_the_raw_c_checkbox(page, server):
    page.goto(server + "?neuron=layer1.c.3&pos=0")
    shown(page, "layer1.c.3", 0)
    page.click("#raw-c input")
    page.wait_for_url("**raw=1**")
    assert focused(page) == "INPUT checkbox"
    page.keyboard.press("]")
    shown(page, "layer1.c.4")
    page.keyboard.press("ArrowRight")
    shown(page, "layer1.c.4", 500)
    page.keyboard.press("[")
    shown(page, "layer1.c.3", 500)
    assert page.locator("#raw-c input").is_checked()


def test_keys_after_clicking_the_slider_move_a_page(page, server):
    page.goto(server + "?neuron=layer0.c.1&pos=0")
    shown(page, "layer0.c.1", 0)
    box = page.locator("#slider").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
    page.wait_for_function("document.querySelector('.lv-view').dataset.start !== '0'")
    assert focused(page) == "SPAN slider"
    start = start_of(page)
    page.keyboard.press("ArrowRight")  # the slider's own arrow keys move it by one character
    shown(page, "layer0.c.1", min(start + 500, LAST_PAGE))
    page.keyboard.press("]")
    shown(page, "layer0.c.2")


def test_keys_after_a_dropdown_but_not_in_text_boxes(page, server):
    page.goto(server + "?neuron=layer0.h.3&pos=0")
    shown(page, "layer0.h.3", 0)
    page.click("#palette")
    page.get_by_role("option", name="diverging").click()
    page.wait_for_selector('.lv-view[data-palette="diverging"]')
    page.keyboard.press("]")
    shown(page, "layer0.h.4")
    page.click("#find-text")
    page.keyboard.type("[x]")
    assert page.input_value("#find-text") == "[x]"
    page.keyboard.press("ArrowLeft")
    time.sleep(0.5)
    assert "neuron=layer0.h.4&pos=0&" in page.url


def test_quick_presses_all_count(page, server):
    page.goto(server + "?neuron=layer1.h.3&pos=0")
    shown(page, "layer1.h.3", 0)
    for _ in range(10):  # about key auto-repeat speed: faster than the server answers
        page.keyboard.press("]")
        time.sleep(0.03)
    shown(page, "layer1.h.13", 0)
    for _ in range(6):
        page.keyboard.press("ArrowRight")
        time.sleep(0.03)
    shown(page, "layer1.h.13", 3000)
    for _ in range(15):  # 13 + 5 wraps around the 16 units
        page.keyboard.press("[")
        time.sleep(0.03)
    shown(page, "layer1.h.14", 3000)
    time.sleep(0.5)  # nothing still on its way changes the view
    assert page.input_value("#unit") == "14"
    assert "neuron=layer1.h.14&pos=3000&" in page.url


def clicks(page, button: str, times: int) -> None:
    """Click a button ``times`` times, 30 ms apart: faster than the server answers."""
    page.evaluate("""([id, times]) => new Promise(done => {
        let left = times;
        const tick = () => {
            document.getElementById(id).click();
            if (--left > 0) setTimeout(tick, 30);
            else done();
        };
        tick();
    })""", [button, times])


def test_quick_clicks_all_count(page, server):
    page.goto(server + "?neuron=layer1.h.0&pos=0")
    shown(page, "layer1.h.0", 0)
    clicks(page, "unit-prev", 1)  # wraps from the first unit to the last
    shown(page, "layer1.h.15", 0)
    page.go_back()  # a click is a step in the history, as typing the unit would be
    shown(page, "layer1.h.0", 0)
    page.go_forward()
    shown(page, "layer1.h.15", 0)
    clicks(page, "unit-next", 10)
    shown(page, "layer1.h.9", 0)
    clicks(page, "page-next", 6)
    shown(page, "layer1.h.9", 3000)
    time.sleep(0.5)  # nothing still on its way changes the view
    assert page.input_value("#unit") == "9"
    assert page.input_value("#position") == "3000"
    assert "neuron=layer1.h.9&pos=3000&" in page.url


def test_a_step_asks_the_server_only_for_what_it_changes(page, server):
    """A unit step needs new colours (and the open profile), a page step a new text window and its
    colours; the search, example and saturation panels depend on the file alone. The text's window
    and colours come in the reply to the step itself: one request redraws the text."""
    import json

    replies: list = []
    page.on("response", lambda r: replies.append(r) if "_dash-update-component" in r.url else None)
    page.goto(server + "?neuron=layer0.h.3&pos=0")
    shown(page, "layer0.h.3", 0)
    for tab in ("Find units", "Gate saturation"):  # their panels get built once
        page.get_by_text(tab, exact=True).click()
        time.sleep(0.5)
    page.get_by_text("Neuron profile", exact=True).click()
    page.wait_for_selector("#profile .lv-hist svg")
    time.sleep(0.5)
    for press, then, needs in (("]", ("layer0.h.4", 0), [{"values-data"}, {"profile"}]),
                               ("ArrowRight", ("layer0.h.4", 500), [{"window-data", "values-data"}])):
        replies.clear()
        page.keyboard.press(press)
        shown(page, *then)
        time.sleep(0.5)  # anything else asked for would have been sent by now
        answered = [set(json.loads(r.body())["response"]) for r in replies if r.status == 200]
        content = [r & {"values-data", "window-data", "profile", "search-results", "example-results",
                        "saturation"} for r in answered]
        assert content == needs, answered


def test_wide_panel_content_scrolls_on_a_narrow_screen(page, server):
    page.set_viewport_size({"width": 500, "height": 900})
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.get_by_text("Find units").click()
    page.click("#search-run")
    table = page.wait_for_selector("#search-results table")
    scroller = table.evaluate_handle("""t => {
        let e = t.parentElement;
        while (e && !/auto|scroll/.test(getComputedStyle(e).overflowX)) e = e.parentElement;
        return e;
    }""").as_element()
    assert scroller is not None
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    last, view = page.evaluate("""([t, s]) => [t.querySelector('th:last-child').getBoundingClientRect().right,
                                                s.getBoundingClientRect().right]""", [table, scroller])
    assert last <= view + 1  # the last column can be scrolled into view


def test_where_else_ranges_stay_clear_of_their_snippets(page, server):
    page.add_init_script(INK)
    page.goto(server + "?neuron=layer1.h.0&pos=0")
    shown(page, "layer1.h.0", 0)
    page.get_by_text("By example", exact=True).click()
    page.fill("#example-span", "2000:2006")
    page.click("#example-run")
    page.wait_for_selector("#example-results .lv-ctx")
    for width in (1300, 500):
        page.set_viewport_size({"width": width, "height": 900})
        rows = page.eval_on_selector_all("#example-results .lv-ctx", """els => els.map(b => {
            const [score, range, text] = [...b.children].map(ink);
            return [b.children[1].textContent, score.right, range.left, range.right, text.left];
        })""")
        assert any("," in r[0] for r in rows)  # positions of four digits and more are among them
        for _, score_right, range_left, range_right, text_left in rows:
            assert score_right <= range_left and range_right <= text_left


def test_slider_end_label_is_clear_of_the_find_box(page, server):
    page.add_init_script(INK)
    page.goto(server + "?neuron=layer1.h.0&pos=0")
    shown(page, "layer1.h.0", 0)
    end, find = page.evaluate("""() => [
        ink([...document.querySelectorAll('#slider .dash-slider-mark')].pop()).right,
        document.getElementById('find-text').getBoundingClientRect().left]""")
    assert end <= find


def test_pushes_titles_are_clear_of_the_characters(page, server):
    page.add_init_script(INK)
    page.goto(server + "?neuron=layer1.h.0&pos=0")
    page.wait_for_selector(".lv-push-title")
    gaps = page.eval_on_selector_all(".lv-push-title", """els => els.map(t =>
        ink(t.nextElementSibling).left - ink(t).right)""")
    assert len(gaps) == 2 and min(gaps) >= 4  # "down:" is clear of the first character
