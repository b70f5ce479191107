"""The Compare view: two extractions of the same text, side by side (``lstmviz compare`` in the page).

Two seeds of one model, or two sizes: the layers' linear CKA, each hypothesis' cell in both, and
a unit of A with its one-to-one match in B, each colouring the same characters, one above the
other. The comparison (:func:`lstmviz.evolution.compare.compare`) is computed once per pair and
process; a window shows at most :data:`WINDOW` characters.

The view is a Dash app of its own under ``/compare/`` on the main app's server, as
:mod:`app.evolution` is; its functions are plain and tested without a browser.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, ctx, dcc, html, no_update

from app.catalog import Catalog, Entry, cached_states
from app.evolution import query_of
from app.state import PageError
from lstmviz.errors import LstmvizError, StoreError
from lstmviz.evolution.compare import Comparison, compare
from lstmviz.names import Neuron
from lstmviz.render import html as render_html
from lstmviz.render.export import render
from lstmviz.render.spec import ExportSpec

PREFIX = "/compare/"
WINDOW = 500  # characters coloured at once
MAX_POSITIONS = 200_000  # a longer pair is compared by `lstmviz compare`: it reads every position of both

URL, FILE_A, FILE_B, UNIT, PREV, NEXT, MESSAGE, SUMMARY, TEXT_A, TEXT_B, WHERE = (
    "cmp-url", "cmp-a", "cmp-b", "cmp-unit", "cmp-prev", "cmp-next", "cmp-message", "cmp-summary",
    "cmp-text-a", "cmp-text-b", "cmp-where")


def _entry(catalog: Catalog, key: str | None, which: str) -> Entry:
    entry = catalog.get(key)
    if entry is None:
        raise PageError(f"file {key!r} ({which}) is not on this server; pick one from the list" if key else
                        f"pick file {which}")
    if entry.error is not None:
        raise StoreError(entry.error)
    return entry


def comparison(catalog: Catalog, key_a: str | None, key_b: str | None) -> Comparison:
    """The two files compared (once per pair, while neither changes).

    Raises:
        PageError: a file not served here, or longer than :data:`MAX_POSITIONS`.
        TextError: the two hold different texts (compare's own words).
    """
    a, b = _entry(catalog, key_a, "A"), _entry(catalog, key_b, "B")
    for entry in (a, b):
        n = cached_states(entry.path).n_tokens
        if n > MAX_POSITIONS:
            raise PageError(f"{entry.path.name} holds {n:,} positions; the page compares files of at most "
                            f"{MAX_POSITIONS:,}: run `lstmviz compare` on it, or extract a shorter text")
    sa, sb = os.stat(a.path), os.stat(b.path)
    return _compared(str(a.path), str(b.path), (sa.st_mtime_ns, sa.st_size, sb.st_mtime_ns, sb.st_size))


@lru_cache(maxsize=4)
def _compared(path_a: str, path_b: str, _identity: tuple) -> Comparison:
    return compare(path_a, path_b, device="cpu")


def default_unit(result: Comparison) -> str:
    """A's cell for the first hypothesis both models have a cell for, else A's first unit."""
    for h in result.hypotheses:
        if h.both(result.margin) and Neuron.parse(h.a.neuron).kind == result.kind:
            return h.a.neuron
    return f"layer0.{result.kind}.0"


def unit_options(result: Comparison) -> list[dict]:
    """Every matched unit of A, with its partner in B and their correlation."""
    out = []
    for layer in result.layers:
        for u, (p, r) in enumerate(zip(layer.matching.partner, layer.matching.correlation, strict=True)):
            said = f"B layer{layer.layer}.{result.kind}.{p}, r {r:+.2f}" if p >= 0 else "no match in B"
            out.append({"label": f"A layer{layer.layer}.{result.kind}.{u} ↔ {said}",
                        "value": f"layer{layer.layer}.{result.kind}.{u}"})
    return out


def match_of(result: Comparison, neuron: str) -> tuple[str, float]:
    """The unit of B matched to A's ``neuron`` and their correlation.

    Raises:
        PageError: a unit the comparison does not match (another kind, a layer or unit beyond them).
    """
    try:
        n = Neuron.parse(neuron)
    except LstmvizError as e:
        raise PageError(f"the page sent unit {neuron!r}: {e}") from None
    layers = {layer.layer: layer for layer in result.layers}
    if n.kind != result.kind or n.layer not in layers or n.unit >= len(layers[n.layer].matching.partner):
        raise PageError(f"unit {neuron} of A is not matched; pick one from the list")
    m = layers[n.layer].matching
    partner = int(m.partner[n.unit])
    if partner < 0:
        raise PageError(f"unit {neuron} of A has no match in B (B's layer is smaller)")
    return str(Neuron(n.layer, n.kind, partner)), float(m.correlation[n.unit])


def summary(result: Comparison) -> html.Div:
    """The layers' CKA and each hypothesis' cells in both, as two small tables."""
    cka = html.Table([
        html.Thead(html.Tr([html.Th("layer"), html.Th("linear CKA"), html.Th("pairs with |r| ≥ 0.9")])),
        html.Tbody([html.Tr([html.Td(layer.layer), html.Td(f"{layer.cka:.3f}"),
                             html.Td(f"{layer.paired()} of {layer.units_a}")]) for layer in result.layers]),
    ], className="lv-ev-table")

    def cell(c) -> str:
        return f"{c.neuron} {c.score:.3f} ({c.margin:+.3f})" if c.neuron else "none"

    rows = [html.Tr([html.Td(h.name), html.Td(cell(h.a)), html.Td(cell(h.b)),
                     html.Td("yes" if h.both(result.margin) else "no"),
                     html.Td("" if math.isnan(h.twin_correlation) else
                             f"{h.twin.neuron} {h.twin.score:.3f}, r {h.twin_correlation:+.2f}"),
                     html.Td("yes" if h.same_cell else "no")]) for h in result.hypotheses]
    hyps = html.Table([
        html.Thead(html.Tr([html.Th(t) for t in ("hypothesis", "A's cell (margin)", "B's cell (margin)",
                                                 "both clear", "A's cell in B", "same cell")])),
        html.Tbody(rows)], className="lv-ev-table")
    return html.Div([*(html.P(note, className="lv-notice") for note in result.notes), cka, hyps])


def window(states_a_path: str, neuron: str, pos: int) -> str:
    """One file's unit over [pos, pos + WINDOW) as a small HTML page (the export's look)."""
    states = cached_states(states_a_path)
    stop = min(states.n_tokens, pos + WINDOW)
    spec = ExportSpec((neuron,), pos, stop - pos, fragment=True, width=100)
    return render_html.page(render(states, spec), title=neuron)


def position(value: Any, n_tokens: int) -> int:
    """A window start the page sent, fitted to the text (a multiple of nothing: any start)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(0, min(value, max(0, n_tokens - WINDOW)))


