"""The search panel in a real headless Chromium: a ranking runs in the background, shows its
progress, leaves the page usable, and is stopped by a newer pattern; the language menu.

The app runs in this process (tests/conftest.py), so a test can slow every block of a ranking
down to watch it; each test ends by checking that the browser logged no console errors.
"""

import time
from pathlib import Path

import pytest
from browsing import require_chromium, shown
from dashboard_files import build

pytestmark = pytest.mark.browser

require_chromium()

from app.catalog import cached_states  # noqa: E402
from lstmviz.search import cache, scoring  # noqa: E402
from lstmviz.search.hypotheses import pattern_hypothesis  # noqa: E402


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("browser-search") / "tiny.h5")


@pytest.fixture
def slow(monkeypatch):
    """Every block of a ranking takes 0.5 s more (12 activations: about 6 s a ranking)."""
    update = scoring.ProgressBar.update

    def slowly(self, n):
        time.sleep(0.5)
        update(self, n)

    monkeypatch.setattr(scoring.ProgressBar, "update", slowly)


def test_a_ranking_runs_in_the_background_and_a_new_pattern_stops_it(page, server, h5, slow):
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.get_by_text("Find units").click()
    page.fill("#search-pattern", r"\(")
    page.click("#search-run")
    bar = page.locator("#search-results progress")
    bar.wait_for(timeout=10_000)
    first = float(bar.get_attribute("value"))
    page.wait_for_function("Number(document.querySelector('#search-results progress').value) > "
                           f"{first}", timeout=10_000)
    assert "Ranking units against /\\(/" in page.locator("#search-results").inner_text()
    # The page answers while the ranking runs: another unit opens.
    page.fill("#unit", "7")
    page.press("#unit", "Enter")
    shown(page, "layer1.c.7", 0)
    assert bar.count() == 1  # still ranking
    # A new pattern stops the one still running, and its ranking is shown instead.
    page.fill("#search-pattern", "def")
    page.press("#search-pattern", "Enter")
    page.wait_for_function("document.querySelector('#search-results').innerText.startsWith('pattern def:')",
                           timeout=20_000)
    results = page.locator("#search-results").inner_text()
    assert "Text read as python (detected: " in results
    assert page.locator("#search-results .lv-link").count() == 20
    kept = {p.name for p in cache.cache_dir(cached_states(h5).path).iterdir()}
    assert f"scores-{pattern_hypothesis('def').cache_key}.npz" in kept
    assert f"scores-{pattern_hypothesis(chr(92) + '(').cache_key}.npz" not in kept  # stopped, not kept
    page.wait_for_timeout(700)  # polling has stopped: the table stays as it is
    assert page.locator("#search-results").inner_text() == results


def test_the_language_menu_reads_the_hypothesis_by_other_rules(page, server):
    page.goto(server + "?neuron=layer1.c.0&pos=0")
    shown(page, "layer1.c.0", 0)
    page.get_by_text("Find units").click()
    page.click("#search-hypothesis")
    page.get_by_role("option", name="docstring: inside a Python docstring").click()
    results = page.locator("#search-results")
    page.wait_for_function("document.querySelector('#search-results').innerText.includes('docstring')")
    assert results.inner_text() == "Press “Rank units” to score every unit against 'docstring'."
    page.click("#search-lang")
    page.get_by_role("option", name="language: c", exact=True).click()
    page.wait_for_function("document.querySelector('#search-results').innerText.startsWith('Cannot')")
    assert results.inner_text().startswith(
        "Cannot rank units: hypothesis 'docstring' applies only to python text, and this text reads as "
        "c (given); choose language python if the text is in it, or another hypothesis")
