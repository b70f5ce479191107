"""The "What if" panel's logic: edit the shown unit over a span, score it causally, sample with it held.

Plain functions over the page's view (:func:`app.requests.view_of`) and the file's model
(:meth:`app.models.Models.model`), so every request and every refusal is tested without a browser.
Each request is read strictly and bounded before anything runs: a span of at most
:data:`MAX_SPAN` characters, an aftermath of at most :data:`AFTER`, a causal score over the first
:data:`CAUSAL_CHARS` characters, a sample of at most :data:`MAX_SAMPLE`. Every refusal is one line
(the library's own words where it has them), shown in the panel.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from dash import html

from app import figures, ids
from app.catalog import Catalog, cached_states
from app.requests import typed_text, view_of
from app.state import PageError, View
from lstmviz.errors import LstmvizError, OptionError, SpanError, StoreError
from lstmviz.intervene.edits import EditSpec
from lstmviz.names import Neuron
from lstmviz.render.style import COL_PX, MIN_COLUMNS, PAD_PX, cell_text
from lstmviz.store.reader import States

OPERATIONS = {  # what the menu offers, and what its value box then holds
    "zero": ("hold at 0", None),
    "mean": ("hold at its mean", None),
    "set": ("set to V", "V"),
    "scale": ("scale by K", "K"),
    "patch": ("its value at position P", "P"),
}
SOURCES = {"selection": "the mouse selection", "mark": "the mark", "window": "the window"}
MAX_SPAN = 2000  # characters an edit may span: its figure (three rows per character) stays light
AFTER = 500  # positions after the span the page follows the effect, at most
SETTLE = 50
MAX_COLUMNS = 200
CAUSAL_CHARS = 20_000  # the causal score silences units over the text's first characters, this many
N_RANDOM = 30
MAX_SAMPLE = 1000


@dataclass(frozen=True)
class Request:
    """One edit of one file, as the figure and its exports need it again (kept in a ``dcc.Store``)."""

    file: str
    edit: str  # NEURON=OP as lstmviz intervene takes it
    start: int
    stop: int
    columns: int

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"file": self.file, "edit": self.edit, "start": self.start, "stop": self.stop,
                "columns": self.columns}

    @classmethod
    def from_dict(cls, d: Any) -> Request:
        """Read back what the page kept, strictly."""
        if not isinstance(d, dict) or set(d) != {"file", "edit", "start", "stop", "columns"}:
            raise PageError("there is no edit to export yet; press Apply first")
        whole = all(type(d[k]) is int for k in ("start", "stop", "columns"))
        ok = whole and isinstance(d["file"], str) and isinstance(d["edit"], str) and len(d["edit"]) <= 200
        if not ok:
            raise PageError("the page sent an edit that cannot be read; press Apply again")
        return cls(d["file"], d["edit"], d["start"], d["stop"], d["columns"])


def shown_unit(catalog: Catalog, page_view: Any) -> tuple[View, States]:
    """The page's view and file, once its unit is known to be in the file.

    :func:`~app.requests.view_of` shows another unit in place of one the file lacks; an edit of it
    would change another unit than the one asked for, so here it is refused instead.

    Raises:
        UnknownActivation: the file has no such unit (the file's own words).
    """
    view, states = view_of(catalog, page_view)
    states.neuron(page_view["neuron"])
    return view, states


def edit_of(neuron: str, op: Any, value: Any) -> EditSpec:
    """The edit the menu and the value box ask for, as ``lstmviz intervene --edit`` reads it.

    >>> str(edit_of("layer0.c.3", "scale", " 2 "))
    'layer0.c.3=scale:2'

    Raises:
        OptionError: an unknown operation, a missing value, or one that is not a number.
    """
    if op not in OPERATIONS:
        raise OptionError(f"the page sent the operation {op!r}; choose one of {', '.join(OPERATIONS)}")
    value = typed_text(value, "value").strip()
    needs = OPERATIONS[op][1]
    if needs is None:
        return EditSpec.parse(f"{neuron}={op}")
    if not value:
        example = {"V": "0.5", "K": "2", "P": "1200"}[needs]
        raise OptionError(f"{op} needs {needs}: type it in the value box, e.g. {example}")
    return page_edit(f"{neuron}={op}:{value}")


def page_edit(text: str) -> EditSpec:
    """An edit as the page may ask for it: any but a patch from another file.

    The server would open whatever path a page named; a patch on the page takes a position of the
    file shown.

    >>> page_edit("layer0.h.1=patch:/etc/passwd@3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lstmviz.errors.OptionError: patch takes a position of the file shown here; type P, e.g. 1200 (...)
    """
    spec = EditSpec.parse(text)
    if spec.source is not None:
        raise OptionError("patch takes a position of the file shown here; type P, e.g. 1200 (lstmviz "
                          "intervene --edit NEURON=patch:FILE@POS patches from another file)")
    return spec


def span_of(source: Any, view: View, selection: Any, states: States) -> tuple[int, int]:
    """The span to edit: the marked text, the span dragged over with the mouse, or the window shown.

    Raises:
        SpanError: none is there, it is not START:END, it reaches outside the text, or it is longer
            than :data:`MAX_SPAN`.
    """
    if source == "mark":
        if view.mark < 0 or view.mark_len < 1:
            raise SpanError("no text is marked; mark some with Find, or choose the mouse selection or "
                            "the window")
        a, b = view.mark, view.mark + view.mark_len
    elif source == "selection":
        text = typed_text(selection, "selection").replace(" ", "")
        if not text:
            raise SpanError("no span is selected; drag over the text to select one, or choose the mark or "
                            "the window")
        first, sep, last = text.partition(":")
        if not (sep and first.isdigit() and last.isdigit()):
            raise SpanError(f"{text!r} is not a span; drag over the text again, or type START:END in "
                            "By example")
        a, b = int(first), int(last)
    elif source == "window":
        a, b = view.pos, view.stop
    else:
        raise PageError(f"the page sent the span {source!r}; choose one of {', '.join(SOURCES)}")
    states.span(a, b)
    if b - a > MAX_SPAN:
        raise SpanError(f"the span {a}:{b} is {b - a:,} characters long; edit at most {MAX_SPAN:,} at once")
    return a, b


def columns_of(width_px: Any) -> int:
    """Characters per line of a figure as wide as the pane, from the pane's width the page reports.

    >>> columns_of(600), columns_of("wide"), columns_of(10)
    (31, 74, 10)
    """
    from lstmviz.render.style import screen_columns

    if not isinstance(width_px, int | float) or isinstance(width_px, bool) or not math.isfinite(width_px):
        return screen_columns(True)
    return int(min(MAX_COLUMNS, max(MIN_COLUMNS, (width_px - 2 * PAD_PX - 2) // COL_PX)))


def request_of(catalog: Catalog, page_view: Any, op: Any, value: Any, source: Any, selection: Any,
               width_px: Any) -> tuple[Request, States]:
    """The edit a press of Apply asks for, checked against its file (before any model is loaded)."""
    view, states = shown_unit(catalog, page_view)
    spec = edit_of(view.neuron, op, value)
    a, b = span_of(source, view, selection, states)
    if spec.op == "patch":
        from lstmviz.intervene.edits import patch_value

        patch_value(states, states.neuron(spec.neuron), spec.position)  # refused before the run
    return Request(view.file, str(spec), a, b, columns_of(width_px)), states


def run(catalog: Catalog, request: Request, states: States, fmt: str = "svg", fragment: bool = True
        ) -> tuple[str, str]:
    """(figure, totals line) of a request: the intervention rerun by the file's model.

    Raises:
        CheckpointError: the file's model cannot be found, or is not the one it was made with.
        LstmvizError: the edit cannot apply to this file.
    """
    from lstmviz.intervene.intervention import intervene
    from lstmviz.render.intervention import before_after, intervention_command, totals_line

    loaded = catalog.models.model(states)
    spec = page_edit(request.edit)
    result = intervene(states, loaded.model, [spec], request.start, request.stop, settle=SETTLE, after=AFTER)
    name = catalog.get(request.file).path.name
    command = intervention_command(name, [spec], request.start, request.stop, settle=SETTLE, after=AFTER)
    figure = before_after(states, result, command=command, fmt=fmt, width=request.columns, fragment=fragment)
    return figure, totals_line(result)


def apply_reply(catalog: Catalog, page_view: Any, op: Any, value: Any, source: Any, selection: Any,
                width_px: Any) -> tuple[list, str, dict | None]:
    """(figure, totals, the request it shows) after Apply; a refusal is one line in the totals' place."""
    try:
        request, states = request_of(catalog, page_view, op, value, source, selection, width_px)
        svg, totals = run(catalog, request, states)
    except LstmvizError as e:
        return [], f"Cannot edit: {e}", None
    return [figure_image(svg, request)], totals, request.to_dict()


def figure_image(svg: str, request: Request) -> html.Img:
    """The figure in the pane: an SVG image, as wide as the pane, in proportion; no script runs in it."""
    import base64

    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    drawn = re.search(r'viewBox="0 0 ([\d.]+) ', svg)  # never wider than drawn: a short span stays small
    alt = (f"What if {request.edit} over {request.start}:{request.stop}: the guesses before and after, "
           "and the change of loss")
    return html.Img(src=src, className="lv-whatif-figure", style={"maxWidth": f"{drawn[1]}px"}, alt=alt)


def export_reply(catalog: Catalog, shown: Any, fmt: str) -> tuple[dict | None, str | None]:
    """The download of the figure shown (``fmt`` html or svg), or None and the line saying why not."""
    from dash import dcc

    try:
        request = Request.from_dict(shown)
        states = _states(catalog, request.file)
        spec = page_edit(request.edit)
        states.span(request.start, request.stop)
        if request.stop - request.start > MAX_SPAN or not MIN_COLUMNS <= request.columns <= MAX_COLUMNS:
            raise PageError("the page sent an edit larger than the panel makes; press Apply again")
        text, _ = run(catalog, request, states, fmt=fmt, fragment=False)
    except LstmvizError as e:
        return None, f"Cannot export: {e}"
    name = f"whatif_{spec.neuron}_{request.start}.{fmt}"
    return dcc.send_string(text, name, type={"html": "text/html", "svg": "image/svg+xml"}[fmt]), None


def _states(catalog: Catalog, key: str) -> States:
    entry = catalog.get(key)
    if entry is None:
        raise PageError(f"file {key!r} is not on this server; pick one from the file list")
    if entry.error is not None:
        raise StoreError(entry.error)
    return cached_states(entry.path)


def model_line(catalog: Catalog, page_view: Any) -> str:
    """What reruns the shown file: its model's name and sha256, or the one line saying how to give it."""
    try:
        _, states = view_of(catalog, page_view)
        loaded = catalog.models.model(states)
    except LstmvizError as e:
        return str(e)
    return (f"Edits rerun {loaded.path.name} (sha256 {loaded.sha256[:12]}…), the model "
            f"{states.path.name} was extracted with.")


# ---- the causal score ------------------------------------------------------------------------------


def causal_work(states: States, model: Any, neuron: Neuron, chars: int = CAUSAL_CHARS, *,
                hypothesis: str = "", progress: Any = False, seed: int = 0) -> dict:
    """Silence ``neuron`` (held at its mean) and ≥30 random units of its layer and kind over the text's start.

    Measured at every character and, when the unit was opened for a hypothesis (``hypothesis``,
    the view's ``why``), also where ``lstmviz search --causal`` measures it: at the characters
    that close the hypothesis' regions and inside them. A ``why`` that is no hypothesis (a
    pattern the search refuses now) is left out, not an error: the whole-text score still holds.

    Returns:
        ``rows``: (where, positions, the unit's mean Δbits per character, the random units',
        its percentile among them) for each place measured; and the unit, characters and count of
        random units.
    """
    from lstmviz.intervene.causal import ablation_effects, hypothesis_positions, random_units
    from lstmviz.search.hypotheses import resolve, symbol_string

    n = min(states.n_tokens - 1, chars)
    if n < 2:
        raise SpanError(f"{states.path.name} is too short to score a unit; it needs 3 characters or more")
    others = [Neuron(neuron.layer, neuron.kind, u) for u in
              random_units(states, neuron.name, [neuron.unit], N_RANDOM, seed)]
    places, masks = ["every character"], [np.ones(n, dtype=bool)]
    if hypothesis:
        try:
            hyp = resolve(hypothesis, byte_level=states.vocab.byte_level)
        except LstmvizError:
            hyp = None
        if hyp is not None:
            found = hypothesis_positions(hyp, symbol_string(states), n)
            places += [f"closing {hyp.name}", f"inside {hyp.name}"]
            masks += [found.closing, found.inside]
    effects = ablation_effects(states, model, [neuron, *others], np.stack(masks, axis=1), n=n,
                               progress=progress)
    rows = []
    for k, place in enumerate(places):
        mine, randoms = float(effects[0, k]), effects[1:, k]
        if np.isfinite(mine):  # a place with no position in the stretch says nothing
            rows.append({"where": place, "positions": int(masks[k].sum()), "bits": mine,
                         "random": [float(x) for x in randoms],
                         "percentile": 100.0 * float(np.mean(randoms < mine))})
    return {"neuron": str(neuron), "chars": n, "n_random": len(others), "rows": rows}


def causal_request(catalog: Catalog, page_view: Any) -> tuple[Neuron, States, Any, str]:
    """The unit to score, its file, its model and the hypothesis it was opened for, checked first.

    Checked before the background job starts, so a refusal is the panel's answer at once.
    """
    view, states = shown_unit(catalog, page_view)
    neuron = states.neuron(view.neuron)
    if states.n_hidden < 2:
        raise OptionError(f"{neuron.name} has one unit; a causal score compares it with others")
    return neuron, states, catalog.models.model(states).model, view.why


def causal_panel(found: dict) -> html.Div:
    """The score in words: Δbits per character, and where it stands among the random units, per place."""
    lines = [html.Div(f"Silencing {found['neuron']} (held at its mean) over the first {found['chars']:,} "
                      f"characters, against {found['n_random']} random units of the same layer and kind:",
                      className="lv-whatif-score")]
    for row in found["rows"]:
        randoms = np.asarray(row["random"])
        below = int((randoms < row["bits"]).sum())
        lines.append(html.Div(
            f"{row['where']} ({row['positions']:,} positions): {row['bits']:+.4f} bits per character, "
            f"causal percentile {row['percentile']:.0f} (more than {below} of {len(randoms)}; their median "
            f"{np.median(randoms):+.4f}, largest {randoms.max():+.4f}).", className="lv-notice"))
    return html.Div(lines, className="lv-whatif-causal")


def causal_progress(neuron: str, share: float, seconds: float) -> html.Div:
    """A causal score under way: a bar and how far it got."""
    return html.Div([
        html.Progress(value=f"{share:.3f}", max="1", className="lv-progress"),
        html.Span(f" Silencing {neuron} and {N_RANDOM} random units over the first {CAUSAL_CHARS:,} "
                  f"characters: {share:.0%} after {seconds:.1f} s."),
    ], className="lv-notice lv-ranking")


# ---- a sample with the cell held ---------------------------------------------------------------------


def _whole(value: Any, what: str, lo: int, hi: int, default: int) -> int:
    plain = isinstance(value, int) and not isinstance(value, bool)
    text = str(value) if plain else typed_text(value, what).strip()
    if not text:
        return default
    try:
        n = int(text)
    except ValueError:
        raise OptionError(f"the {what} {text!r} is not a whole number; type one from {lo:,} to "
                          f"{hi:,}") from None
    if not lo <= n <= hi:
        raise OptionError(f"the {what} is {n:,}; type one from {lo:,} to {hi:,}")
    return n


def sample_reply(catalog: Catalog, page_view: Any, value: Any, prime: Any, length: Any, seed: Any) -> list:
    """Text the model writes with the shown unit held at ``value``, coloured by that unit.

    The colour is the unit as the unedited model reads the generated text: held, it would be the
    same everywhere; free, it shows whether the text is what the unit answers to.
    """
    from lstmviz.intervene.edited_run import run_edited
    from lstmviz.intervene.steering import clamped, parse_clamp
    from lstmviz.model.sample import START_SYMBOL, sample
    from lstmviz.render.palette import display_values
    from lstmviz.render.snippet import colour_range, display_chars

    try:
        view, states = shown_unit(catalog, page_view)
        neuron = states.neuron(view.neuron)
        text = typed_text(value, "value").strip()
        if not text:
            raise OptionError(f"type the value to hold {neuron} at, e.g. 0.9")
        try:
            held = float(text)
        except ValueError:
            raise OptionError(f"{text!r} is not a number; type the value to hold {neuron} at, "
                              "e.g. 0.9") from None
        clamp = parse_clamp(f"{neuron}=set:{held!r}")  # refuses inf and nan in the command line's words
        prime = typed_text(prime, "prime")
        n = _whole(length, "length", 1, MAX_SAMPLE, 200)
        seed = _whole(seed, "seed", 0, 2**31 - 1, 0)
        loaded = catalog.models.model(states)
        vocab = loaded.vocab
        written = sample(loaded.model, vocab, n, prime=prime, seed=seed, step=clamped(loaded.model, [clamp]))
    except LstmvizError as e:
        return [figures.notice(f"Cannot sample: {e}")]
    import torch

    read = vocab.encode(prime or START_SYMBOL)
    ids = np.concatenate([read, vocab.encode(written)])
    trace = run_edited(loaded.model, torch.from_numpy(ids))
    values = (trace.gates[neuron.name] if neuron.kind.startswith("gates.")
              else getattr(trace, neuron.kind)[neuron.layer])[0, :, neuron.unit].numpy()
    shown_from = 0 if prime else len(read)
    symbols = [vocab.symbols[i] for i in ids[shown_from:]]
    chars = display_chars(symbols, vocab.byte_level)
    cells = [cell_text(ch, True) for ch in chars]
    lo, hi = colour_range(states, neuron, view.raw_c)
    shown = display_values(neuron.kind, values[shown_from:], view.raw_c)
    place = np.clip((shown - lo) / (hi - lo or 1.0), 0.0, 1.0)
    snip = {"w": 0, "t": [t for t, _ in cells], "f": "".join("1" if f else "0" for _, f in cells),
            "s": [round(float(x), 3) for x in place], "m": [len(read) if prime else 0, len(chars)]}
    return [html.Div(f"{n:,} characters written with {neuron} held at {clamp.value:g} (seed {seed}), "
                     f"coloured by {neuron} as the unedited model reads them"
                     + (", after the prime (not marked)" if prime else ""), className="lv-notice"),
            figures.item_list([{"vals": [], "snip": snip}], **{"data-which": "sample"})]


# ---- the tab -----------------------------------------------------------------------------------------


def tab() -> Any:
    """The "What if" tab: edit the shown unit over a span, its causal score, a sample with it held."""
    from dash import dcc

    def button(label: str, id_: str, title: str) -> html.Button:
        return html.Button(label, id=id_, n_clicks=0, className="lv-btn", title=title)

    ops = [{"label": label, "value": op} for op, (label, _) in OPERATIONS.items()]
    sources = [{"label": label, "value": key} for key, label in SOURCES.items()]
    return dcc.Tab(label="What if", value=ids.TAB_WHATIF, children=html.Div([
        html.Div(id=ids.WHATIF_MODEL, className="lv-notice", role="note"),
        html.Div([
            dcc.Dropdown(id=ids.WHATIF_OP, options=ops, value="zero", clearable=False, searchable=False,
                         className="lv-whatif-op"),
            dcc.Input(id=ids.WHATIF_VALUE, type="text", debounce=False, className="lv-whatif-value",
                      placeholder="V, K or P"),
            html.Span("over", className="lv-field-label"),
            dcc.RadioItems(id=ids.WHATIF_SOURCE, options=sources, value="selection", inline=True,
                           className="lv-radio"),
            button("Apply", ids.WHATIF_APPLY, "rerun the model with the shown unit edited over the span"),
        ], className="lv-row"),
        html.Div(id=ids.WHATIF_TOTALS, className="lv-whatif-totals", role="status"),
        dcc.Loading(html.Div(id=ids.WHATIF_FIGURE, className="lv-whatif-host"), delay_show=400),
        html.Div([
            button("Export HTML", ids.WHATIF_EXPORT_HTML, "download the figure as an HTML page"),
            button("Export SVG", ids.WHATIF_EXPORT_SVG, "download the figure as an SVG"),
            button("Causal score", ids.WHATIF_CAUSAL,
                   f"silence the unit and {N_RANDOM} random units of its layer and kind over the first "
                   f"{CAUSAL_CHARS:,} characters"),
            dcc.Download(id=ids.WHATIF_DOWNLOAD),
        ], className="lv-row"),
        html.Div(id=ids.WHATIF_CAUSAL_RESULT),
        dcc.Interval(id=ids.WHATIF_CAUSAL_POLL, interval=300, disabled=True),
        html.H4("Sample with this cell clamped", className="lv-whatif-h"),
        html.Div([
            dcc.Input(id=ids.WHATIF_CLAMP, type="text", className="lv-num", placeholder="value"),
            dcc.Input(id=ids.WHATIF_PRIME, type="text", className="lv-find", placeholder="prime (optional)"),
            dcc.Input(id=ids.WHATIF_LENGTH, type="text", className="lv-num", value="200",
                      placeholder=f"≤ {MAX_SAMPLE:,}"),
            dcc.Input(id=ids.WHATIF_SEED, type="text", className="lv-num", value="0", placeholder="seed"),
            button("Sample", ids.WHATIF_SAMPLE, "generate text with the shown unit held at the value"),
        ], className="lv-row"),
        dcc.Loading(html.Div(id=ids.WHATIF_SAMPLE_RESULT), delay_show=400),
        dcc.Store(id=ids.WHATIF_ASK),
        dcc.Store(id=ids.WHATIF_FOR),
    ], className="lv-panel"))
