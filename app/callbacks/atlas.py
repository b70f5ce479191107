"""The Atlas tab: the file's interpretable cells at a glance, the page ``lstmviz atlas`` writes.

The tab shows that very page (``lstmviz.render.atlas``, inert: no script, no link) in a frame,
with a button per card that opens its unit at its strongest context in the view above, and a
download of the page. Building an atlas ranks every unit once, as Find units does (cached
beside the file), so it runs only when asked.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from app import ids
from app.catalog import Catalog
from app.figures import notice
from app.requests import view_of
from app.state import MAX_TEXT, PageError, View, to_query
from lstmviz.errors import LstmvizError
from lstmviz.render.atlas import atlas_command, page
from lstmviz.search.atlas import Atlas, build_atlas
from lstmviz.store.reader import States


@lru_cache(maxsize=4)
def atlas_of(states: States, source_name: str) -> tuple[Atlas, str]:
    """The atlas of an open file and its page, built once per process and file."""
    found = build_atlas(states)
    return found, page(states, found, command=atlas_command(source_name), source_name=source_name)


def open_buttons(found: Atlas) -> html.Div:
    """A button per card: its unit, opened at its strongest context in the view."""
    tracked = [(c, c.hypothesis) for cards in found.tracked.values() for c in cards]
    cards = tracked + [(c, "") for c in found.unexplained]  # an unexplained unit tracks nothing
    buttons = [html.Button(c.neuron, id={"type": ids.ATLAS_OPEN, "card": k, "neuron": c.neuron,
                                         "pos": c.contexts[0] if c.contexts else 0, "why": why},
                           className="lv-link", title=f"{c.hypothesis}, margin {c.margin:+.3f}", n_clicks=0)
               for k, (c, why) in enumerate(cards)]
    return html.Div([html.Span("Open in the view: ", className="lv-field-label"), *buttons],
                    className="lv-row lv-atlas-open")


def atlas_reply(catalog: Catalog, page_view: Any) -> list:
    """The tab's content: what no clearing unit means, the open buttons and the page; or a notice."""
    try:
        view, states = view_of(catalog, page_view)
        found, text = atlas_of(states, catalog.get(view.file).path.name)
    except LstmvizError as e:
        return [notice(f"Cannot build the atlas: {e}")]
    said = [html.P(found.message(), className="lv-atlas-none")] if found.message() else []
    return [*said, open_buttons(found),
            html.Iframe(srcDoc=text, className="lv-atlas-page", title="cell atlas")]


def download_reply(catalog: Catalog, page_view: Any) -> dict | None:
    """The atlas page as a download named as ``lstmviz atlas`` names it, or None when it cannot be built."""
    try:
        view, states = view_of(catalog, page_view)
        path = catalog.get(view.file).path
        _, text = atlas_of(states, path.name)
    except LstmvizError:
        return None
    return dcc.send_string(text, f"{path.stem}_atlas.html", type="text/html")


def opened(page_view: Any, trigger: Any) -> str:
    """The URL query of the view at a card's unit and context, as a context in the profile opens it.

    Raises:
        PageError: the page sent a button id or view it could not have sent.
    """
    view = View.from_dict(page_view)
    if not isinstance(trigger, dict) or not isinstance(trigger.get("neuron"), str) \
            or not isinstance(trigger.get("pos"), int) or trigger["pos"] < 0 \
            or not isinstance(trigger.get("why", ""), str):
        raise PageError("the page sent an atlas card it could not have shown; build the atlas again")
    pos = trigger["pos"]
    return to_query(replace(view, neuron=trigger["neuron"], pos=max(0, pos - view.length // 3), mark=pos,
                            mark_len=1, why=trigger.get("why", "")[:MAX_TEXT]))


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the build, download and open callbacks."""

    @app.callback(Output(ids.ATLAS_RESULTS, "children"), Input(ids.ATLAS_RUN, "n_clicks"),
                  State(ids.STATE, "data"), prevent_initial_call=True)
    def _build(_run, page_view):
        if not page_view:
            raise PreventUpdate
        return atlas_reply(catalog, page_view)

    @app.callback(Output(ids.ATLAS_DOWNLOAD, "data"), Input(ids.ATLAS_SAVE, "n_clicks"),
                  State(ids.STATE, "data"), prevent_initial_call=True)
    def _save(_save, page_view):
        download = download_reply(catalog, page_view) if page_view else None
        if download is None:
            raise PreventUpdate
        return download

    @app.callback(Output(ids.URL, "search", allow_duplicate=True),
                  Input({"type": ids.ATLAS_OPEN, "card": ALL, "neuron": ALL, "pos": ALL, "why": ALL},
                        "n_clicks"),
                  State(ids.STATE, "data"), prevent_initial_call=True)
    def _open(clicks, page_view):
        if not page_view or not any(clicks or []):
            raise PreventUpdate
        try:
            return opened(page_view, ctx.triggered_id)
        except LstmvizError:
            return no_update
