"""The character view: two small server reads per change, drawn by the browser.

The window's symbols and guesses change only when the window moves; the neuron's values change on
every flick through units. Each is its own callback, called only when its subject changed.
"""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from app import data, ids
from app.catalog import Catalog
from app.control import message
from app.requests import view_of
from lstmviz.errors import LstmvizError


def window_reply(catalog: Catalog, page_view: dict) -> tuple[dict | None, list]:
    """The window's text and guesses for the browser, or None and a message saying why not."""
    try:
        view, states = view_of(catalog, page_view)
        payload = data.window_payload(states, view.pos, view.length, fixed=view.mode == "grid")
    except LstmvizError as e:
        return None, message([str(e)])
    return payload, []


def values_reply(catalog: Catalog, page_view: dict) -> tuple[dict | None, list]:
    """The neuron's values over the window, or None and a message saying why not."""
    try:
        view, states = view_of(catalog, page_view)
        payload = data.values_payload(states, view.neuron, view.pos, view.length,
                                      palette=view.palette, raw_c=view.raw_c)
    except LstmvizError as e:
        return None, message([str(e)])
    return payload, []


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the window and values reads, and the clientside renderer."""

    @app.callback(
        Output(ids.WINDOW, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.SUBJECT_WINDOW, "data"), State(ids.STATE, "data"), prevent_initial_call=True,
    )
    def _window(_subject, view):
        if not view:
            raise PreventUpdate
        payload, note = window_reply(catalog, view)
        return (no_update, note) if payload is None else (payload, no_update)

    @app.callback(
        Output(ids.VALUES, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.SUBJECT_VALUES, "data"), State(ids.STATE, "data"), prevent_initial_call=True,
    )
    def _values(_subject, view):
        if not view:
            raise PreventUpdate
        payload, note = values_reply(catalog, view)
        return (no_update, note) if payload is None else (payload, no_update)

    app.clientside_callback(
        ClientsideFunction(namespace="lstmviz", function_name="render"),
        Output(ids.RENDERED, "data"),
        Input(ids.WINDOW, "data"), Input(ids.VALUES, "data"), Input(ids.STATE, "data"),
        State(ids.DRAW_CONFIG, "data"),
    )
