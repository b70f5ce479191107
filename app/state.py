"""What the dashboard shows, as one small value that lives in the URL and in a ``dcc.Store``.

A :class:`View` names the file, the neuron, the window and how to draw it. Every control of the page
is an *event* that :func:`reduce` turns into the next View; :func:`fit` repairs a View that does not
fit its file (a neuron the file lacks, a position past the end), saying what it changed. Both are
plain functions, so the dashboard's logic is tested without a browser.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from app import data
from lstmviz.errors import LstmvizError, UnknownActivation
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron, act_name, parse_name
from lstmviz.render.palette import PALETTES
from lstmviz.store.reader import States
from lstmviz.textio import boundary_before

MODES = ("grid", "prose")
LENGTHS = (100, 200, 500, 1000, 2000, 5000, 10000)
DEFAULT_LENGTH = {"grid": 500, "prose": 5000}
MAX_TEXT = 1000  # characters of a typed find query, pattern or span a request may carry
# Characters the "where from" colouring looks back (app/wherefrom.py): provenance's DEFAULT_BACK,
# written here because lstmviz.intervene.provenance imports torch, which the page loads only when asked
LOOK_BACK = 2000


class PageError(LstmvizError):
    """A request that no page of this dashboard could have sent; its message is shown on the page."""


@dataclass(frozen=True)
class View:
    """The selection: file key, neuron, window start and length, drawing options, find match."""

    file: str
    neuron: str
    pos: int = 0
    length: int = DEFAULT_LENGTH["grid"]
    mode: str = "grid"
    palette: str = "blog"
    raw_c: bool = False
    mark: int = -1  # first position of the highlighted span (a find match or a jumped-to context)
    mark_len: int = 0
    why: str = ""  # the hypothesis (or pattern) the neuron was opened for, named by the caption
    origin: int = -1  # "where from": the position whose cell state the text is shaded by, or -1

    @property
    def stop(self) -> int:
        """End of the window (exclusive); may pass the end of the text until :func:`fit`."""
        return self.pos + self.length

    def subjects(self) -> dict[str, list]:
        """What each part of the page depends on, by the name of the store that carries it.

        The character view's text depends on the window, its colours on the window and the neuron,
        the profile on the neuron and its scale (raw c or tanh(c)), and the search panels on the
        file alone: stepping through units changes neither the text nor the file, so it asks the
        server for nothing else. (The profile's subject travels with the colours and is set by
        the browser once they are drawn: :func:`app.control.reply`.)

        >>> View("val", "layer0.h.3").subjects()["neuron"]
        ['val', 'layer0.h.3', False]
        """
        return {
            "window": [self.file, self.pos, self.length, self.mode],
            "values": [self.file, self.pos, self.length, self.neuron, self.palette, self.raw_c, self.origin],
            "neuron": [self.file, self.neuron, self.raw_c],
            "file": [self.file],
        }

    def to_dict(self) -> dict:
        """JSON-ready, for the ``dcc.Store``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> View:
        """Rebuild from :meth:`to_dict` output, as sent back by a page: every field and its type checked.

        Ranges are not checked here (:func:`fit` repairs them against the file), but the choices
        that do not depend on the file are.

        >>> View.from_dict({**View("val", "layer0.h.3").to_dict(), "pos": "12"})
        Traceback (most recent call last):
        app.state.PageError: the page sent pos='12', which is not a whole number; reload the page
        """
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        if not isinstance(d, dict) or not required <= set(d) <= names:
            raise PageError("the page sent a view that cannot be read; reload the page")
        for f in fields(cls):
            if f.name not in d:
                continue
            value, kind = d[f.name], _FIELD_TYPES[f.type]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise PageError(f"the page sent {f.name}={value!r}, which is not {_TYPE_WORDS[kind]}; "
                                "reload the page")
        for key, allowed in (("mode", MODES), ("palette", tuple(PALETTES))):
            if d[key] not in allowed:
                raise PageError(f"the page sent {key}={d[key]!r}; use one of {', '.join(allowed)}")
        return cls(**d)


_FIELD_TYPES = {"str": str, "int": int, "bool": bool}  # View's annotations, which are strings
_TYPE_WORDS = {str: "text", int: "a whole number", bool: "true or false"}


