"""Every value a page sends, checked before the server acts on it.

The selection (:class:`~app.state.View`) travels back from the browser with every request, and
anyone who can reach the server can send any JSON in its place: a float position, a window of a
billion characters, a file key that is not on the list. Each callback takes its view through
:func:`view_of`, which reads it strictly and fits it to its file, so a malformed or hostile request
is answered by a message on the page, never by a server error, and no request reads more than one
window of at most :data:`~app.state.LENGTHS`' largest length. Typed text is cut to
:data:`~app.state.MAX_TEXT` characters for the same reason.
"""

from __future__ import annotations

from typing import Any

from app.catalog import Catalog, cached_states
from app.state import MAX_TEXT, PageError, View, fit
from lstmviz.errors import StoreError
from lstmviz.render.style import MIN_COLUMNS
from lstmviz.store.reader import States


def view_of(catalog: Catalog, data: Any) -> tuple[View, States]:
    """The page's view, read strictly and made valid for its file, with the file's open reader.

    Raises:
        PageError: the view is not one the page could have sent, or names a file not served here.
        StoreError: the file cannot be read.
    """
    view = View.from_dict(data)
    entry = catalog.get(view.file)
    if entry is None:
        raise PageError(f"file {view.file!r} is not on this server; pick one from the file list")
    if entry.error is not None:
        raise StoreError(entry.error)
    states = cached_states(entry.path)
    view, _ = fit(view, states)
    return view, states


def typed_text(value: Any, what: str) -> str:
    """A text box's value as a string of at most :data:`~app.state.MAX_TEXT` characters.

    >>> typed_text(None, "pattern"), typed_text(" [[ ", "pattern")
    ('', ' [[ ')
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PageError(f"the page sent a {what} that is not text; type it again")
    if len(value) > MAX_TEXT:
        raise PageError(f"the {what} is {len(value):,} characters long; type at most {MAX_TEXT:,}")
    return value


def shown_key(value: Any) -> list | None:
    """What a panel says it shows (a small list the page keeps), or None when it is not one."""
    return value if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value) else None


MAX_COLUMNS = 1000  # wider than any screen draws; a page that says more is not believed


def drawn_width(rendered: Any, view: View) -> int | None:
    """The columns the page says it wrapped ``view`` at, or None when it says nothing believable.

    The browser reports what it drew (``assets/lstmviz.js``); an export of the same view wraps at the
    same column, so it looks as on screen. A report of another window, neuron or mode (the page
    was still redrawing), or a width no page draws, counts as none: the export then wraps where the
    dashboard does at its widest.

    >>> drawn_width({"start": 0, "neuron": "layer0.h.3", "mode": "grid", "width": 60},
    ...             View("val", "layer0.h.3"))
    60
    """
    if not isinstance(rendered, dict):
        return None
    width = rendered.get("width")
    same = (rendered.get("start"), rendered.get("neuron"), rendered.get("mode")) == (view.pos, view.neuron,
                                                                                       view.mode)
    ok = isinstance(width, int) and not isinstance(width, bool) and MIN_COLUMNS <= width <= MAX_COLUMNS
    return width if same and ok else None
