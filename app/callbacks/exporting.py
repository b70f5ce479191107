"""The Export buttons: the visible window as a downloadable snippet, made by ``lstmviz.render.export``."""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from app import data, ids
from app.catalog import Catalog
from app.control import message
from app.requests import view_of
from lstmviz.errors import LstmvizError
from lstmviz.render.spec import ExportSpec

FORMATS = {ids.EXPORT_HTML: "html", ids.EXPORT_SVG: "svg"}
MEDIA = {"html": "text/html", "svg": "image/svg+xml"}


def export_reply(catalog: Catalog, page_view: dict, fmt: str) -> tuple[dict | None, list]:
    """The download of the page's window, or None and a message saying why there is none.

    The view is fitted to its file first, so a request can export at most one window, however
    long a window it asks for.
    """
    try:
        view, states = view_of(catalog, page_view)
        spec = ExportSpec((view.neuron,), view.pos, view.length, palette=view.palette,
                          strips=view.mode == "grid", raw_c=view.raw_c, format=fmt)
        name, text = data.export(states, spec, source_name=catalog.get(view.file).path.name)
    except LstmvizError as e:
        return None, message([f"Cannot export: {e}"])
    return dcc.send_string(text, name, type=MEDIA[fmt]), []


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the export callback."""

    @app.callback(
        Output(ids.DOWNLOAD, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.EXPORT_HTML, "n_clicks"), Input(ids.EXPORT_SVG, "n_clicks"), State(ids.STATE, "data"),
        prevent_initial_call=True,
    )
    def _export(_html, _svg, page_view):
        if not page_view or ctx.triggered_id not in FORMATS:
            raise PreventUpdate
        download, note = export_reply(catalog, page_view, FORMATS[ctx.triggered_id])
        return (no_update, note) if download is None else (download, no_update)