def to_query(view: View) -> str:
    """The URL query that reopens this view.

    >>> to_query(View("val", "layer1.c.117", pos=400))
    '?file=val&neuron=layer1.c.117&pos=400&mode=grid'
    """
    q = {"file": view.file, "neuron": view.neuron, "pos": view.pos, "mode": view.mode}
    if view.length != DEFAULT_LENGTH[view.mode]:
        q["len"] = view.length
    if view.palette != "blog":
        q["palette"] = view.palette
    if view.raw_c:
        q["raw"] = 1
    if view.mark >= 0:
        q["mark"] = f"{view.mark}-{view.mark + view.mark_len}"
    if view.why:
        q["why"] = view.why
    if view.origin >= 0:
        q["from"] = view.origin
    return "?" + urlencode(q)


def from_query(search: str | None, default_file: str) -> tuple[View, list[str]]:
    """Read a URL query into a View; values that cannot be read are dropped with a message.

    The neuron and position are not checked against the file here; :func:`fit` does that.

    >>> from_query("?file=a&neuron=layer0.h.3&pos=x", "a")[1]
    ["the URL's pos='x' is not a number; using 0"]
    """
    params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    notes: list[str] = []

    def number(key: str, default: int) -> int:
        raw = params.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            notes.append(f"the URL's {key}={raw!r} is not a number; using {default}")
            return default

    mode = params.get("mode", "grid")
    if mode not in MODES:
        notes.append(f"the URL's mode={mode!r} is unknown; use {' or '.join(MODES)}")
        mode = "grid"
    palette = params.get("palette", "blog")
    if palette not in PALETTES:
        notes.append(f"the URL's palette={palette!r} is unknown; use one of {', '.join(PALETTES)}")
        palette = "blog"
    mark, mark_len = -1, 0
    if "mark" in params:
        a, _, b = params["mark"].partition("-")
        if a.isdigit() and b.isdigit() and int(b) > int(a):
            mark, mark_len = int(a), int(b) - int(a)
        else:
            notes.append(f"the URL's mark={params['mark']!r} is not a span START-END with START < END; "
                         "nothing is marked")
    view = View(
        file=params.get("file", default_file),
        neuron=params.get("neuron", ""),
        pos=number("pos", 0),
        length=number("len", DEFAULT_LENGTH[mode]),
        mode=mode,
        palette=palette,
        raw_c=params.get("raw", "0") not in ("0", "", "false"),
        mark=mark,
        mark_len=mark_len,
        why=params.get("why", "")[:MAX_TEXT],
        origin=number("from", -1),
    )
    return view, notes


def default_neuron(states: States) -> str:
    """Unit 0 of the top layer's cell state (the post's favourite), or the first stored activation."""
    name = act_name(states.n_layer - 1, "c")
    return str(Neuron(*parse_name(name if name in states.names else states.names[0]), 0))


def fit(view: View, states: States) -> tuple[View, list[str]]:
    """Make a View valid for its file; each repair comes with a message saying what and why.

    Three repairs are silent: a window that runs past the text's end starts at the last page instead
    (the position asked for is still shown), a mark is cut to the text, or dropped when none of
    it is in the window, and a "where from" origin is dropped when the window shows none of its
    look-back.

    >>> # fit(View("val", "layer9.h.0"), states) -> (View(..., neuron="layer1.c.0"), ["... no layer9.h ..."])
    """
    notes: list[str] = []
    neuron = view.neuron
    if neuron:
        try:
            neuron = str(states.neuron(neuron))  # one spelling per neuron: layer1.h.03 is layer1.h.3
        except UnknownActivation as e:
            fallback = default_neuron(states)
            notes.append(f"neuron {neuron!r} cannot be shown: {e}; showing {fallback}")
            neuron = fallback
    else:
        neuron = default_neuron(states)
    length = view.length
    if length not in LENGTHS:
        length = min(LENGTHS, key=lambda n: abs(n - length))
        notes.append(f"window length {view.length} is not offered; showing {length} characters")
    n_tokens = states.n_tokens
    last = last_start(n_tokens, length)
    pos = view.pos
    if pos < 0:
        notes.append(f"position {pos:,} is before the start; showing position 0")
        pos = 0
    elif pos >= n_tokens:
        notes.append(f"position {pos:,} is past the end of the text ({n_tokens:,} characters); "
                     f"showing the last page, from {last:,}")
        pos = last
    raw_c = view.raw_c and KINDS[Neuron.parse(neuron).kind].display is not None  # c only; keep URLs honest
    why = view.why if len(view.why) <= MAX_TEXT and neuron == view.neuron else ""
    view = replace(view, neuron=neuron, length=length, pos=min(pos, last), raw_c=raw_c, why=why)
    view, more = _fit_origin(view, n_tokens)
    notes += more
    if marked_on_screen(view, n_tokens):  # cut to the text, as `?mark=10-99999999` asks for more
        return replace(view, mark_len=min(view.mark_len, n_tokens - view.mark)), notes
    return replace(view, mark=-1, mark_len=0), notes