def layout(catalog: Catalog) -> html.Div:
    """The Compare page."""
    options = [{"label": f"{e.path.name}: {e.label}", "value": e.key}
               for e in catalog.usable + catalog.snapshot_entries()]
    frame = {"width": "100%", "height": "330px", "border": "1px solid #ddd"}
    return html.Div([
        dcc.Location(id=URL, refresh=False),
        html.Header([html.H1(html.A("lstmviz", href="/")), html.Span("Compare", className="lv-file-info")],
                    className="lv-header"),
        *(html.Div([html.Span(which, className="lv-field-label"),
                    dcc.Dropdown(id=id_, options=options, clearable=False, className="lv-file")],
                   className="lv-row") for which, id_ in (("A", FILE_A), ("B", FILE_B))),
        html.Div(id=MESSAGE, role="status", className="lv-message"),
        dcc.Loading(html.Div(id=SUMMARY), delay_show=300),
        html.Div([dcc.Dropdown(id=UNIT, clearable=False, className="lv-ev-hypothesis"),
                  html.Button("◀ page", id=PREV, n_clicks=0, className="lv-btn"),
                  html.Button("page ▶", id=NEXT, n_clicks=0, className="lv-btn"),
                  html.Span(id=WHERE, className="lv-file-info")], className="lv-row"),
        html.Iframe(id=TEXT_A, style=frame),
        html.Iframe(id=TEXT_B, style=frame),
    ], className="lv-app lv-compare")


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the page's callback: URL, menus and paging in; tables and both colourings out."""

    @app.callback(
        Output(URL, "search"), Output(FILE_A, "value"), Output(FILE_B, "value"), Output(UNIT, "options"),
        Output(UNIT, "value"), Output(SUMMARY, "children"), Output(TEXT_A, "srcDoc"),
        Output(TEXT_B, "srcDoc"),
        Output(WHERE, "children"), Output(MESSAGE, "children"),
        Input(URL, "search"), Input(FILE_A, "value"), Input(FILE_B, "value"), Input(UNIT, "value"),
        Input(PREV, "n_clicks"), Input(NEXT, "n_clicks"),
    )
    def _show(search, a, b, unit, _prev, _next):
        params = query_of(search)
        if ctx.triggered_id in (FILE_A, FILE_B):
            params = {"a": a, "b": b}
        elif ctx.triggered_id == UNIT:
            params["unit"] = unit
        pos = int(params["pos"]) if params.get("pos", "").isdigit() else 0
        if ctx.triggered_id in (PREV, NEXT):
            pos += WINDOW if ctx.triggered_id == NEXT else -WINDOW
        quiet = (no_update,) * 9
        if not params.get("a") or not params.get("b"):
            return (*quiet, "Pick two extraction files of the same text.")
        try:
            result = comparison(catalog, params["a"], params["b"])
            if not result.layers:
                raise PageError("; ".join(result.notes) or "the two models have no layer in common")
            neuron = params.get("unit") or default_unit(result)
            twin, r = match_of(result, neuron)
            entry_a, entry_b = catalog.get(params["a"]), catalog.get(params["b"])
            pos = position(pos, result.n_positions)
            text_a, text_b = window(str(entry_a.path), neuron, pos), window(str(entry_b.path), twin, pos)
        except LstmvizError as e:
            return (*quiet, str(e))
        query = "?" + urlencode({"a": params["a"], "b": params["b"], "unit": neuron, "pos": pos})
        sign = "; negative: B is high where A is low" if r < 0 else ""
        where = (f"A {neuron} above, B {twin} beneath (r {r:+.2f}{sign}), characters {pos:,} to "
                 f"{min(pos + WINDOW, result.n_positions):,} of {result.n_positions:,}")
        return (query, params["a"], params["b"], unit_options(result), neuron, summary(result), text_a,
                text_b, where, "")
