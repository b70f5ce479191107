"""The page a researcher works in, in a real headless Chromium: layout, jumps, requests, by example.

Every jump (a context, a ranked unit, a place found by example, a find match, a typed position)
must land its mark inside the viewport, on a wide screen where text and panels sit side by side
and on a narrow one where they stack; a step through units must cost one request and recolour the
cells already drawn; a drag over the text must feed the search by example.
"""

import json
import time
from pathlib import Path

import pytest
from browsing import require_chromium, shown
from dashboard_files import TEXT, build

pytestmark = pytest.mark.browser

require_chromium()

from app.catalog import cached_states  # noqa: E402
from lstmviz.errors import SearchError  # noqa: E402
from lstmviz.search.by_example import example_units  # noqa: E402

# Whether the character at a position is on screen and not covered: inside the viewport, and the
# element at its centre is the cell itself (not hidden by the text pane's own scrolling).
IN_VIEW = """pos => {
    const c = document.querySelector(`.lv-view .lv-ch[data-i="${pos}"]`);
    if (!c) return false;
    const r = c.getBoundingClientRect();
    const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth &&
        !!at && at.closest('.lv-ch') === c;
}"""


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("page") / "tiny.h5")


def mark_in_view(page, pos: int) -> None:
    """Wait until the jump has marked ``pos`` and put it on screen (fails if it does not)."""
    page.wait_for_selector(f'.lv-view .lv-ch.lv-mark[data-i="{pos}"]')
    page.wait_for_function(IN_VIEW, arg=pos, timeout=5_000)


def scroll_to_panels(page) -> None:
    """Scroll down to the side pane's end, as a user reading a panel does: the side pane itself
    when it scrolls apart from the text, else the page; the text is left at its top."""
    page.evaluate("""() => {
        const side = document.querySelector('.lv-side');
        side.scrollTop = side.scrollHeight;
        window.scrollTo(0, document.body.scrollHeight);
        document.querySelector('.lv-host').scrollTop = 0;
    }""")


def open_tab(page, name: str) -> None:
    page.get_by_text(name, exact=True).click()


def example_span(h5) -> tuple[int, int]:
    """A span of the tiny file where some unit of layer1.h is on throughout and off around it."""
    states = cached_states(h5)
    for start in range(2000, 4000, 3):
        try:
            example_units(states, start, start + 4, name="layer1.h")
        except SearchError:
            continue
        return start, start + 4
    raise AssertionError("no span with units")


@pytest.mark.parametrize("width", [1400, 800])
def test_every_jump_lands_the_mark_in_view(page, server, h5, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(server + "?neuron=layer1.c.5&pos=0")
    shown(page, "layer1.c.5", 0)

    # a context of the profile, low in its list
    contexts = page.locator("#profile .lv-ctx")
    contexts.nth(15).wait_for()
    target = json.loads(contexts.nth(15).get_attribute("data-jump"))["pos"]
    scroll_to_panels(page)
    contexts.nth(15).click()
    mark_in_view(page, target)

    # a ranked unit opens at its best context, with a caption that says why
    open_tab(page, "Find units")
    page.click("#search-run")
    link = page.locator("#search-results .lv-link").nth(3)
    link.wait_for(timeout=60_000)
    opens = json.loads(link.get_attribute("data-jump"))
    scroll_to_panels(page)
    link.click()
    shown(page, opens["neuron"])
    mark_in_view(page, opens["start"])
    assert page.locator("#caption").inner_text().startswith(f"{opens['neuron']} (")
    assert " tracks quote (" in page.locator("#caption").inner_text()

    # a place found by example
    a, b = example_span(h5)
    open_tab(page, "By example")
    page.fill("#example-span", f"{a}:{b}")
    page.click("#example-run")
    place = page.locator("#example-results .lv-ctx").nth(4)
    place.wait_for(timeout=30_000)
    where = json.loads(place.get_attribute("data-jump"))
    scroll_to_panels(page)
    place.click()
    mark_in_view(page, where["start"])

    # a find match, and a typed position
    page.evaluate("window.scrollTo(0, 0)")
    needle = next(w for w in ("object", "return", "self", "e") if w in TEXT[where["start"] + 1:])
    page.fill("#find-text", needle)
    page.press("#find-text", "Enter")
    mark_in_view(page, TEXT.index(needle, where["start"] + 1))  # searched on from the marked place
    page.evaluate("document.querySelector('.lv-host').scrollTop = 1e6")
    page.fill("#position", "4321")
    page.press("#position", "Enter")
    page.wait_for_selector('.lv-view[data-start="4321"]')
    page.wait_for_function(IN_VIEW, arg=4321, timeout=5_000)


def test_side_by_side_when_wide_stacked_when_narrow(page, server):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server + "?neuron=layer1.c.5&pos=0")
    shown(page, "layer1.c.5", 0)
    page.locator("#profile .lv-ctx").first.wait_for()
    boxes = """() => ['.lv-text-pane', '.lv-side'].map(s => {
        const r = document.querySelector(s).getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width};
    })"""
    text, side = page.evaluate(boxes)
    assert side["left"] >= text["right"] and abs(side["top"] - text["top"]) < 60  # side by side
    assert text["width"] > 700 and side["width"] > 380
    assert text["bottom"] <= 900 and side["bottom"] <= 900  # both fit the screen and scroll inside
    assert text["bottom"] - text["top"] > 600
    scroll_to_panels(page)  # down the side pane's contexts
    assert page.evaluate(boxes)[0] == text  # the text stays where it was

    page.set_viewport_size({"width": 800, "height": 900})
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("document.querySelector('.lv-side').getBoundingClientRect().top >"
                           " document.querySelector('.lv-text-pane').getBoundingClientRect().bottom - 1")
    text, side = page.evaluate(boxes)
    assert side["top"] >= text["bottom"] - 1 and abs(side["left"] - text["left"]) < 2  # stacked
    assert abs(side["width"] - text["width"]) < 2 and text["width"] > 700
    assert text["bottom"] < 900 + 200  # the panels start within a short scroll, not 1,300 px down


