"""The unit search panels: units that track a hypothesis, and units on over an example span.

Built on ``lstmviz.search.rank`` and ``lstmviz.search.by_example``. Both read whole activations, so they
run only when asked; rankings are cached beside the file, and cached rankings show as soon as a
hypothesis is picked. Each ranked unit opens where it tracks the hypothesis best; the by-example
search takes its span from a drag over the text, and a threshold slider that says how many units
and places each threshold gives.

A ranking that is asked for runs in the background (:mod:`app.jobs`): the panel shows its
progress, polled by a ``dcc.Interval``, the page stays usable, and a new pattern or hypothesis
stops the ranking still running. The language menu sets the rules of the hypotheses that depend
on it (detected by default); the table says which language was used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from app import data, figures, ids, profiles
from app.catalog import Catalog
from app.jobs import Rankings
from app.requests import shown_key, typed_text, view_of
from app.state import PageError, View
from lstmviz.errors import LstmvizError, SearchError
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.search.by_example import search_by_example
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.search.rank import cached_scores, rank_units
from lstmviz.store.reader import States

TOP = 20


def results(states: States, hypothesis: str, *, compute: bool, raw_c: bool = False, lang: str | None = None,
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
        places = ranked_places(states, df, hypothesis, raw_c)
    except LstmvizError as e:
        return [figures.notice(f"Cannot rank units: {e}")]
    return [figures.search_table(df, hypothesis, places)]


def ranked_places(states: States, df, hypothesis: str, raw_c: bool) -> list[tuple[int, dict]]:
    """Where each ranked unit opens (its best context for the hypothesis), and its snippet there."""
    inside = data.inside(states, hypothesis) if df.attrs.get("binary") else None
    out = []
    for r in df.itertuples():
        pos = data.best_context(states, r.neuron, r.direction, inside)
        out.append((pos, profiles.snippet(states, Neuron.parse(r.neuron), pos, pos + 1, raw_c)))
    return out


def menu_for(key: str, options: Any) -> tuple[list, str]:
    """The hypothesis menu showing what is ranked: a typed pattern joins the list, chosen.

    >>> menu_for("[[", [{"label": "quote: …", "value": "quote"}])[1]
    '[['
    """
    options = [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []
    if key not in [o.get("value") for o in options]:
        options = [*options, {"label": f"pattern: {key}", "value": key}]
    return options, key


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
        return results(states, key[1], compute=False, raw_c=view.raw_c, lang=lang), key, False
    jobs.start(page, key, lambda progress: results(states, key[1], compute=True, raw_c=view.raw_c, lang=lang,
                                                   progress=progress))
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


PLACES = TOP  # places found by example that the panel lists
# A drag rarely starts and ends exactly where a cell switches: each end of the span may miss by this
# many positions (``search_by_example``'s ``slack``), so the wikilink cell is found from a drag over
# the whole ``[[…]]``, though it turns on only after the ``[[``.
DRAG_SLACK = 2


def example(states: States, view: View, text: str | None,
            threshold: float | None = None) -> tuple[list, dict | None]:
    """The units on over a span and where else they turn on, or a notice saying why not.

    Also what the threshold slider shows: its range (every threshold that selects some unit of
    this span), the threshold used, and how many units and places it gives; None without results.
    """
    try:
        start, stop = parse_span(text, view)
        found = search_by_example(states, start, stop, name=Neuron.parse(view.neuron).name,
                                  threshold=threshold, slack=DRAG_SLACK)
        colour = Neuron.parse(found.units.neuron[found.units.inside_mean.idxmax()])  # the strongest unit
        best = found.matches.head(PLACES)
        places = [(a, b, score, profiles.snippet(states, colour, a, b, view.raw_c, before=12, after=12))
                  for a, b, score in zip(best.start.tolist(), best.stop.tolist(), best.score.tolist(),
                                         strict=True)]
    except LstmvizError as e:
        return [figures.notice(f"Cannot search by example: {e}")], None
    lo, hi = found.intervals[:, 0].min(), found.intervals[:, 1].max()
    kind_lo, kind_hi = KINDS[colour.kind].value_range or (lo, hi)
    # thresholds t with around_max < t <= inside_min for some unit, on the slider's 0.001 steps
    low = math.floor(max(float(lo), kind_lo) * 1000 + 1) / 1000
    high = math.floor(min(float(hi), kind_hi) * 1000) / 1000
    slider = {"min": min(low, high), "max": high, "value": round(found.threshold, 3),
              "file": view.file, "span": [start, stop],
              "count": f"{len(found.units)} unit(s) at threshold {found.threshold:.3g}, "
                       f"{len(found.matches):,} other place(s); drag to choose fewer, stronger units "
                       "(right) or more (left)"}
    return [figures.example_tables(found, places)], slider


def example_reply(catalog: Catalog, page_view: dict, text: str | None, *, run: bool,
                  shown_for: Any, threshold: Any = None) -> tuple[list, Any] | None:
    """By-example results and the slider's settings, or None to leave the panel as it is.

    They are found when asked (``run``: the button, Enter, or the slider for the span shown). A
    later change of the view keeps them, unless it changed the file: their units and places
    belong to the file they were found in, so they are cleared.
    """
    try:
        view, states = view_of(catalog, page_view)
        text = typed_text(text, "span")
    except LstmvizError as e:
        return [figures.notice(str(e))], None
    shown = shown_for if isinstance(shown_for, dict) else None
    if not run:
        return ([], None) if shown is not None and shown.get("file") != view.file else None
    if threshold is not None:  # the slider: the same span again, at its threshold
        if shown is None or shown.get("file") != view.file or not isinstance(threshold, (int, float)):
            return None
        span = shown.get("span")
        text = f"{span[0]}:{span[1]}" if isinstance(span, list) and len(span) == 2 else text
        threshold = float(threshold)
    return example(states, view, text, threshold)


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the ranking and by-example callbacks, with this app's registry of running rankings."""
    jobs = Rankings()

    # Each page names itself once, so its ranking can be found again and stopped by a newer one.
    app.clientside_callback(
        "function(_, id) { return id || (Date.now().toString(36) + Math.random().toString(36).slice(2)); }",
        Output(ids.SEARCH_PAGE, "data"), Input(ids.TABS, "value"), State(ids.SEARCH_PAGE, "data"),
    )

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children"), Output(ids.SEARCH_FOR, "data"),
        Output(ids.SEARCH_HYPOTHESIS, "options"), Output(ids.SEARCH_HYPOTHESIS, "value"),
        Output(ids.SEARCH_POLL, "disabled"),
        Input(ids.SEARCH_RUN, "n_clicks"), Input(ids.SEARCH_PATTERN, "n_submit"),
        Input(ids.SEARCH_HYPOTHESIS, "value"), Input(ids.SEARCH_LANG, "value"), Input(ids.TABS, "value"),
        Input(ids.SUBJECT_FILE, "data"), State(ids.STATE, "data"), State(ids.SEARCH_PATTERN, "value"),
        State(ids.SEARCH_FOR, "data"), State(ids.SEARCH_HYPOTHESIS, "options"),
        State(ids.SEARCH_PAGE, "data"), prevent_initial_call=True,
    )
    def _search(_run, _submit, hypothesis, lang, tab, _file, page_view, pattern, shown, options, page):
        if not page_view or tab != ids.TAB_SEARCH:
            raise PreventUpdate
        found = search_reply(catalog, jobs, ctx.triggered_id, page_view, hypothesis, pattern, shown, lang,
                             page)
        if found is None:
            raise PreventUpdate
        panel, key, poll = found
        menu, chosen = menu_for(key[1], options) if key else (no_update, no_update)
        return panel, key, menu, chosen if chosen != hypothesis else no_update, not poll

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children", allow_duplicate=True),
        Output(ids.SEARCH_POLL, "disabled", allow_duplicate=True),
        Input(ids.SEARCH_POLL, "n_intervals"), State(ids.SEARCH_PAGE, "data"), prevent_initial_call=True,
    )
    def _poll(_tick, page):
        return poll_reply(jobs, page)

    @app.callback(
        Output(ids.EXAMPLE_RESULTS, "children"), Output(ids.EXAMPLE_FOR, "data"),
        Output(ids.EXAMPLE_THRESHOLD, "min"), Output(ids.EXAMPLE_THRESHOLD, "max"),
        Output(ids.EXAMPLE_THRESHOLD, "value"), Output(ids.EXAMPLE_COUNT, "children"),
        Input(ids.EXAMPLE_RUN, "n_clicks"), Input(ids.EXAMPLE_SPAN, "n_submit"),
        Input(ids.EXAMPLE_THRESHOLD, "value"), Input(ids.SUBJECT_FILE, "data"),
        State(ids.STATE, "data"), State(ids.EXAMPLE_SPAN, "value"), State(ids.EXAMPLE_FOR, "data"),
        prevent_initial_call=True,
    )
    def _example(_run, _submit, threshold, _file, view, text, shown_for):
        if not view:
            raise PreventUpdate
        trigger = ctx.triggered_id
        found = example_reply(catalog, view, text, run=trigger != ids.SUBJECT_FILE, shown_for=shown_for,
                              threshold=threshold if trigger == ids.EXAMPLE_THRESHOLD else None)
        if found is None:
            raise PreventUpdate
        panel, slider = found
        if slider is None:
            return panel, no_update if panel else None, no_update, no_update, no_update, ""
        return (panel, {"file": slider["file"], "span": slider["span"]}, slider["min"], slider["max"],
                slider["value"], slider["count"])