def _fit_origin(view: View, n_tokens: int) -> tuple[View, list[str]]:
    """Keep the "where from" origin while the window shows some of its look-back; say so when off the text.

    Paging back from the origin shows the older part of its look-back in the same colouring; a
    window that shows none of it drops the origin, as a mark is dropped once out of sight.
    """
    if view.origin == -1:
        return view, []
    if not 0 <= view.origin < n_tokens:
        return replace(view, origin=-1), [
            f"position {view.origin:,} is not in the text (0 to {n_tokens - 1:,}); click a character "
            "to see where its value comes from"]
    shows = view.pos <= view.origin and view.origin - LOOK_BACK < min(view.stop, n_tokens) - 1
    return (view if shows else replace(view, origin=-1)), []


def last_start(n_tokens: int, length: int) -> int:
    """First position of the last page, which ends at the end of the text.

    No window starts later, so the slider's far end and "next page" never show a page that is
    shorter than the others, and paging forward never moves back.

    >>> last_start(6000, 500), last_start(300, 500)
    (5500, 0)
    """
    return max(0, n_tokens - length)


def marked_on_screen(view: View, n_tokens: int) -> bool:
    """Whether some of the marked span is in the window.

    A mark only means something while it is seen: once the view moves away it is dropped, and Find
    searches from the window instead of from a match the user no longer looks at.
    """
    return 0 <= view.mark < min(view.stop, n_tokens) and view.mark + view.mark_len > view.pos


def reduce(view: View, event: str, value, states: States) -> tuple[View, list[str]]:
    """The next View after one event of the page, and messages for the user.

    Events: ``layer``, ``kind``, ``unit`` (a control's new value), ``unit_step`` (+1/-1, wraps),
    ``neuron`` (``"layer1.c.3"``), ``goto`` / ``slider`` (a position), ``page`` (+1/-1),
    ``find`` (``(query, +1/-1)``), ``context`` (a position to show and mark), ``span``
    (``(start, stop)`` to show and mark), ``open`` (``{"neuron", "start", "stop", "why"}``: a
    neuron shown at a span it was found for, and the hypothesis it was found for), ``mode``,
    ``palette``, ``raw_c``, ``length``, ``origin`` (a position whose cell's value the text is
    shaded by, "where from"; -1 ends it).

    A jump (``context``, ``span``, ``open``, a find match off screen) starts the window at a line
    or word start a little before its mark, so the mark sits in text that reads from its start.
    Any event that changes the neuron, except ``open``, drops ``why``: the caption names the
    hypothesis only while its neuron is shown.
    """
    after, notes = _reduce(view, event, value, states)
    if event != "open" and after.neuron != view.neuron:
        after = replace(after, why="")
    return after, notes


