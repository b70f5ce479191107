"""The Evolution view: one evolution file (``lstmviz evolve``), a hypothesis' cells over training.

For the chosen hypothesis, the score of the best unit at each snapshot and of the final best
unit's lineage (the same cell followed back by the matching) against the training step, the chance
baseline as a band up to the margin, the loss beneath on the same step axis, and the samples of
each snapshot. Clicking a snapshot extracts it over the evolution's text
(:func:`lstmviz.evolution.sources.snapshot_extraction`, into the per-user cache) and opens it in the
character view at the lineage's unit there.

The view is a Dash app of its own, served under ``/evolution/`` by the main app's server
(:func:`app.app.create_app`), so the character view's page is untouched. Its functions are plain:
a URL query in, figures and rows out, so it is tested without a browser.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlencode

import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.subplots import make_subplots

from app.catalog import Catalog, cached_evolution, snapshot_key
from app.state import MAX_TEXT, PageError, View, to_query
from lstmviz.errors import LstmvizError, StoreError
from lstmviz.evolution.records import Evolution, HypothesisTimeline
from lstmviz.evolution.sources import snapshot_extraction

PREFIX = "/evolution/"
WEAK_LINK = 0.5  # a link to the previous snapshot below this |r|: no clear predecessor
BEST_COLOUR, LINEAGE_COLOUR, BAND_COLOUR = "#3a75c4", "#d9572b", "rgba(120,120,120,0.18)"

URL, FILE, HYPOTHESIS, MESSAGE, FIGURE, SAMPLES, GO, ROW = (
    "ev-url", "ev-file", "ev-hypothesis", "ev-message", "ev-figure", "ev-samples", "ev-go", "ev-row")


def query_of(search: str | None) -> dict[str, str]:
    """The URL's parameters, each its last value, cut to :data:`~app.state.MAX_TEXT` characters."""
    return {k: v[-1][:MAX_TEXT] for k, v in parse_qs((search or "").lstrip("?")).items()}


def chosen(catalog: Catalog, search: str | None) -> tuple[str, Evolution, str]:
    """The evolution file and hypothesis a URL asks for: ``?file=KEY&hypothesis=NAME``.

    Without a file, the first readable one; without a hypothesis, :func:`default_hypothesis`.

    Raises:
        PageError: a file not served here, or a hypothesis the evolution lacks.
        StoreError: the file cannot be read.
    """
    params = query_of(search)
    key = params.get("file") or next((e.key for e in catalog.evolutions if e.error is None), None)
    entry = catalog.evolution(key)
    if entry is None:
        raise PageError(f"evolution file {key!r} is not on this server; pick one from the list"
                        if key else "no evolution files are served here; give one to `lstmviz serve`")
    if entry.error is not None:
        raise StoreError(entry.error)
    evolution = cached_evolution(entry.path)
    name = params.get("hypothesis") or default_hypothesis(evolution)
    if name not in evolution.hypotheses:
        raise PageError(f"the evolution has no hypothesis {name!r}; pick one of "
                        f"{', '.join(evolution.hypotheses)}")
    return key, evolution, name


def default_hypothesis(evolution: Evolution) -> str:
    """The hypothesis whose final best cell clears its baseline by the largest margin."""
    def margin(t: HypothesisTimeline) -> float:
        m = t.lineage[-1].margin if t.lineage and t.lineage[-1].neuron else math.nan
        return -math.inf if math.isnan(m) else m

    return max(evolution.hypotheses.values(), key=margin).name


def hypothesis_options(evolution: Evolution) -> list[dict]:
    """The menu: each hypothesis with its final cell and margin."""
    out = []
    for t in evolution.hypotheses.values():
        last = t.lineage[-1]
        said = f"{last.neuron}, margin {last.margin:+.3f}" if last.neuron else "no cell"
        out.append({"label": f"{t.name}: {t.description} ({said})", "value": t.name})
    return out


def _steps(evolution: Evolution) -> list[int]:
    """The x of each snapshot: its step, or its position (from 1) when a step is unknown."""
    known = all(s.step is not None for s in evolution.snapshots)
    return [s.step if known else k + 1 for k, s in enumerate(evolution.snapshots)]


