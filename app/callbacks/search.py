"""The unit search panel: units that track a hypothesis, and units on over an example span.

Built on ``lstmviz.search.rank`` and ``lstmviz.search.by_example``. Both read whole activations, so they
run only when asked; rankings are cached beside the file, and cached rankings show as soon as a
hypothesis is picked.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from app import figures, ids
from app.catalog import Catalog
from app.requests import shown_key, typed_text, view_of
from app.state import View
from lstmviz.errors import LstmvizError, SearchError
from lstmviz.names import Neuron
from lstmviz.render import style
from lstmviz.search.by_example import search_by_example
from lstmviz.search.rank import cached_scores, rank_units
from lstmviz.store.reader import States

TOP = 20


def results(states: States, hypothesis: str, *, compute: bool) -> list:
    """The ranked units, or a notice: computed when asked, else only what is cached."""
    try:
        if compute:
            df = rank_units(states, hypothesis, top=TOP)
        else:
            scores = cached_scores(states, hypothesis)
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
    return results(states, key[1], compute=compute), key


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
    """Attach the search callback."""

    @app.callback(
        Output(ids.SEARCH_RESULTS, "children"), Output(ids.SEARCH_FOR, "data"),
        Input(ids.SEARCH_RUN, "n_clicks"), Input(ids.SEARCH_PATTERN, "n_submit"),
        Input(ids.SEARCH_HYPOTHESIS, "value"), Input(ids.TABS, "value"), Input(ids.SUBJECT_FILE, "data"),
        State(ids.STATE, "data"), State(ids.SEARCH_PATTERN, "value"), State(ids.SEARCH_FOR, "data"),
    )
    def _search(_run, _submit, hypothesis, tab, _file, page_view, pattern, shown):
        if not page_view or tab != ids.TAB_SEARCH:
            raise PreventUpdate
        reply = search_reply(catalog, ctx.triggered_id, page_view, hypothesis, pattern, shown)
        if reply is None:
            raise PreventUpdate
        return reply

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
