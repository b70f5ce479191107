"""The Export buttons and Copy fragment: the visible window as a snippet made by ``lstmviz.render.export``.

Each wraps where the screen does: the page reports the columns it drew (``ids.RENDERED``), so the
file, or the fragment pasted into a post, has the lines the researcher was looking at.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from app import data, ids, wherefrom
from app.catalog import Catalog
from app.control import message
from app.requests import drawn_width, view_of
from lstmviz.errors import LstmvizError
from lstmviz.render.spec import ExportSpec

FORMATS = {ids.EXPORT_HTML: "html", ids.EXPORT_SVG: "svg"}
MEDIA = {"html": "text/html", "svg": "image/svg+xml"}


def export_text(catalog: Catalog, page_view: dict, rendered: dict | None, fmt: str,
                fragment: bool = False) -> tuple[str, str]:
    """(file name, snippet) of the page's window, wrapped as the page drew it.

    The view is fitted to its file first, so a request can export at most one window, however
    long a window it asks for.

    Raises:
        LstmvizError: the view or its file cannot be read.
    """
    view, states = view_of(catalog, page_view)
    source_name = catalog.get(view.file).path.name
    if view.origin >= 0:  # "where from": the shading of the look-back, as lstmviz provenance draws it
        return wherefrom.export(catalog.models, states, view, fmt=fmt, width=drawn_width(rendered, view),
                                fragment=fragment, source_name=source_name)
    spec = ExportSpec((view.neuron,), view.pos, view.length, palette=view.palette,
                      strips=view.mode == "grid", raw_c=view.raw_c, format=fmt, fragment=fragment,
                      width=drawn_width(rendered, view))
    return data.export(states, spec, source_name=source_name)


def export_reply(catalog: Catalog, page_view: dict, fmt: str,
                 rendered: dict | None = None) -> tuple[dict | None, list]:
    """The download of the page's window, or None and a message saying why there is none."""
    try:
        name, text = export_text(catalog, page_view, rendered, fmt)
    except LstmvizError as e:
        return None, message([f"Cannot export: {e}"])
    return dcc.send_string(text, name, type=MEDIA[fmt]), []


def fragment_reply(catalog: Catalog, page_view: dict, rendered: dict | None) -> tuple[str | None, list]:
    """The HTML fragment of the page's window for the clipboard, or None and a message saying why not."""
    try:
        _, text = export_text(catalog, page_view, rendered, "html", fragment=True)
    except LstmvizError as e:
        return None, message([f"Cannot copy: {e}"])
    return text, []


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the export and copy callbacks."""

    @app.callback(
        Output(ids.DOWNLOAD, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.EXPORT_HTML, "n_clicks"), Input(ids.EXPORT_SVG, "n_clicks"), State(ids.STATE, "data"),
        State(ids.RENDERED, "data"), prevent_initial_call=True,
    )
    def _export(_html, _svg, page_view, rendered):
        if not page_view or ctx.triggered_id not in FORMATS:
            raise PreventUpdate
        download, note = export_reply(catalog, page_view, FORMATS[ctx.triggered_id], rendered)
        return (no_update, note) if download is None else (download, no_update)

    # dcc.Clipboard copies in the browser once this answer arrives
    @app.callback(
        Output(ids.COPY_FRAGMENT, "content"), Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.COPY_FRAGMENT, "n_clicks"), State(ids.STATE, "data"), State(ids.RENDERED, "data"),
        prevent_initial_call=True,
    )
    def _copy(_clicks, page_view, rendered):
        if not page_view:
            raise PreventUpdate
        text, note = fragment_reply(catalog, page_view, rendered)
        return (no_update, note) if text is None else (text, no_update)