def requests_during(page, action) -> list[dict]:
    """The dashboard's server requests sent while ``action`` runs, as their JSON bodies."""
    sent: list[dict] = []

    def record(request):
        if "_dash-update-component" in request.url:
            sent.append(json.loads(request.post_data))

    page.on("request", record)
    try:
        action()
        time.sleep(0.6)  # anything else asked for would have been sent by now
    finally:
        page.remove_listener("request", record)
    return sent


def test_a_flick_is_one_request_and_recolours_the_cells_in_place(page, server):
    page.goto(server + "?neuron=layer0.h.3&pos=0")
    shown(page, "layer0.h.3", 0)
    open_tab(page, "Find units")  # no panel that follows the unit: the step alone
    time.sleep(0.5)
    page.evaluate("document.querySelector('.lv-ch[data-i=\"7\"]').dataset.kept = 'yes'")

    def flick():
        page.keyboard.press("]")
        shown(page, "layer0.h.4", 0)

    sent = requests_during(page, flick)
    assert len(sent) == 1 and sent[0]["output"].startswith("..view-state.data")
    assert page.get_attribute('.lv-ch[data-i="7"]', "data-kept") == "yes"  # the same cell, recoloured

    open_tab(page, "Neuron profile")
    page.wait_for_selector("#profile .lv-hist svg")
    time.sleep(0.5)
    page.evaluate("""() => {
        window.order = [];
        const view = document.querySelector('.lv-view');
        new MutationObserver(() => window.order.push('text ' + view.dataset.neuron))
            .observe(view, {attributes: true, attributeFilter: ['data-neuron']});
        const fetch0 = window.fetch;
        window.fetch = function (url, options) {
            window.order.push('request ' + JSON.parse(options.body).output.split('.')[2]);
            return fetch0.apply(this, arguments);
        };
    }""")

    def flick_with_profile():
        page.keyboard.press("]")
        shown(page, "layer0.h.5", 0)
        page.wait_for_function("window.order.includes('request profile')", timeout=5_000)  # when idle

    sent = requests_during(page, flick_with_profile)
    assert len(sent) == 2  # the step, then the open profile of the new unit
    order = page.evaluate("window.order")
    assert order[:3] == ["request view-state", "text layer0.h.5", "request profile"]  # text first