def _reduce(view: View, event: str, value, states: States) -> tuple[View, list[str]]:
    n = Neuron.parse(view.neuron)
    layer, kind = n.layer, n.kind
    notes: list[str] = []
    if event in ("layer", "kind", "unit"):
        if event == "layer":
            layer = _whole(value)
            if layer is None or not 0 <= layer < states.n_layer:
                return view, [_not_whole("layer", value, states.n_layer - 1)]
        if event == "kind" and value not in states.kinds():
            return view, [f"this file stores no {value!r}; pick one of {', '.join(states.kinds())}"]
        kind = value if event == "kind" else kind
        unit = n.unit
        if event == "unit":
            unit, notes = _unit(value, n.unit, states.n_hidden)
        if act_name(layer, kind) not in states.names:  # e.g. gates in a layer switch of a file without gates
            kind = "h"
        view = replace(view, neuron=str(Neuron(layer, kind, unit)))
    elif event == "unit_step":
        view = replace(view, neuron=str(replace(n, unit=(n.unit + _step(value)) % states.n_hidden)))
    elif event == "neuron":
        if not isinstance(value, str):
            return view, [f"{value!r} is not a neuron; pick one from the lists"]
        view = replace(view, neuron=value)
    elif event in ("goto", "slider"):
        pos = _whole(value)
        if pos is None:
            return view, [_not_whole("position", value, states.n_tokens - 1)]
        view = replace(view, pos=pos)
    elif event == "page":
        last = last_start(states.n_tokens, view.length)
        view = replace(view, pos=min(max(0, view.pos + _step(value) * view.length), last))
    elif event == "find":
        query, direction = value
        if not isinstance(query, str) or len(query) > MAX_TEXT:
            return view, [f"type at most {MAX_TEXT:,} characters of text to find"]
        view, notes = _find(view, states, query, _step(direction))
    elif event == "context":
        pos = _whole(value)
        if pos is None:
            return view, [_not_whole("position", value, states.n_tokens - 1)]
        view = replace(view, pos=_start_before(states, pos, view.length // 3), mark=pos, mark_len=1)
    elif event == "span":
        a, b = _span(value)
        if a is None or b is None:
            return view, [f"{value!r} is not a span of the text; pick one from the list"]
        view = replace(view, pos=_start_before(states, a, view.length // 4), mark=a, mark_len=max(1, b - a))
    elif event == "open":
        found = value if isinstance(value, dict) else {}
        neuron, why = found.get("neuron"), found.get("why", "")
        a, b = _span((found.get("start"), found.get("stop")))
        if not isinstance(neuron, str) or not isinstance(why, str) or a is None or b is None:
            return view, [f"{value!r} is not a unit found by a search; pick one from the list"]
        view = replace(view, neuron=neuron, why=why[:MAX_TEXT], mark=a, mark_len=max(1, b - a),
                       pos=_start_before(states, a, view.length // 3))
    elif event in ("mode", "palette"):
        allowed = MODES if event == "mode" else tuple(PALETTES)
        if value not in allowed:
            return view, [f"there is no {event} {value!r}; pick one of {', '.join(allowed)}"]
        view = replace(view, mode=value, length=DEFAULT_LENGTH[value]) if event == "mode" else \
            replace(view, palette=value)
    elif event == "raw_c":
        view = replace(view, raw_c=bool(value))
    elif event == "origin":
        origin = _whole(value)
        if origin is None or origin < -1:
            return view, [_not_whole("position", value, states.n_tokens - 1)]
        view = replace(view, origin=origin)
    elif event == "length":
        length = _whole(value)
        if length is None or length < 1:
            return view, [f"there is no window length {value!r}; pick one of the list"]
        view = replace(view, length=length)
    else:
        raise ValueError(f"unknown event {event!r}")
    view, fixes = fit(view, states)
    return view, notes + fixes


def _whole(value) -> int | None:
    """A number box's value as an integer; None for an empty box or a fraction.

    The boxes take any number (they have no min, max or step), so that one outside the file's
    range reaches the server and gets a message: the browser would send None for it otherwise.

    >>> _whole(12), _whole(12.0), _whole(2.5), _whole(None)
    (12, 12, None, None)
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _span(value) -> tuple[int | None, int | None]:
    """A (start, stop) pair the page sent, each None unless a whole number."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _whole(value[0]), _whole(value[1])
    return None, None


def _step(value) -> int:
    """A step's direction, +1 or -1, whatever number the page sent.

    >>> _step(1), _step(-7), _step("x")
    (1, -1, 1)
    """
    return -1 if isinstance(value, (int, float)) and value < 0 else 1


def _not_whole(what: str, value, last: int) -> str:
    """Why a typed unit or position cannot be shown (an empty box included)."""
    if value is None or value == "":
        return f"type a {what} from 0 to {last:,}"
    return f"there is no {what} {value}: {what}s run from 0 to {last:,}"


def _unit(value, current: int, n_hidden: int) -> tuple[int, list[str]]:
    """The unit typed in the unit box, or the current one and why the typed one cannot be shown."""
    unit = _whole(value)
    if unit is not None and 0 <= unit < n_hidden:
        return unit, []
    return current, [_not_whole("unit", value, n_hidden - 1)]


def _find(view: View, states: States, query: str, direction: int) -> tuple[View, list[str]]:
    if not query:
        return view, ["type some text to find first"]
    if marked_on_screen(view, states.n_tokens):
        origin = view.mark
    else:  # from the window: its first match going forward, the last one before it going back
        origin = view.pos if direction < 0 else view.pos - 1
    hit, wrapped = data.find(states, query, origin, backwards=direction < 0)
    if hit is None:
        return replace(view, mark=-1, mark_len=0), [f"{query!r} does not occur in the text"]
    notes = ["searched from the other end of the text"] if wrapped else []
    size = len(states.vocab.symbols_of(query))
    on_screen = view.pos <= hit and hit + size <= view.stop
    pos = view.pos if on_screen else _start_before(states, hit, view.length // 4)
    return replace(view, pos=pos, mark=hit, mark_len=size), notes


def _start_before(states: States, pos: int, before: int) -> int:
    """Where a window showing ``pos`` about ``before`` characters in starts: a line or word start."""
    return boundary_before(data.symbol_string(states), pos - before, max(1, before // 2))
