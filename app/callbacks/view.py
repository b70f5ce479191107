"""The character view, drawn by the browser from the window and colours the controller sends.

The controller's reply carries the window's symbols and guesses when the window moved, and the
neuron's colours when they changed (:func:`app.control.reply`); the browser draws them, and a step
through units only recolours the cells already drawn (``assets/lstmviz.js``).
"""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State

from app import ids
from app.catalog import Catalog


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the clientside renderer; it sets the profile's subject once the text is painted."""
    app.clientside_callback(
        ClientsideFunction(namespace="lstmviz", function_name="render"),
        Output(ids.SUBJECT_NEURON, "data"),
        Input(ids.WINDOW, "data"), Input(ids.VALUES, "data"), Input(ids.STATE, "data"),
        State(ids.DRAW_CONFIG, "data"),
    )