def test_a_drag_over_the_text_searches_by_example(page, server, h5):
    a, b = example_span(h5)
    page.goto(server + f"?neuron=layer1.h.0&pos={a - 40}")
    shown(page, "layer1.h.0", a - 40)
    first, last = (page.locator(f'.lv-ch[data-i="{i}"]') for i in (a, b - 1))
    first.scroll_into_view_if_needed()
    start, end = first.bounding_box(), last.bounding_box()
    page.mouse.move(start["x"] + 4, start["y"] + 8)
    page.mouse.down()
    page.mouse.move((start["x"] + end["x"]) / 2, end["y"] + 8, steps=4)
    page.mouse.move(end["x"] + 4, end["y"] + 8, steps=2)
    page.mouse.up()
    assert page.locator(".lv-ch.lv-sel").count() == b - a  # the drag shows what it selects
    go = page.locator("#lv-example-go")
    go.wait_for(state="visible")
    assert go.inner_text() == f"Units on over {a:,}–{b:,} ▸"
    go.click()
    page.wait_for_selector("#example-results .lv-results", timeout=30_000)
    assert page.input_value("#example-span") == f"{a}:{b}"
    assert f"of layer1.h are on over {a:,}–{b:,}" in page.locator("#example-results").inner_text()
    count = page.locator("#example-count").inner_text()
    assert " unit(s) at threshold " in count and " other place(s)" in count
    # the slider searches the same span again at another threshold, and says what that gives
    handle = page.locator("#example-threshold [role=slider]").first
    handle.focus()
    page.keyboard.press("End")
    page.wait_for_function("t => document.getElementById('example-count').innerText !== t", arg=count,
                           timeout=30_000)
    page.wait_for_selector("#example-results .lv-results")
    assert f"of layer1.h are on over {a:,}–{b:,}" in page.locator("#example-results").inner_text()
    assert " unit(s) at threshold " in page.locator("#example-count").inner_text()


def test_the_span_box_follows_the_mark_and_bad_spans_get_one_line(page, server):
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(server + "?neuron=layer1.h.0&pos=0")
    shown(page, "layer1.h.0", 0)
    page.fill("#find-text", "object")
    page.press("#find-text", "Enter")
    first = TEXT.index("object")
    page.wait_for_selector(f'.lv-ch.lv-mark[data-i="{first}"]')
    open_tab(page, "By example")
    assert page.input_value("#example-span") == f"{first}:{first + 6}"  # the marked text
    for typed, said in ((f"{first}:{first + 1}", f"span {first}:{first + 1} is one character"),
                        (f"0:{len(TEXT)}", f"span 0:{len(TEXT)} is the whole text")):
        page.fill("#example-span", typed)
        page.click("#example-run")
        notice = page.locator("#example-results .lv-notice")
        notice.wait_for()
        page.wait_for_function("s => document.getElementById('example-results').innerText.includes(s)",
                               arg=said)
        assert notice.count() == 1 and notice.inner_text().startswith(f"Cannot search by example: {said}")
    page.keyboard.press("]")
    shown(page, "layer1.h.1")
    assert not [u for u in fetched if "favicon" in u]  # the icon is part of the page


def test_hostile_text_is_drawn_as_text_in_every_panel(browser, tmp_path):
    from browsing import console_errors, serving

    from app.app import create_app

    bait = 'say "<img src=x onerror=window.pwned=1>" then </span><script>window.pwned=2</script> & done\n'
    h5 = build(tmp_path / "hostile.h5", text=bait * 60)
    with serving(create_app([h5])) as url:
        page = browser.new_page()
        errors = console_errors(page)
        page.goto(url + "?neuron=layer1.c.0&pos=0")
        shown(page, "layer1.c.0", 0)
        page.locator("#profile .lv-ctx .lv-snip").first.wait_for()
        open_tab(page, "Find units")
        page.click("#search-run")
        page.locator("#search-results .lv-snip").first.wait_for(timeout=60_000)
        open_tab(page, "By example")
        page.fill("#example-span", f"{bait.index('<img')}:{bait.index('>') + 1}")
        page.click("#example-run")
        page.wait_for_selector("#example-results .lv-notice")
        hostile = ".lv-app img, .lv-app script, #lv-tip img"
        assert page.locator(hostile).count() == 0 and page.evaluate("window.pwned") is None
        assert "<script>window.pwned=2</script>" in page.locator(".lv-view").inner_text().replace("\n", "")
        page.close()
    assert errors == []