def figure(evolution: Evolution, name: str) -> go.Figure:
    """Score against step for the best unit and the final best unit's lineage, and the loss beneath.

    The baseline is a band from the baseline to the baseline plus the margin: a unit above the
    band clears the hypothesis. A link of the lineage weaker than |r| 0.5 is drawn dashed, its
    snapshot marked "no clear predecessor". Each point carries its snapshot's index in
    ``customdata``, which a click opens.
    """
    t = evolution.hypotheses[name]
    x = _steps(evolution)
    index = list(range(len(x)))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    base = [c.baseline for c in t.best]
    fig.add_trace(go.Scatter(x=x, y=base, mode="lines", line={"width": 0}, hoverinfo="skip",
                             showlegend=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[b + evolution.margin for b in base], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor=BAND_COLOUR, name=f"baseline .. +{evolution.margin:g}",
                             hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=x, y=[c.score for c in t.best], mode="lines+markers", name="best unit at each snapshot",
        line={"color": BEST_COLOUR}, customdata=index,
        text=[c.neuron or "none" for c in t.best],
        hovertemplate="%{text}: %{y:.3f}<extra>best</extra>"), row=1, col=1)
    final = t.lineage[-1].neuron
    if final:
        links = evolution.links(final)
        weak = [k + 1 for k, r in enumerate(links) if not math.isnan(r) and abs(r) < WEAK_LINK]
        y = [c.score if c.neuron else None for c in t.lineage]
        for k in range(len(x) - 1):  # one segment per link: solid, or dashed where it is weak
            fig.add_trace(go.Scatter(x=x[k:k + 2], y=y[k:k + 2], mode="lines", showlegend=False,
                                     hoverinfo="skip", line={"color": LINEAGE_COLOUR,
                                                             "dash": "dash" if k + 1 in weak else "solid"}),
                          row=1, col=1)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers", name=f"{final} followed back",
            marker={"color": LINEAGE_COLOUR, "size": 8},
            customdata=index, text=[c.neuron or "no match" for c in t.lineage],
            hovertemplate="%{text}: %{y:.3f}<extra>lineage</extra>"), row=1, col=1)
        for k in weak:
            fig.add_annotation(x=math.log10(x[k]) if x[k] > 0 else x[k], y=y[k], text="no clear predecessor",
                               showarrow=True, arrowhead=0, ax=0, ay=-28, font={"size": 10},
                               row=1, col=1)
    for field, label, dash in (("train_bpc", "train", "dot"), ("val_bpc", "validation", "solid")):
        values = [getattr(s, field) for s in evolution.snapshots]
        if any(v is not None for v in values):
            fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=f"{label} loss",
                                     line={"color": "#555", "dash": dash}, customdata=index,
                                     hovertemplate="%{y:.3f} bits/char<extra>" + label + "</extra>"),
                          row=2, col=1)
    known = all(s.step is not None for s in evolution.snapshots)
    fig.update_xaxes(type="log" if known and min(x) > 0 else "linear", row=2, col=1,
                     title_text="training step" if known else "snapshot")
    fig.update_xaxes(type="log" if known and min(x) > 0 else "linear", row=1, col=1)
    fig.update_yaxes(title_text=t.measure, row=1, col=1)
    fig.update_yaxes(title_text="bits/char", row=2, col=1)
    fig.update_layout(height=520, margin={"l": 60, "r": 20, "t": 30, "b": 40}, hovermode="closest",
                      legend={"orientation": "h", "y": 1.08}, clickmode="event")
    return fig


def samples(evolution: Evolution, name: str) -> html.Table:
    """One row per snapshot: step, losses, the lineage's unit, the best unit, the sample, an Open button."""
    t = evolution.hypotheses[name]
    head = html.Tr([html.Th(h) for h in ("snapshot", "val loss", "cell followed back", "best unit", "sample",
                                         "")])
    rows = []
    for k, s in enumerate(evolution.snapshots):
        lineage, best = t.lineage[k], t.best[k]
        rows.append(html.Tr([
            html.Td(s.label),
            html.Td("" if s.val_bpc is None else f"{s.val_bpc:.3f}"),
            html.Td(f"{lineage.neuron} {lineage.score:.3f}" if lineage.neuron else "no match"),
            html.Td(f"{best.neuron} {best.score:.3f}" if best.neuron else "none"),
            html.Td(html.Pre(s.sample, className="lv-ev-sample")),
            html.Td(html.Button("Open", id={"type": ROW, "k": k}, n_clicks=0, className="lv-btn",
                                title="extract this snapshot over the text and show it, at the cell")),
        ], className="lv-ev-row"))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="lv-ev-table")


