"""The side pane's panels: the chosen neuron's profile and the gate saturation plot.

Each is built only while its tab is open and only when its subject changed, from precomputed
summaries; the profile reads only its contexts' short stretches of the neuron.
"""

from __future__ import annotations

import json

from dash import Dash, Input, Output, State, dcc
from dash.exceptions import PreventUpdate

from app import data, figures, ids, profiles
from app.catalog import Catalog
from app.requests import view_of
from lstmviz.errors import LstmvizError, StoreError
from lstmviz.store.reader import States


def profile_view(states: States, neuron: str, raw_c: bool = False) -> list:
    """The profile panel's content, or a notice saying why there is none."""
    try:
        return figures.profile_panel(profiles.profile(states, neuron, raw_c))
    except StoreError as e:
        return [figures.notice(f"No profile for {neuron}: {e}")]


def saturation_view(states: States, key: str) -> list:
    """The saturation plot of every gate unit, or a notice when the file holds no gates.

    Where the file holds memory horizons, the points are coloured by their cell's median horizon.
    """
    if not states.has_gates:
        return [figures.notice("This file holds no gates; extract with `lstmviz extract --gates` "
                               "to see which gate units act as switches.")]
    try:
        df = data.saturation(states)
    except StoreError as e:
        return [figures.notice(f"No gate saturation: {e}")]
    graph = dcc.Graph(id={"type": ids.SATURATION_GRAPH, "file": key},
                      figure=figures.saturation(df, states.n_layer, by_horizon=True),
                      config={"displayModeBar": False})
    return [graph, figures.notice("Click a point to open that unit.")]


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the profile and saturation callbacks."""
    # A step through units while another tab is open asks the server for no profile at all.
    app.clientside_callback(
        f"(subject, tab) => subject && tab === {json.dumps(ids.TAB_PROFILE)} ? subject "
        ": window.dash_clientside.no_update",
        Output(ids.PROFILE_WANTED, "data"), Input(ids.SUBJECT_NEURON, "data"), State(ids.TABS, "value"),
    )

    @app.callback(
        Output(ids.PROFILE, "children"), Output(ids.PROFILE_FOR, "data"),
        Input(ids.PROFILE_WANTED, "data"), Input(ids.TABS, "value"), State(ids.STATE, "data"),
        State(ids.PROFILE_FOR, "data"), prevent_initial_call=True,  # the page has no view yet
    )
    def _profile(_subject, tab, page_view, shown):
        if not page_view or tab != ids.TAB_PROFILE:
            raise PreventUpdate
        try:
            view, states = view_of(catalog, page_view)
        except LstmvizError as e:
            return [figures.notice(str(e))], None
        key = [view.file, view.neuron, view.raw_c]  # raw c changes the scale of its histogram
        if key == shown:
            raise PreventUpdate
        return profile_view(states, view.neuron, view.raw_c), key

    @app.callback(
        Output(ids.SATURATION, "children"), Output(ids.SATURATION_FOR, "data"),
        Input(ids.SUBJECT_FILE, "data"), Input(ids.TABS, "value"), State(ids.STATE, "data"),
        State(ids.SATURATION_FOR, "data"), prevent_initial_call=True,
    )
    def _saturation(_subject, tab, page_view, shown):
        if not page_view or tab != ids.TAB_SATURATION:
            raise PreventUpdate
        try:
            view, states = view_of(catalog, page_view)
        except LstmvizError as e:
            return [figures.notice(str(e))], None
        if view.file == shown:
            raise PreventUpdate
        return saturation_view(states, view.file), view.file
