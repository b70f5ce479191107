"""The Export buttons: the visible window as a downloadable snippet, made by ``lstmviz.render.export``."""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from app import data, ids
from app.catalog import Catalog, cached_states
from app.control import message
from lstmviz.errors import LstmvizError
from lstmviz.render.spec import ExportSpec

FORMATS = {ids.EXPORT_HTML: "html", ids.EXPORT_SVG: "svg"}
MEDIA = {"html": "text/html", "svg": "image/svg+xml"}


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the export callback."""

    @app.callback(
        Output(ids.DOWNLOAD, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.EXPORT_HTML, "n_clicks"), Input(ids.EXPORT_SVG, "n_clicks"), State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def _export(_html, _svg, view):
        if not view or ctx.triggered_id not in FORMATS:
            raise PreventUpdate
        fmt = FORMATS[ctx.triggered_id]
        entry = catalog.get(view["file"])
        try:
            spec = ExportSpec((view["neuron"],), view["pos"], view["length"], palette=view["palette"],
                              strips=view["mode"] == "grid", raw_c=view["raw_c"], format=fmt)
            name, text = data.export(cached_states(entry.path), spec, source_name=entry.path.name)
        except LstmvizError as e:
            return no_update, message([f"Cannot export: {e}"])
        return dcc.send_string(text, name, type=MEDIA[fmt]), no_update