def snapshot_index(evolution: Evolution, value: Any) -> int:
    """A snapshot index the page sent, checked.

    Raises:
        PageError: not a whole number of a snapshot of this evolution.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(evolution.snapshots):
        raise PageError(f"the page sent snapshot {value!r}; this evolution has {len(evolution.snapshots)}")
    return value


def open_snapshot(catalog: Catalog, key: str, evolution: Evolution, name: str, k: int) -> str:
    """Extract snapshot ``k`` (once; cached) and the character view's URL at its lineage unit.

    The unit is the final best cell as it was at that snapshot, or the best unit there when the
    chain of matches is broken.

    Raises:
        CheckpointError, TextError: the checkpoint or text is not beside the evolution file.
    """
    snapshot_extraction(evolution, k)
    t = evolution.hypotheses[name]
    neuron = t.lineage[k].neuron or t.best[k].neuron
    entry = catalog.get(snapshot_key(key, k))
    if entry is None:  # just written: the catalog finds it by its key
        raise StoreError(f"snapshot {k} of {key} was extracted but cannot be opened; reload the page")
    return "/" + to_query(View(entry.key, neuron, why=name)) if neuron else f"/?file={entry.key}"


def layout(catalog: Catalog) -> html.Div:
    """The Evolution page."""
    options = [{"label": f"{e.path.name}: {e.label}" if e.error is None else f"{e.path.name} — cannot open",
                "value": e.key, "disabled": e.error is not None} for e in catalog.evolutions]
    return html.Div([
        dcc.Location(id=URL, refresh=False),
        dcc.Store(id=GO),  # where a clicked snapshot opens; the browser goes there
        html.Header([
            html.H1(html.A("lstmviz", href="/")),
            html.Span("Evolution", className="lv-file-info"),
            dcc.Dropdown(id=FILE, options=options, clearable=False, searchable=False, className="lv-file"),
            html.A("Compare two files", href="/compare/", className="lv-file-info"),
        ], className="lv-header"),
        dcc.Dropdown(id=HYPOTHESIS, clearable=False, className="lv-ev-hypothesis"),
        html.Div(id=MESSAGE, role="status", className="lv-message"),
        dcc.Loading(html.Div(id="ev-opening"), delay_show=300),
        dcc.Graph(id=FIGURE, config={"displaylogo": False}),
        html.P("Click a snapshot (a point, or Open) to read it in the character view at the cell: it is "
               "extracted over the evolution's text the first time (seconds).", className="lv-notice"),
        html.Div(id=SAMPLES),
    ], className="lv-app lv-evolution")


def register(app: Dash, catalog: Catalog) -> None:
    """Attach the page's two callbacks: the URL and menus, and opening a snapshot."""

    @app.callback(
        Output(URL, "search"), Output(FILE, "value"), Output(HYPOTHESIS, "options"),
        Output(HYPOTHESIS, "value"), Output(FIGURE, "figure"), Output(SAMPLES, "children"),
        Output(MESSAGE, "children"),
        Input(URL, "search"), Input(FILE, "value"), Input(HYPOTHESIS, "value"),
    )
    def _show(search, file, hypothesis):
        if ctx.triggered_id == FILE and isinstance(file, str):
            search = "?" + urlencode({"file": file})
        elif ctx.triggered_id == HYPOTHESIS and isinstance(file, str) and isinstance(hypothesis, str):
            search = "?" + urlencode({"file": file, "hypothesis": hypothesis})
        try:
            key, evolution, name = chosen(catalog, search)
        except LstmvizError as e:
            return (no_update,) * 6 + (str(e),)
        canonical = "?" + urlencode({"file": key, "hypothesis": name})
        notes = "; ".join(evolution.notes)
        return (canonical, key, hypothesis_options(evolution), name, figure(evolution, name),
                samples(evolution, name), notes)

    @app.callback(
        Output(GO, "data"), Output(MESSAGE, "children", allow_duplicate=True),
        Output("ev-opening", "children"),
        Input(FIGURE, "clickData"), Input({"type": ROW, "k": ALL}, "n_clicks"),
        State(URL, "search"), prevent_initial_call=True,
    )
    def _open(click, _rows, search):
        if isinstance(ctx.triggered_id, dict):
            if not ctx.triggered or not ctx.triggered[0]["value"]:
                return no_update, no_update, no_update
            k = ctx.triggered_id.get("k")
        else:
            points = click.get("points") if isinstance(click, dict) else None
            k = points[0].get("customdata") if isinstance(points, list) and points and isinstance(
                points[0], dict) else None
            if k is None:
                return no_update, no_update, no_update
        try:
            key, evolution, name = chosen(catalog, search)
            href = open_snapshot(catalog, key, evolution, name, snapshot_index(evolution, k))
        except LstmvizError as e:
            return no_update, str(e), ""
        return href, "", ""

    app.clientside_callback(  # a page of the main app: the browser loads it
        "function (href) { if (href) { window.location.assign(href); } return ''; }",
        Output("ev-opening", "title"), Input(GO, "data"), prevent_initial_call=True)
