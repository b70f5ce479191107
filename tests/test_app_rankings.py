"""Rankings in the background: progress, results when done, a newer ranking stopping the older one."""

import threading
import time

import pytest
from dashboard_files import build

from app import figures, ids
from app.callbacks.search import language_choice, page_id, poll_reply, results, search_reply
from app.catalog import Catalog, cached_states
from app.jobs import Cancelled, Rankings
from app.state import PageError, View
from lstmviz.search import cache, scoring
from lstmviz.search.hypotheses import pattern_hypothesis

PAGE = "page0001"


@pytest.fixture
def catalog(tmp_path):
    """A private tiny file (each test sees its own cache)."""
    return Catalog.scan([build(tmp_path / "tiny.h5")])


@pytest.fixture
def slow(monkeypatch):
    """Each block of a ranking takes 0.2 s more: long enough to watch, and to stop."""
    update = scoring.ProgressBar.update

    def slowly(self, n):
        time.sleep(0.2)
        update(self, n)

    monkeypatch.setattr(scoring.ProgressBar, "update", slowly)


def view():
    return View("tiny", "layer1.h.0").to_dict()


def text_of(component) -> str:
    """All the text in a component tree."""
    if isinstance(component, str):
        return component
    if isinstance(component, list):
        return "".join(text_of(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else text_of(children)


def finished(jobs, page=PAGE, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        content, stop = poll_reply(jobs, page)
        if stop:
            return content
        time.sleep(0.05)
    raise AssertionError("the ranking did not finish")


def test_a_newer_ranking_stops_the_older_one_of_the_same_page():
    jobs = Rankings()
    started, seen = threading.Event(), []

    def forever(progress):
        started.set()
        for done in range(10_000):
            progress(done, 10_000)
            time.sleep(0.01)
        seen.append("finished")

    first = jobs.start(PAGE, ["f", "a"], forever)
    assert started.wait(5)
    other = jobs.start("page0002", ["f", "c"], lambda progress: "other page")
    second = jobs.start(PAGE, ["f", "b"], lambda progress: "b ranked")
    assert first.finished.wait(5) and first.cancelled.is_set() and first.result is None and not seen
    assert second.finished.wait(5) and jobs.get(PAGE) is second and second.result == "b ranked"
    assert other.finished.wait(5) and jobs.get("page0002").result == "other page"
    with pytest.raises(Cancelled):
        first.progress(1, 2)


def test_a_ranking_shows_its_progress_then_its_table(catalog, slow):
    jobs = Rankings()
    content, key, poll = search_reply(catalog, jobs, ids.SEARCH_RUN, view(), "quote", r"\(", None, "auto",
                                      PAGE)
    assert key == ["tiny", r"\("] and poll
    assert text_of(content).startswith(r" Ranking units against /\(/: 0% after 0.0 s.")
    time.sleep(0.5)
    during, stop = poll_reply(jobs, PAGE)
    assert not stop and "Ranking units against" in text_of(during)
    assert during[0].children[0].value != "0.000"  # the bar moved
    table = finished(jobs)
    about = text_of(table)
    assert about.startswith(r"pattern \(: inside a match of /\(/.")
    assert about.endswith("Text read as python (detected: " + about.split("(detected: ")[1])
    assert poll_reply(jobs, PAGE) == (table, True)  # asked again (a late tick): the same table


def test_a_new_pattern_stops_the_ranking_still_running(catalog, slow):
    jobs = Rankings()
    search_reply(catalog, jobs, ids.SEARCH_RUN, view(), "quote", r"\(", None, "auto", PAGE)
    first = jobs.get(PAGE)
    time.sleep(0.3)
    _, key, poll = search_reply(catalog, jobs, ids.SEARCH_PATTERN, view(), "quote", "def", key_of(r"\("),
                                "auto", PAGE)
    assert key == ["tiny", "def"] and poll
    assert first.finished.wait(5) and first.result is None  # stopped at its next block
    assert text_of(finished(jobs)).startswith("pattern def: ")
    folder = cache.cache_dir(cached_states(catalog.get("tiny").path).path)
    kept = {p.name for p in folder.iterdir()}
    stopped, ranked = (pattern_hypothesis(p).cache_key for p in (r"\(", "def"))
    assert f"scores-{ranked}.npz" in kept and f"scores-{stopped}.npz" not in kept  # nothing half done


def key_of(pattern):
    return ["tiny", pattern]


def test_showing_a_cached_ranking_stops_the_page_running_one(catalog, slow):
    jobs = Rankings()
    search_reply(catalog, jobs, ids.SEARCH_RUN, view(), "quote", r"\(", None, "auto", PAGE)
    first = jobs.get(PAGE)
    content, key, poll = search_reply(catalog, jobs, ids.SEARCH_HYPOTHESIS, view(), "url", "", key_of(r"\("),
                                      "auto", PAGE)
    assert key == ["tiny", "url"] and not poll
    assert text_of(content) == "Press “Rank units” to score every unit against 'url'."
    assert first.finished.wait(5) and first.result is None and jobs.get(PAGE) is None


def test_the_language_menu_and_its_refusals_use_the_searchs_words(catalog):
    jobs = Rankings()
    states = cached_states(catalog.get("tiny").path)
    python = search_reply(catalog, jobs, ids.SEARCH_LANG, view(), "docstring", "", None, "auto", PAGE)
    assert text_of(python[0]) == "Press “Rank units” to score every unit against 'docstring'."
    refused = search_reply(catalog, jobs, ids.SEARCH_LANG, view(), "docstring", "", key_of("docstring"),
                           "c", PAGE)
    assert text_of(refused[0]) == (
        "Cannot rank units: hypothesis 'docstring' applies only to python text, and this text reads as "
        "c (given); choose language python if the text is in it, or another hypothesis")
    unknown = results(states, "comment", compute=False, lang="cobol")
    assert text_of(unknown) == ("Cannot rank units: unknown language 'cobol'; choose one of c, python, "
                                "shell, latex, html, wiki, prose")
    assert language_choice("auto") is None and language_choice("latex") == "latex"
    with pytest.raises(PageError, match="is not text"):
        language_choice(3)


def test_a_page_without_an_id_is_told_to_reload(catalog):
    jobs = Rankings()
    content, key, poll = search_reply(catalog, jobs, ids.SEARCH_RUN, view(), "quote", "", None, "auto", None)
    assert text_of(content) == "the page has no id for its ranking yet; reload the page" and not poll
    for bad in (None, "x", "a" * 65, "page-0001", 7):
        with pytest.raises(PageError):
            page_id(bad)
    assert poll_reply(jobs, "nosuchpage")[1] is True  # nothing to poll: polling stops


def test_a_bug_in_a_ranking_is_raised_where_it_is_polled(monkeypatch, catalog):
    jobs = Rankings()

    def broken(progress):
        raise ZeroDivisionError("a bug")

    jobs.start(PAGE, ["tiny", "x"], broken).finished.wait(5)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        poll_reply(jobs, PAGE)
    assert figures.ranking_progress("quote", 0.5, 1.25).className == "lv-notice lv-ranking"
