"""The unit search panel: units that track a hypothesis, and units on over an example span.

Built on ``lstmviz.search.rank`` and ``lstmviz.search.by_example``. Both read whole activations, so they
run only when asked; rankings are cached beside the file, and cached rankings show as soon as a
hypothesis is picked. A ranking that is asked for runs in the background (:mod:`app.jobs`): the
panel shows its progress, polled by a ``dcc.Interval``, the page stays usable, and a new pattern
or hypothesis stops the ranking still running. The language menu sets the rules of the
hypotheses that depend on it (detected by default); the table says which language was used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from app import figures, ids
from app.catalog import Catalog
from app.jobs import Rankings
from app.requests import shown_key, typed_text, view_of
from app.state import PageError, View
from lstmviz.errors import LstmvizError, SearchError
from lstmviz.names import Neuron
from lstmviz.render import style
from lstmviz.search.by_example import search_by_example
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.search.rank import cached_scores, rank_units
from lstmviz.store.reader import States

TOP = 20


def results(states: States, hypothesis: str, *, compute: bool, lang: str | None = None,
            progress: Callable[[int, int], None] | bool = False) -> list:
    """The ranked units, or a notice: computed when asked, else only what is cached.

    ``lang`` is the text's language (None: detected); ``progress`` is called as the ranking goes.
    """
    try:
        if compute:
            df = rank_units(states, hypothesis, top=TOP, lang=lang, progress=progress)
        else:
            scores = cached_scores(states, hypothesis, lang=lang)
            if scores is None:
                return [figures.notice(f"Press “Rank units” to score every unit against {hypothesis!r}.")]
            df = scores.table(TOP)
    except LstmvizError as e:
        return [figures.notice(f"Cannot rank units: {e}")]
    return [figures.search_table(df)]


def ranking_for(trigger: Any, file: str, hypothesis: str, pattern: str | None,
                shown: list | None) -> tuple[list, bool] | None:
    """Which ranking to show after an event, as (``[file, hypothesis or pattern]``, compute).

    None keeps what is shown: a ranking stays until another is asked for (Rank units, another
    hypothesis in the list) or the file changes, so opening its units or moving through the text
    leaves it in place.

    >>> ranking_for(ids.SEARCH_RUN, "val", "quote", "[[", None)
    (['val', '[['], True)
    >>> ranking_for(ids.SUBJECT_FILE, "val", "quote", "", ["val", "[["]) is None
    True
    """
    if trigger in (ids.SEARCH_RUN, ids.SEARCH_PATTERN):
        return [file, (pattern or "").strip() or hypothesis], True  # a typed pattern wins
    if trigger != ids.SEARCH_HYPOTHESIS and shown and shown[0] == file:
        return None
    key = [file, hypothesis]
    return None if key == shown else (key, False)


def language_choice(value: Any) -> str | None:
    """The language menu's value as ``lang`` for the library: None for "auto" (detected).

    >>> language_choice("auto"), language_choice("c")
    (None, 'c')
    """
    if value in (None, "auto"):
        return None
    return typed_text(value, "language")  # an unknown one is refused by the search, in its words


def page_id(value: Any) -> str:
    """This page's id (made by the page itself), checked: it names the page's ranking on the server."""
    if not isinstance(value, str) or not 8 <= len(value) <= 64 or not value.isalnum():
        raise PageError("the page has no id for its ranking yet; reload the page")
    return value


def search_reply(catalog: Catalog, jobs: Rankings, trigger: Any, page_view: dict, hypothesis: Any,
                 pattern: Any, shown: Any, lang: Any, page: Any) -> tuple[list, list | None, bool] | None:
    """The ranking panel's content, what it shows, and whether to poll; None leaves the panel.

    A ranking to compute starts in the background and the panel shows its progress; whatever
    ranking this page had running is stopped first, as is the page's own when the panel shows
    another ranking from the cache.
    """
    try:
        view, states = view_of(catalog, page_view)
        pattern = typed_text(pattern, "pattern")
        hypothesis = typed_text(hypothesis, "hypothesis")
        lang = language_choice(lang)
        page = page_id(page)
    except LstmvizError as e:
        return [figures.notice(str(e))], None, False
    if trigger == ids.SEARCH_LANG:  # the hypothesis read by other rules: as if picked anew
        trigger, shown = ids.SEARCH_HYPOTHESIS, None
    target = ranking_for(trigger, view.file, hypothesis, pattern, shown_key(shown))
    if target is None:
        return None
    key, compute = target
    jobs.cancel(page)
    if not compute:
        return results(states, key[1], compute=False, lang=lang), key, False
    jobs.start(page, key,
               lambda progress: results(states, key[1], compute=True, lang=lang, progress=progress))
    return [figures.ranking_progress(_what(key[1]), 0.0, 0.0)], key, True


def poll_reply(jobs: Rankings, page: Any) -> tuple[Any, bool]:
    """The running ranking's progress, or its results once done: (panel content, stop polling).

    Raises:
        Exception: whatever the ranking raised that was not a search's clear refusal (a bug).
    """
    try:
        job = jobs.get(page_id(page))
    except PageError:
        job = None
    if job is None:
        return no_update, True
    if not job.finished.is_set():
        return [figures.ranking_progress(_what(job.key[1]), job.share, time.monotonic() - job.started)], False
    if job.error is not None:
        raise job.error
    return job.result, True


def _what(hypothesis: str) -> str:
    """How the progress line names what is ranked: a built-in by name, a pattern between slashes."""
    return hypothesis if hypothesis in HYPOTHESES else f"/{hypothesis}/"


def parse_span(text: str | None, view: View) -> tuple[int, int]:
    """``"120:164"`` as positions, or the marked text when nothing is typed.

    >>> v = View("val", "layer0.h.0", mark=7, mark_len=3)
    >>> parse_span("120:164", v), parse_span("", v)
    ((120, 164), (7, 10))
    """
    text = (text or "").strip()
    if not text:
        if view.mark < 0 or view.mark_len < 1:
            raise SearchError("no span given; type START:END (e.g. 120:164) or mark some text with Find")
        return view.mark, view.mark + view.mark_len
    a, sep, b = text.replace(" ", "").partition(":")
    if not (sep and a.isdigit() and b.isdigit()):
        raise SearchError(f"{text!r} is not a span; type START:END, e.g. 120:164")
    return int(a), int(b)


def example(states: States, view: View, text: str | None) -> list:
    """The units on over a span and where else they turn on, or a notice saying why not."""
    try:
        start, stop = parse_span(text, view)
        found = search_by_example(states, start, stop, name=Neuron.parse(view.neuron).name)
        shown = [(int(r.start), int(r.stop), float(r.score), _snippet(states, int(r.start), int(r.stop)))
                 for r in found.matches.head(TOP).itertuples()]
    except LstmvizError as e:
        return [figures.notice(f"Cannot search by example: {e}")]
    return [figures.example_tables(found, shown)]


def example_reply(catalog: Catalog, page_view: dict, text: str | None, *, run: bool,
                  shown_for: str | None) -> tuple[list, str | None] | None:
    """By-example results and the file they belong to, or None to leave the panel as it is.

    They are found when asked (``run``). A later change of the view keeps them, unless it changed
    the file: their units and places belong to the file they were found in, so they are cleared.
    """
    try:
        view, states = view_of(catalog, page_view)
        text = typed_text(text, "span")
    except LstmvizError as e:
        return [figures.notice(str(e))], None
    if not run:
        return ([], None) if shown_for not in (None, view.file) else None
    return example(states, view, text), view.file


def _snippet(states: States, start: int, stop: int, most: int = 60) -> str:
    """The text of a span, whitespace made visible, cut to ``most`` characters."""
    text = states.vocab.decode(states.tokens(start, min(stop, start + most)))
    return "".join(style.cell_text(ch, True)[0] for ch in text) + ("…" if stop - start > most else "")


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the search callbacks, with this app's registry of running rankings."""
    jobs = Rankings()

    # Each page names itself once, so its ranking can be found again and stopped by a newer one.
    app.clientside_callback(
        "function(_, id) { return id || (Date.now().toString(36) + Math.random().toString(36).slice(2)); }",
        Output(ids.SEARCH_PAGE, "data"), Input(ids.TABS, "value"), State(ids.SEARCH_PAGE, "data"),
    )

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children"), Output(ids.SEARCH_FOR, "data"),
        Output(ids.SEARCH_POLL, "disabled"),
        Input(ids.SEARCH_RUN, "n_clicks"), Input(ids.SEARCH_PATTERN, "n_submit"),
        Input(ids.SEARCH_HYPOTHESIS, "value"), Input(ids.SEARCH_LANG, "value"), Input(ids.TABS, "value"),
        Input(ids.SUBJECT_FILE, "data"), State(ids.STATE, "data"), State(ids.SEARCH_PATTERN, "value"),
        State(ids.SEARCH_FOR, "data"), State(ids.SEARCH_PAGE, "data"),
    )
    def _search(_run, _submit, hypothesis, lang, tab, _file, page_view, pattern, shown, page):
        if not page_view or tab != ids.TAB_SEARCH:
            raise PreventUpdate
        reply = search_reply(catalog, jobs, ctx.triggered_id, page_view, hypothesis, pattern, shown, lang,
                             page)
        if reply is None:
            raise PreventUpdate
        content, key, poll = reply
        return content, key, not poll

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children", allow_duplicate=True),
        Output(ids.SEARCH_POLL, "disabled", allow_duplicate=True),
        Input(ids.SEARCH_POLL, "n_intervals"), State(ids.SEARCH_PAGE, "data"), prevent_initial_call=True,
    )
    def _poll(_tick, page):
        return poll_reply(jobs, page)

    @app.callback(
        Output(ids.EXAMPLE_RESULTS, "children"), Output(ids.EXAMPLE_FOR, "data"),
        Input(ids.EXAMPLE_RUN, "n_clicks"), Input(ids.EXAMPLE_SPAN, "n_submit"),
        Input(ids.SUBJECT_FILE, "data"), State(ids.STATE, "data"), State(ids.EXAMPLE_SPAN, "value"),
        State(ids.EXAMPLE_FOR, "data"), prevent_initial_call=True,
    )
    def _example(_run, _submit, _file, view, text, shown_for):
        if not view:
            raise PreventUpdate
        reply = example_reply(catalog, view, text, run=ctx.triggered_id != ids.SUBJECT_FILE,
                              shown_for=shown_for)
        if reply is None:
            raise PreventUpdate
        return reply
