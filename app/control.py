"""From one page event to the new selection, URL, control values and text: the controller's logic.

Every control of the page feeds one callback (so the URL, the stored selection and the controls
can never disagree); that callback names what happened and calls :func:`reply`, which is plain
Python and tested as such. The reply carries the text's window and colours when they changed, so
a step through units or pages costs the page one request, not a request for the selection and
then another for what it shows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dash import html

from app import data, ids, wherefrom
from app.catalog import Catalog, cached_states, details
from app.requests import view_of
from app.state import PageError, View, default_neuron, fit, from_query, reduce, to_query
from lstmviz.errors import LstmvizError
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.store.reader import States

# control id -> event name, for controls whose value is the event's value
_VALUE_EVENTS = {ids.LAYER: "layer", ids.KIND: "kind", ids.UNIT: "unit", ids.MODE: "mode",
                 ids.PALETTE: "palette", ids.LENGTH: "length", ids.POSITION: "goto", ids.SLIDER: "slider"}
_CLICK_EVENTS = {ids.UNIT_PREV: ("unit_step", -1), ids.UNIT_NEXT: ("unit_step", 1),
                 ids.PAGE_PREV: ("page", -1), ids.PAGE_NEXT: ("page", 1)}


def event_of(trigger: Any, value: Any, inputs: dict) -> tuple[str, Any] | None:
    """Name the event behind a triggered control; None when nothing needs to change.

    ``trigger`` is the triggered component id (a string or a pattern dict), ``value`` the triggered
    property's new value, ``inputs`` the current values of the other controls.

    >>> event_of("unit-next", 3, {})
    ('unit_step', 1)
    """
    if trigger is None or trigger == ids.URL:
        return ("url", inputs.get("search"))
    if trigger == ids.JUMP:
        return jump_event(value)
    if isinstance(trigger, dict):
        if not value:  # a plot just (re)drawn fires with no click
            return None
        if trigger.get("type") == ids.SATURATION_GRAPH:
            points = value.get("points") if isinstance(value, dict) else None
            point = points[0] if isinstance(points, list) and points else None
            return ("neuron", point.get("customdata")) if isinstance(point, dict) else None
        return None
    if trigger == ids.FILE:
        return ("file", value)
    if trigger in _CLICK_EVENTS:
        return _CLICK_EVENTS[trigger]
    if trigger == ids.RAW_C:
        return ("raw_c", bool(value))
    if trigger == ids.GO:
        return ("goto", inputs.get("position"))
    if trigger in (ids.FIND_NEXT, ids.FIND_TEXT):
        return ("find", (inputs.get("find") or "", 1))
    if trigger == ids.FIND_PREV:
        return ("find", (inputs.get("find") or "", -1))
    if trigger in _VALUE_EVENTS:
        return (_VALUE_EVENTS[trigger], value)
    return None


def jump_event(value: Any) -> tuple[str, Any] | None:
    """The event behind a clicked panel item, whose ``data-jump`` the browser put in the JUMP store.

    ``{"to": "context", "pos": 7}`` marks a position, ``{"to": "span", "start": 7, "stop": 9}`` a
    span, ``{"to": "unit", "neuron": "layer1.c.3", "start": 7, "stop": 8, "why": "quote"}`` opens a
    unit at a span it was found for. Anything else is ignored; the values are checked by
    :func:`app.state.reduce`.

    >>> jump_event({"to": "span", "start": 7, "stop": 9, "n": 3})
    ('span', (7, 9))
    """
    if not isinstance(value, dict):
        return None
    to = value.get("to")
    if to == "context":
        return ("context", value.get("pos"))
    if to == "span":
        return ("span", (value.get("start"), value.get("stop")))
    if to == "origin":  # a click on a character in "where from" mode (assets/wherefrom.js); -1 ends it
        return ("origin", value.get("pos"))
    if to == "unit":
        return ("open", {"neuron": value.get("neuron"), "start": value.get("start"),
                         "stop": value.get("stop"), "why": value.get("why", "")})
    return None


def reply(catalog: Catalog, event: tuple[str, Any], current: dict | None,
          shown: dict | None = None) -> dict:
    """:func:`respond`, with the content that changed: the text's window, its colours, the caption.

    ``window`` and ``values`` are sent when their subjects changed (the window's text when the
    window moved, the colours when it moved or the neuron or colouring changed); ``caption`` when
    the file, the neuron or the reason it is shown changed. The values carry the profile's
    subject, which the browser passes on once it has drawn them (``assets/lstmviz.js``), so the
    profile is asked for after the text is on screen, not while it is drawn.
    """
    out = respond(catalog, event, current, shown)
    if "state" not in out:
        return out
    notes = list(out["message"])
    view = View.from_dict(out["state"])
    if out.pop("subject_window", None) is not None:
        out["window"], note = window_reply(catalog, out["state"])
        notes += note
    if out.pop("subject_values", None) is not None:
        out["values"], note = values_reply(catalog, out["state"])
        notes += note
        if out["values"] is not None:  # the browser sets the profile's subject once the text is drawn
            out["values"]["subject"] = view.subjects()["neuron"]
    before = _view(current)
    if event[0] == "url" or before is None or (before.file, before.neuron, before.why) != (
            view.file, view.neuron, view.why):
        states = cached_states(catalog.get(view.file).path)
        landing = event[0] == "url" and view.neuron == default_neuron(states)
        out["caption"] = data.caption(states, view.neuron, view.why, default=landing)
    out["message"] = notes
    return out


def window_reply(catalog: Catalog, page_view: dict) -> tuple[dict | None, list]:
    """The window's text and guesses for the browser, or None and a message saying why not."""
    try:
        view, states = view_of(catalog, page_view)
        payload = data.window_payload(states, view.pos, view.length, fixed=view.mode == "grid")
    except LstmvizError as e:
        return None, message([str(e)])
    return payload, []


