"""The Evolution and Compare pages in a real headless Chromium, on a tiny real evolution file."""

import os

import pytest
from browsing import require_chromium, serving, shown
from evolution_files import build_evolution, build_pair

pytestmark = pytest.mark.browser

require_chromium()

from app.catalog import cached_evolution  # noqa: E402
from app.evolution import default_hypothesis, figure  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evo")
    path = build_evolution(folder)
    pair = build_pair(tmp_path_factory.mktemp("pair"))
    return path, pair


@pytest.fixture(scope="module")
def server(files, tmp_path_factory):
    """The dashboard on the evolution file and two extractions, its snapshot cache in a temporary folder."""
    from app.app import create_app

    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    path, pair = files
    try:
        with serving(create_app([path, *pair])) as url:
            yield url
    finally:
        if before is None:
            os.environ.pop("XDG_CACHE_HOME")
        else:
            os.environ["XDG_CACHE_HOME"] = before


def test_an_evolution_shows_its_lineage_band_and_samples_and_opens_a_snapshot(page, server, files):
    ev = cached_evolution(files[0])
    page.goto(server)  # the text view links to the evolution file
    page.click("text=Evolution: evolution.h5")
    page.wait_for_selector("#ev-figure .scatterlayer .trace")
    timeline = ev.hypotheses[default_hypothesis(ev)]
    legend = page.locator("#ev-figure .legend").text_content()
    assert f"{timeline.lineage[-1].neuron} followed back" in legend
    assert "baseline .. +0.05" in legend and "validation loss" in legend
    assert page.locator("#ev-figure .scatterlayer .trace .fills path").count() >= 1  # the band
    rows = page.locator(".lv-ev-row")
    assert rows.count() == 3 and ev.snapshots[2].sample[:20].strip() in rows.nth(2).inner_text()
    rows.nth(1).locator("button").click()
    page.wait_for_url("**/?file=evolution%401*", timeout=10_000)
    unit = timeline.lineage[1].neuron or timeline.best[1].neuron
    shown(page, unit)


def test_compare_colours_a_unit_of_each_on_the_same_characters(page, server):
    page.goto(server + "compare/?a=a&b=b")
    page.wait_for_selector("#cmp-text-b[srcdoc]", timeout=10_000)
    said = page.inner_text("#cmp-where")
    assert said.startswith("A layer") and "beneath (r " in said and "characters 0 to 500 of 3,000" in said
    frames = [page.frame_locator(f"#cmp-text-{w}") for w in "ab"]
    texts = [f.locator(".lv-group").first.inner_text() for f in frames]
    assert texts[0] == texts[1] and texts[0]
    assert "linear CKA" in page.inner_text("#cmp-summary")
    page.click("#cmp-next")
    page.wait_for_selector("#cmp-where:has-text('characters 500 to 1,000')")


def test_clicking_a_point_of_the_lineage_opens_that_snapshot_at_the_cell(page, server, files):
    ev = cached_evolution(files[0])
    name = default_hypothesis(ev)
    traces = [t.name for t in figure(ev, name).data]
    lineage = next(i for i, t in enumerate(traces) if t and t.endswith("followed back"))
    page.goto(server + "evolution/?file=evolution")
    page.wait_for_selector("#ev-figure .scatterlayer .trace")
    point = page.locator(".subplot.xy .scatterlayer .trace").nth(lineage).locator(".points path").nth(2)
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/?file=evolution%402*", timeout=10_000)
    shown(page, ev.hypotheses[name].lineage[2].neuron or ev.hypotheses[name].best[2].neuron)
