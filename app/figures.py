"""Plotly figures and small component trees built from :mod:`app.data` values.

Plain functions of plain values, so tests call them without a server. The character grid itself is
not built here: the browser draws it from compact arrays (``assets/lstmviz.js``).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from app import ids
from app.data import Context, Profile
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.search.by_example import ExampleSearch

_MARGIN = {"l": 40, "r": 10, "t": 30, "b": 40}


def saturation_labels(kind: str) -> dict[str, str]:
    """What the summaries count as saturated for a kind (its thresholds in lstmviz.kinds), in words.

    >>> saturation_labels("gates.f")["sat_lo"], saturation_labels("c")["sat_hi"]
    ('left-saturated (< 0.1)', 'saturated high (tanh(c) ≥ 0.9)')
    """
    row = KINDS[kind]
    lo, hi = row.saturation
    shown = f"{row.shown()} " if row.display else ""
    high, low = "saturated high", "saturated low"
    if not row.symmetric:  # a sigmoid gate, saturated open or closed
        high, low = "right-saturated", "left-saturated"
    return {"sat_hi": f"{high} ({shown}≥ {hi:g})", "sat_lo": f"{low} ({shown}< {lo:g})"}


def histogram(p: Profile) -> dict:
    """The neuron's value distribution over the whole text, with its mean marked.

    A plain figure dict: built without plotly's validation, so opening a profile stays instant.
    """
    centres = [(a + b) / 2 for a, b in zip(p.edges[:-1], p.edges[1:], strict=False)]
    width = p.edges[1] - p.edges[0] if len(p.edges) > 1 else 1.0
    shapes, notes = [], []
    if "mean" in p.stats:
        mean = p.stats["mean"]
        shapes.append({"type": "line", "x0": mean, "x1": mean, "y0": 0, "y1": 1, "yref": "paper",
                       "line": {"dash": "dash", "color": "#333", "width": 1}})
        notes.append({"x": mean, "y": 1, "yref": "paper", "text": "mean", "showarrow": False,
                      "yanchor": "bottom"})
    return {
        "data": [{"type": "bar", "x": centres, "y": p.counts, "width": width, "marker": {"color": "#5b7db1"},
                  "hovertemplate": "%{x:.3f}: %{y:,} positions<extra></extra>"}],
        "layout": {"margin": _MARGIN, "height": 220, "bargap": 0, "plot_bgcolor": "#ffffff",
                   "title": {"text": f"{p.neuron}: values over the text", "font": {"size": 13}},
                   "xaxis": {"title": {"text": "value"}, "gridcolor": "#eeeeee"},
                   "yaxis": {"title": {"text": "positions"}, "gridcolor": "#eeeeee"},
                   "shapes": shapes, "annotations": notes},
    }


def saturation(df: pd.DataFrame, n_layer: int) -> go.Figure:
    """Karpathy, Johnson & Fei-Fei's gate saturation plot: a point per gate unit and layer.

    x: fraction of the text where the gate is right-saturated (>= 0.9); y: left-saturated (< 0.1).
    Units near the axes' far ends are gates that act as switches; clicking a point opens the unit.
    """
    switches = list(df["kind"].unique()) or [k for k, row in KINDS.items() if row.switch]
    axes = saturation_labels(switches[0])  # the sigmoid gates share their thresholds
    fig = make_subplots(rows=1, cols=max(n_layer, 1), subplot_titles=[f"layer {k}" for k in range(n_layer)],
                        shared_yaxes=True, horizontal_spacing=0.04)
    for (layer, kind), rows in df.groupby(["layer", "kind"], sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["sat_hi"], y=rows["sat_lo"], mode="markers",
                marker={"color": KINDS[kind].colour, "size": 6, "opacity": 0.7},
                name=KINDS[kind].label, legendgroup=kind, showlegend=bool(layer == 0),
                customdata=rows["neuron"],
                hovertemplate="%{customdata}<br>right-saturated %{x:.1%}<br>left-saturated %{y:.1%}"
                              "<extra></extra>",
            ),
            row=1, col=int(layer) + 1,
        )
    fig.update_xaxes(range=[-0.02, 1.02], title_text=f"fraction {axes['sat_hi']}")
    fig.update_yaxes(range=[-0.02, 1.02])
    fig.update_yaxes(title_text=f"fraction {axes['sat_lo']}", col=1)
    fig.update_layout(height=340, margin=_MARGIN, template="plotly_white", clickmode="event",
                      legend={"orientation": "h", "y": -0.25})
    return fig


def _fmt(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:+.3f}"


def contexts(items: list[Context], which: str) -> html.Ol:
    """A clickable list of contexts; clicking one jumps the main view there."""
    return html.Ol(
        [
            html.Li(
                html.Button(
                    [html.Span(_fmt(c.value), className="lv-ctx-val"),
                     html.Span(c.before, className="lv-ctx-before"),
                     html.Mark(c.char or " ", className="lv-ctx-char"),
                     html.Span(c.after, className="lv-ctx-after")],
                    id={"type": ids.CONTEXT, "pos": c.pos, "rank": f"{which}{k}"},
                    className="lv-ctx", title=f"position {c.pos:,}: jump there",
                )
            )
            for k, c in enumerate(items)
        ],
        className="lv-ctx-list",
    )


def stats_table(p: Profile) -> html.Table:
    """Mean, spread, range and saturation of the neuron."""
    labels = {"mean": "mean", "std": "std", "min": "min", "max": "max",
              **saturation_labels(Neuron.parse(p.neuron).kind)}
    rows = []
    for key, label in labels.items():
        if key in p.stats:
            v = p.stats[key]
            shown = f"{v:.1%}" if key.startswith("sat") else f"{v:.4f}"
            rows.append(html.Tr([html.Th(label), html.Td(shown)]))
    return html.Table(rows, className="lv-stats")


def pushes(p: Profile) -> html.Div:
    """The next characters a top-layer h unit raises and lowers through the decoder weights."""
    def row(title: str, items: list[tuple[str, float]]) -> html.Div:
        return html.Div([html.Span(title, className="lv-push-title")] + [
            html.Span([html.B(sym), f" {w:+.2f}"], className="lv-push") for sym, w in items])
    return html.Div([
        html.H4("Next characters it pushes (decoder weights; reversed when the unit is negative)"),
        row("up:", p.pushes_up), row("down:", p.pushes_down)], className="lv-pushes")


def profile_panel(p: Profile) -> list:
    """The whole profile: numbers, histogram, decoder pushes, most positive and negative contexts."""
    return [*([pushes(p)] if p.pushes_up else []),
        html.Div([stats_table(p), dcc.Graph(id=ids.HISTOGRAM, figure=histogram(p),
                                            config={"displayModeBar": False}, className="lv-hist")],
                 className="lv-profile-top"),
        html.Div([
            html.Div([html.H4("Highest values"), contexts(p.top, "t")], className="lv-ctx-col"),
            html.Div([html.H4("Lowest values"), contexts(p.bottom, "b")], className="lv-ctx-col"),
        ], className="lv-ctx-cols"),
    ]


def notice(text: str) -> html.Div:
    """A panel-sized message saying why a panel is empty and what to do."""
    return html.Div(text, className="lv-notice")


def search_table(df: pd.DataFrame) -> html.Div:
    """Ranked units for one hypothesis; clicking a neuron opens it."""
    attrs = df.attrs
    binary = attrs.get("binary", "auroc" in df.columns)
    extra = ("mean_in", "mean_out") if binary else ("pearson", "spearman")
    head = ["#", "neuron", attrs.get("measure", "score"), "direction", "chance", *extra]
    rows = [
        html.Tr([
            html.Td(str(k + 1)),
            html.Td(html.Button(r.neuron, id={"type": ids.SEARCH_HIT, "neuron": r.neuron},
                                className="lv-link", title="open this unit")),
            html.Td(f"{r.score:.3f}"), html.Td(r.direction), html.Td(f"{r.null:.3f}"),
            *(html.Td(f"{getattr(r, c):+.3f}") for c in extra),
        ])
        for k, r in enumerate(df.itertuples())
    ]
    nan = float("nan")
    about = (f"{attrs.get('hypothesis', '')}: {attrs.get('description', '')}. "
             f"Baseline {attrs.get('baseline', nan):.3f}: the larger of chance (best score of any "
             f"unit on shifted copies of the hypothesis, {attrs.get('null_best', nan):.3f}) and a "
             f"reaction to single characters (best score of a guess from the current character "
             f"alone, {attrs.get('local', nan):.3f}). Only scores well above it point to a real cell."
             + language_note(attrs))
    return html.Div([
        html.P(about, className="lv-notice"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                   className="lv-results"),
    ])


def language_note(attrs: dict) -> str:
    """`` Text read as c (detected: …).`` for a ranking's description, or nothing when unknown."""
    if "language" not in attrs:
        return ""
    why = "chosen" if attrs["language_given"] else f"detected: {attrs['language_evidence']}"
    return f" Text read as {attrs['language']} ({why})."


