"""The "What if" tab's callbacks: Apply, the figure's exports, the causal score, the clamped sample.

Apply goes through the browser first, which adds the pane's width (so the figure wraps to the pane);
the causal score runs in the background as rankings do (:mod:`app.jobs`), its progress polled.
Everything else is in :mod:`app.whatif`.
"""

from __future__ import annotations

import json
import time

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from app import figures, ids, whatif
from app.catalog import Catalog
from app.jobs import Rankings
from app.state import PageError
from lstmviz.errors import LstmvizError

FORMATS = {ids.WHATIF_EXPORT_HTML: "html", ids.WHATIF_EXPORT_SVG: "svg"}

# An Apply click, with the width of the pane the figure goes in
ASK = ("function(clicks) { const host = document.getElementById(" + json.dumps(ids.WHATIF_FIGURE) + ");"
       " return {n: clicks, px: host ? host.clientWidth : null}; }")


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the tab's callbacks, with its own registry of running causal scores."""
    jobs = Rankings()

    app.clientside_callback(ASK, Output(ids.WHATIF_ASK, "data"), Input(ids.WHATIF_APPLY, "n_clicks"),
                            prevent_initial_call=True)

    @app.callback(
        Output(ids.WHATIF_MODEL, "children"),
        Input(ids.TABS, "value"), Input(ids.SUBJECT_FILE, "data"), State(ids.STATE, "data"),
    )
    def _model(tab, _file, page_view):
        if tab != ids.TAB_WHATIF or not page_view:
            raise PreventUpdate
        return whatif.model_line(catalog, page_view)

    @app.callback(
        Output(ids.WHATIF_FIGURE, "children"), Output(ids.WHATIF_TOTALS, "children"),
        Output(ids.WHATIF_FOR, "data"),
        Input(ids.WHATIF_ASK, "data"), State(ids.STATE, "data"), State(ids.WHATIF_OP, "value"),
        State(ids.WHATIF_VALUE, "value"), State(ids.WHATIF_SOURCE, "value"), State(ids.EXAMPLE_SPAN, "value"),
        prevent_initial_call=True,
    )
    def _apply(ask, page_view, op, value, source, selection):
        if not page_view or not isinstance(ask, dict):
            raise PreventUpdate
        return whatif.apply_reply(catalog, page_view, op, value, source, selection, ask.get("px"))

    @app.callback(
        Output(ids.WHATIF_DOWNLOAD, "data"), Output(ids.WHATIF_TOTALS, "children", allow_duplicate=True),
        Input(ids.WHATIF_EXPORT_HTML, "n_clicks"), Input(ids.WHATIF_EXPORT_SVG, "n_clicks"),
        State(ids.WHATIF_FOR, "data"), prevent_initial_call=True,
    )
    def _export(_html, _svg, shown):
        if ctx.triggered_id not in FORMATS:
            raise PreventUpdate
        download, refusal = whatif.export_reply(catalog, shown, FORMATS[ctx.triggered_id])
        return (no_update, refusal) if download is None else (download, no_update)

    @app.callback(
        Output(ids.WHATIF_CAUSAL_RESULT, "children"), Output(ids.WHATIF_CAUSAL_POLL, "disabled"),
        Input(ids.WHATIF_CAUSAL, "n_clicks"), State(ids.STATE, "data"), State(ids.SEARCH_PAGE, "data"),
        prevent_initial_call=True,
    )
    def _causal(_clicks, page_view, page):
        try:
            page = _page(page)
            neuron, states, model, why = whatif.causal_request(catalog, page_view)
        except LstmvizError as e:
            return figures.notice(f"Cannot score: {e}"), True
        jobs.start(page, [str(neuron)], lambda progress: whatif.causal_work(
            states, model, neuron, hypothesis=why, progress=progress))
        return whatif.causal_progress(str(neuron), 0.0, 0.0), False

    @app.callback(
        Output(ids.WHATIF_CAUSAL_RESULT, "children", allow_duplicate=True),
        Output(ids.WHATIF_CAUSAL_POLL, "disabled", allow_duplicate=True),
        Input(ids.WHATIF_CAUSAL_POLL, "n_intervals"), State(ids.SEARCH_PAGE, "data"),
        prevent_initial_call=True,
    )
    def _poll(_tick, page):
        try:
            job = jobs.get(_page(page))
        except PageError:
            job = None
        if job is None:
            return no_update, True
        if not job.finished.is_set():
            return whatif.causal_progress(job.key[0], job.share, time.monotonic() - job.started), False
        if job.error is not None:
            if isinstance(job.error, LstmvizError):
                return figures.notice(f"Cannot score: {job.error}"), True
            raise job.error
        return whatif.causal_panel(job.result), True

    @app.callback(
        Output(ids.WHATIF_SAMPLE_RESULT, "children"),
        Input(ids.WHATIF_SAMPLE, "n_clicks"), Input(ids.WHATIF_CLAMP, "n_submit"), State(ids.STATE, "data"),
        State(ids.WHATIF_CLAMP, "value"), State(ids.WHATIF_PRIME, "value"), State(ids.WHATIF_LENGTH, "value"),
        State(ids.WHATIF_SEED, "value"), prevent_initial_call=True,
    )
    def _sample(_clicks, _submit, page_view, value, prime, length, seed):
        if not page_view:
            raise PreventUpdate
        return whatif.sample_reply(catalog, page_view, value, prime, length, seed)


def _page(value) -> str:
    """The page's id (made by the page itself for its background jobs), checked."""
    from app.callbacks.search import page_id

    return page_id(value)
