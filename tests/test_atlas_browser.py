"""The Atlas tab in headless Chromium: it builds the page, shows it inert, and opens a card's unit."""

import shutil

import pytest
from browsing import require_chromium, shown
from search_models import COLUMN, shared_file

pytestmark = pytest.mark.browser

require_chromium()

from lstmviz.search.atlas import build_atlas  # noqa: E402
from lstmviz.store.reader import open_states  # noqa: E402


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("atlas") / "planted.h5"
    shutil.copy(shared_file("planted", "python"), path)
    return path


def test_the_atlas_tab_builds_the_page_and_opens_a_card_in_the_view(page, server, h5):
    with open_states(h5) as states:
        card = build_atlas(states).tracked["column"][0]
    assert card.neuron.endswith(f".{COLUMN}")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "?neuron=layer0.h.5&pos=0")
    shown(page, "layer0.h.5", 0)
    page.get_by_text("Atlas", exact=True).click()
    page.click("#atlas-run")
    page.wait_for_selector("iframe.lv-atlas-page", timeout=60_000)
    frame = page.frame_locator("iframe.lv-atlas-page")
    assert frame.locator("h1").inner_text() == "Cell atlas of planted.h5"
    assert frame.locator(f'.card[data-neuron="{card.neuron}"]').count() >= 1
    assert frame.locator("script, a, img, link").count() == 0
    assert all(url.startswith(server) for url in requests)  # the page fetches nothing of its own
    page.click(f'.lv-atlas-open button:text-is("{card.neuron}") >> nth=0')
    shown(page, card.neuron)
    page.wait_for_selector(f'.lv-ch.lv-mark[data-i="{card.contexts[0]}"]', timeout=10_000)
    assert f"neuron={card.neuron}" in page.url and f"mark={card.contexts[0]}-" in page.url
