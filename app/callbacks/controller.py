"""The one callback that owns the selection: URL, stored view, every control's value and the text.

It answers each event with the new selection and, in the same reply, the text's window and colours
when they changed (:func:`app.control.reply`), so a step through units or pages is one request.
"""

from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, no_update

from app import ids
from app.catalog import Catalog
from app.control import event_of, reply

OUTPUTS = {
    "state": (ids.STATE, "data"), "search": (ids.URL, "search"), "message": (ids.MESSAGE, "children"),
    "file": (ids.FILE, "value"), "file_info": (ids.FILE_INFO, "children"),
    "layer_options": (ids.LAYER, "options"), "layer": (ids.LAYER, "value"),
    "kind_options": (ids.KIND, "options"), "kind": (ids.KIND, "value"),
    "unit": (ids.UNIT, "value"),
    "mode": (ids.MODE, "value"), "palette": (ids.PALETTE, "value"), "raw_c": (ids.RAW_C, "value"),
    "length": (ids.LENGTH, "value"), "position": (ids.POSITION, "value"), "slider": (ids.SLIDER, "value"),
    "slider_max": (ids.SLIDER, "max"), "slider_marks": (ids.SLIDER, "marks"),
    "window": (ids.WINDOW, "data"), "values": (ids.VALUES, "data"), "caption": (ids.CAPTION, "children"),
    **{f"subject_{k}": (store, "data") for k, store in ids.SUBJECTS.items()},
}
INPUTS = {
    "search": (ids.URL, "search"), "file": (ids.FILE, "value"), "layer": (ids.LAYER, "value"),
    "kind": (ids.KIND, "value"), "unit": (ids.UNIT, "value"),
    "unit_prev": (ids.UNIT_PREV, "n_clicks"), "unit_next": (ids.UNIT_NEXT, "n_clicks"),
    "mode": (ids.MODE, "value"), "palette": (ids.PALETTE, "value"), "raw_c": (ids.RAW_C, "value"),
    "length": (ids.LENGTH, "value"), "position": (ids.POSITION, "value"), "go": (ids.GO, "n_clicks"),
    "page_prev": (ids.PAGE_PREV, "n_clicks"), "page_next": (ids.PAGE_NEXT, "n_clicks"),
    "slider": (ids.SLIDER, "value"), "find_prev": (ids.FIND_PREV, "n_clicks"),
    "find_next": (ids.FIND_NEXT, "n_clicks"), "find_submit": (ids.FIND_TEXT, "n_submit"),
    "jump": (ids.JUMP, "data"),
    "saturation": ({"type": ids.SATURATION_GRAPH, "file": ALL}, "clickData"),
}


# Control values the page shows now, compared with the new ones so only changes are sent
SHOWN = ("file", "layer", "kind", "unit", "mode", "palette", "raw_c", "length", "position", "slider")


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the controller callback."""

    @app.callback(
        output={k: Output(*v) for k, v in OUTPUTS.items()},
        inputs={k: Input(*v) for k, v in INPUTS.items()},
        state={"current": State(ids.STATE, "data"), "find": State(ids.FIND_TEXT, "value"),
               "said": State(ids.MESSAGE, "children")},
    )
    def _control(**inputs):
        triggered = ctx.triggered[0] if ctx.triggered else {"value": None}
        event = event_of(ctx.triggered_id, triggered["value"], inputs)
        if event is None:
            return dict.fromkeys(OUTPUTS, no_update)
        out = reply(catalog, event, inputs["current"], shown={k: inputs[k] for k in SHOWN})
        if not out.get("message") and not inputs["said"]:  # nothing to say, and nothing said: untouched
            out.pop("message", None)
        return {k: out.get(k, no_update) for k in OUTPUTS}