def values_reply(catalog: Catalog, page_view: dict) -> tuple[dict | None, list]:
    """The neuron's values over the window, or None and a message saying why not.

    With a "where from" origin, each character's contribution to the cell there instead
    (:func:`app.wherefrom.origin_payload`); when it cannot be taken apart, the usual colours and
    one line saying why.
    """
    notes = []
    try:
        view, states = view_of(catalog, page_view)
        if view.origin >= 0:
            try:
                return wherefrom.origin_payload(catalog.models, states, view), []
            except LstmvizError as e:
                notes = [f"Where {view.neuron} at {view.origin:,} comes from cannot be shown: {e}"]
        payload = data.values_payload(states, view.neuron, view.pos, view.length,
                                      palette=view.palette, raw_c=view.raw_c)
    except LstmvizError as e:
        return None, message(notes + [str(e)])
    return payload, message(notes)


def _view(current: Any) -> View | None:
    try:
        return View.from_dict(current) if current else None
    except PageError:
        return None


def respond(catalog: Catalog, event: tuple[str, Any], current: dict | None,
            shown: dict | None = None) -> dict:
    """New selection, URL, message and control values after an event.

    ``shown`` holds what the controls show now; values equal to it are left out of the reply, as
    are the choices that depend only on the file when the file did not change, so the browser
    redraws only what changed (a new unit touches the unit box alone). Likewise only the subjects
    (:meth:`View.subjects`) that changed are sent, so only the parts of the page that show them
    ask the server for new content.

    Nothing here raises for bad input: a file that cannot be read, a neuron or position the file
    lacks become a message on the page while the rest of it keeps working.
    """
    name, value = event
    notes: list[str] = []
    default = catalog.default()
    if default is None:
        reasons = "; ".join(f"{e.path.name}: {e.error}" for e in catalog.entries) or "no files were given"
        return {"message": message([f"No extraction file can be shown ({reasons})."])}
    try:
        if name == "url" or not current:
            view, notes = from_query(value if name == "url" else None, default.key)
            view, more = _open_file(catalog, view)
            notes += more
        elif name == "file":
            view, notes = _open_file(catalog, replace(View.from_dict(current), file=str(value), pos=0,
                                                      mark=-1, mark_len=0, origin=-1))
        else:
            view, states = view_of(catalog, current)
            view, notes = reduce(view, name, value, states)
    except LstmvizError as e:
        return {"message": message([str(e)])}
    states = cached_states(catalog.get(view.file).path)
    values = controls(view, states, catalog)
    if shown is not None:
        same_file = name not in ("url", "file") and current is not None and current["file"] == view.file
        values = {k: v for k, v in values.items()
                  if not (k in FILE_CHOICES and same_file) and (k not in shown or shown[k] != v)}
    before = _subjects(current)
    changed = {f"subject_{k}": v for k, v in view.subjects().items() if before.get(k) != v}
    return {"state": view.to_dict(), "search": to_query(view), "message": message(notes), **values,
            **changed}


def _subjects(current: Any) -> dict[str, list]:
    """The subjects of the view the page showed before, or none when it sent no readable view."""
    before = _view(current)
    return before.subjects() if before is not None else {}


def _open_file(catalog: Catalog, view: View) -> tuple[View, list[str]]:
    notes = []
    entry = catalog.get(view.file)
    if entry is None or entry.error is not None:
        fallback = catalog.default()
        why = "is not on this server" if entry is None else f"cannot be opened: {entry.error}"
        notes.append(f"file {view.file!r} {why}; showing {fallback.key!r}")
        view = replace(view, file=fallback.key)
        entry = fallback
    view, more = fit(view, cached_states(entry.path))
    return view, notes + more


# Control properties that depend only on the file
FILE_CHOICES = ("file_info", "layer_options", "kind_options", "slider_max", "slider_marks")


def controls(view: View, states: States, catalog: Catalog) -> dict:
    """The value (and choices) every control shows for a selection."""
    n = Neuron.parse(view.neuron)
    last = max(states.n_tokens - 1, 1)
    return {
        "file": view.file,
        "file_info": details(states),
        "layer_options": [{"label": f"layer {k}", "value": k} for k in range(states.n_layer)],
        "layer": n.layer,
        "kind_options": [{"label": KINDS[k].menu_label, "value": k} for k in states.kinds()],
        "kind": n.kind,
        "unit": n.unit,
        "mode": view.mode,
        "palette": view.palette,
        "raw_c": ["raw"] if view.raw_c else [],
        "length": view.length,
        "position": view.pos,
        "slider": view.pos,
        "slider_max": last,
        "slider_marks": {0: "0", last: f"{last:,}"},
    }


def message(notes: list[str]) -> list:
    """The message area's content: one line per note, nothing when all is well."""
    return [html.P(n) for n in notes]