def ranking_progress(what: str, share: float, seconds: float) -> html.Div:
    """A ranking under way: a bar and how far it got; the page stays usable meanwhile."""
    return html.Div([
        html.Progress(value=f"{share:.3f}", max="1", className="lv-progress"),
        html.Span(f" Ranking units against {what}: {share:.0%} after {seconds:.1f} s. A new pattern or "
                  "hypothesis stops it."),
    ], className="lv-notice lv-ranking")


def example_tables(found: ExampleSearch, matches: list[tuple[int, int, float, str]]) -> html.Div:
    """Units on over an example span, and the other places they turn on together.

    ``matches`` are the best matches as (start, stop, score, text shown), each a button that
    shows that span.
    """
    units = html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("neuron", "sign", "weakest inside", "strongest around")])),
        html.Tbody([
            html.Tr([html.Td(html.Button(r.neuron, id={"type": ids.SEARCH_HIT, "neuron": r.neuron},
                                         className="lv-link", title="open this unit")),
                     html.Td(r.sign), html.Td(f"{r.inside_min:+.3f}"), html.Td(f"{r.around_max:+.3f}")])
            for r in found.units.itertuples()
        ]),
    ], className="lv-results")
    spans = html.Ol([
        html.Li(html.Button([html.Span(f"{score:.2f}", className="lv-ctx-val"),
                             html.Span(f"{a:,}–{b:,} ", className="lv-ctx-val"), html.Span(text)],
                            id={"type": ids.SPAN_HIT, "start": a, "stop": b}, className="lv-ctx",
                            title="show this span"))
        for a, b, score, text in matches
    ], className="lv-ctx-list")
    about = (f"{len(found.units)} unit(s) of {found.name} are on over {found.start:,}–{found.stop:,} and "
             f"off just before and after it (threshold {found.threshold:.3g}); "
             f"{len(found.matches):,} other place(s) where they all turn on together.")
    return html.Div([html.P(about, className="lv-notice"), units, html.H4("Where else"), spans])
