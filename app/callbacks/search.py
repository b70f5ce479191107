"""The unit search panels: units that track a hypothesis, and units on over an example span.

Built on ``lstmviz.search.rank`` and ``lstmviz.search.by_example``. Both read whole activations, so they
run only when asked; rankings are cached beside the file, and cached rankings show as soon as a
hypothesis is picked. Each ranked unit opens where it tracks the hypothesis best; the by-example
search takes its span from a drag over the text, and a threshold slider that says how many units
and places each threshold gives.
"""

from __future__ import annotations

import math
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from app import data, figures, ids, profiles
from app.catalog import Catalog
from app.requests import shown_key, typed_text, view_of
from app.state import View
from lstmviz.errors import LstmvizError, SearchError
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.search.by_example import search_by_example
from lstmviz.search.rank import cached_scores, rank_units
from lstmviz.store.reader import States

TOP = 20


def results(states: States, hypothesis: str, *, compute: bool, raw_c: bool = False) -> list:
    """The ranked units, or a notice: computed when asked, else only what is cached."""
    try:
        if compute:
            df = rank_units(states, hypothesis, top=TOP)
        else:
            scores = cached_scores(states, hypothesis)
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


def search_reply(catalog: Catalog, trigger: Any, page_view: dict, hypothesis: Any, pattern: Any,
                 shown: Any) -> tuple[list, list | None] | None:
    """The ranking panel's content and what it shows, or None to leave the panel as it is."""
    try:
        view, states = view_of(catalog, page_view)
        pattern = typed_text(pattern, "pattern")
        hypothesis = typed_text(hypothesis, "hypothesis")
    except LstmvizError as e:
        return [figures.notice(str(e))], None
    target = ranking_for(trigger, view.file, hypothesis, pattern, shown_key(shown))
    if target is None:
        return None
    key, compute = target
    return results(states, key[1], compute=compute, raw_c=view.raw_c), key


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


def example(states: States, view: View, text: str | None,
            threshold: float | None = None) -> tuple[list, dict | None]:
    """The units on over a span and where else they turn on, or a notice saying why not.

    Also what the threshold slider shows: its range (every threshold that selects some unit of
    this span), the threshold used, and how many units and places it gives; None without results.
    """
    try:
        start, stop = parse_span(text, view)
        found = search_by_example(states, start, stop, name=Neuron.parse(view.neuron).name,
                                  threshold=threshold)
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
    """Attach the ranking and by-example callbacks."""

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children"), Output(ids.SEARCH_FOR, "data"),
        Output(ids.SEARCH_HYPOTHESIS, "options"), Output(ids.SEARCH_HYPOTHESIS, "value"),
        Input(ids.SEARCH_RUN, "n_clicks"), Input(ids.SEARCH_PATTERN, "n_submit"),
        Input(ids.SEARCH_HYPOTHESIS, "value"), Input(ids.TABS, "value"), Input(ids.SUBJECT_FILE, "data"),
        State(ids.STATE, "data"), State(ids.SEARCH_PATTERN, "value"), State(ids.SEARCH_FOR, "data"),
        State(ids.SEARCH_HYPOTHESIS, "options"), prevent_initial_call=True,
    )
    def _search(_run, _submit, hypothesis, tab, _file, page_view, pattern, shown, options):
        if not page_view or tab != ids.TAB_SEARCH:
            raise PreventUpdate
        found = search_reply(catalog, ctx.triggered_id, page_view, hypothesis, pattern, shown)
        if found is None:
            raise PreventUpdate
        panel, key = found
        menu, chosen = menu_for(key[1], options) if key else (no_update, no_update)
        return panel, key, menu, chosen if chosen != hypothesis else no_update

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
