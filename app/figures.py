"""Plotly figures and small component trees built from :mod:`app.data` values.

Plain functions of plain values, so tests call them without a server. The character grid itself is
not built here: the browser draws it from compact arrays (``assets/lstmviz.js``).
"""

from __future__ import annotations

import json
import math

import pandas as pd
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from app import data, ids
from app.data import Context, Profile
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render import style
from lstmviz.render.palette import DISPLAY_FUNCTIONS
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
    """The neuron's distribution over the whole text, in the scale the text is coloured by.

    Plain data that ``assets/lstmviz.js`` draws as bars coloured like the text (each bar has the
    colour of its values), with the mean marked; no plotting library loads for the profile.
    """
    clipped = [f"{n:,} position(s) {side} {style.tick(end)}" for n, side, end in
               ((p.below, "below", p.lo), (p.above, "above", p.hi)) if n]
    return {"counts": p.counts, "edges": p.edges, "lo": p.lo, "hi": p.hi, "label": p.label,
            "mean": None if math.isnan(p.mean) else p.mean,
            "title": f"{p.neuron}: {p.label} over the whole text",
            "note": f"clipped to the scale's ends: {', '.join(clipped)}" if clipped else ""}


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


def jump(**where) -> dict:
    """The ``data-jump`` attribute of a panel item: where clicking it takes the view.

    ``assets/lstmviz.js`` copies it into the JUMP store, which the controller reads
    (:func:`app.control.jump_event`).

    >>> jump(to="context", pos=12)
    {'data-jump': '{"to": "context", "pos": 12}'}
    """
    return {"data-jump": json.dumps(where)}


def snip(snippet: dict) -> html.Div:
    """A stretch of text drawn by the browser: every character coloured, over a sparkline."""
    return html.Div(className="lv-snip", **{"data-snip": json.dumps(snippet, separators=(",", ":"))})


def contexts(items: list[Context], which: str) -> html.Ol:
    """A clickable list of contexts, each drawn coloured; clicking one jumps the main view there."""
    return html.Ol(
        [
            html.Li(
                html.Button(
                    [html.Span(_fmt(c.value), className="lv-ctx-val"), snip(c.snippet)],
                    className="lv-ctx", title=f"position {c.pos:,}: jump there",
                    **jump(to="context", pos=c.pos),
                )
            )
            for c in items
        ],
        className="lv-ctx-list",
        **{"data-which": which},
    )


def stats_table(p: Profile) -> html.Table:
    """Mean, spread, range and saturation of the neuron (of the stored value: c itself, not tanh(c))."""
    kind = KINDS[Neuron.parse(p.neuron).kind]
    of = f" of {kind.label}" if kind.display else ""
    labels = {"mean": f"mean{of}", "std": f"std{of}", "min": f"min{of}", "max": f"max{of}",
              **saturation_labels(kind.key)}
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
    """The whole profile: numbers, histogram, decoder pushes, highest and lowest contexts."""
    hist = histogram(p)
    notes = [n for n in (hist["note"], p.replaced) if n]
    return [*([pushes(p)] if p.pushes_up else []),
        html.Div([stats_table(p), html.Div(id=ids.HISTOGRAM, className="lv-hist",
                                           **{"data-hist": json.dumps(hist)})],
                 className="lv-profile-top"),
        *(notice(n) for n in notes),
        html.Div([
            html.Div([html.H4(f"{which} values ({p.label})"), contexts(items, which[0].lower())],
                     className="lv-ctx-col")
            for which, items in (("Highest", p.top), ("Lowest", p.bottom))
        ], className="lv-ctx-cols"),
    ]


def notice(text: str) -> html.Div:
    """A panel-sized message saying why a panel is empty and what to do."""
    return html.Div(text, className="lv-notice")


NEAR_CHANCE = 0.02  # a score this close to the baseline (or under it) is greyed: nothing to see


def search_table(df: pd.DataFrame, key: str, places: list[tuple[int, dict]]) -> html.Div:
    """Ranked units for one hypothesis; clicking a unit opens it where it tracks the hypothesis best.

    ``key`` is the hypothesis or pattern ranked; ``places`` holds, per row, the position the unit
    opens at (:func:`app.data.best_context`) and its snippet there. One baseline for all rows, as
    the header says; each row's bar is its margin above it, and rows near it are greyed.
    """
    attrs = df.attrs
    binary = attrs.get("binary", "auroc" in df.columns)
    baseline = attrs.get("baseline", float("nan"))
    measure = attrs.get("measure", "score")
    top = max([r.score - baseline for r in df.itertuples()] + [1e-9])
    head = ["#", "unit", measure, "above baseline", "direction", *(("inside", "outside") if binary else ())]
    rows = []
    for k, (r, (pos, snippet)) in enumerate(zip(df.itertuples(), places, strict=True)):
        margin = r.score - baseline
        opens = jump(to="unit", neuron=r.neuron, start=pos, stop=pos + 1, why=key)
        weak = margin < NEAR_CHANCE
        rows.append(html.Tr([
            html.Td(str(k + 1)),
            html.Td(html.Button(r.neuron, className="lv-link", title=f"open {r.neuron} at position {pos:,}",
                                **opens)),
            html.Td(f"{r.score:.3f}"),
            html.Td(html.Div([html.Span(html.Span(className="lv-bar",
                                                  style={"width": f"{100 * max(margin, 0) / top:.0f}%"}),
                                        className="lv-bar-track"),
                              html.Span(f"{margin:+.3f}", className="lv-bar-val")], className="lv-bar-cell")),
            html.Td(data.direction_words(r.direction, binary)),
            *((html.Td(_display_mean(r.neuron, r.mean_in)), html.Td(_display_mean(r.neuron, r.mean_out)))
              if binary else ()),
        ], className="lv-weak" if weak else None))
        shown = html.Button(snip(snippet), className="lv-ctx lv-row-snip", title=f"open {r.neuron} here",
                            **opens)
        rows.append(html.Tr(html.Td(shown, colSpan=len(head)),
                            className="lv-snip-row" + (" lv-weak" if weak else "")))
    nan = float("nan")
    about = (f"{attrs.get('hypothesis', '')}: {attrs.get('description', '')}. {measure}: "
             f"{'0.5 is chance, 1 perfect' if binary else '0 is none, 1 perfect'}. "
             f"Baseline {baseline:.3f}: the larger of chance (best score of any "
             f"unit on shifted copies of the hypothesis, {attrs.get('null_best', nan):.3f}) and a "
             f"reaction to single characters (best score of a guess from the current character "
             f"alone, {attrs.get('local', nan):.3f}). Only scores well above it point to a real cell; "
             f"rows less than {NEAR_CHANCE} above it are greyed. "
             f"{'Means are of what the text shows (for c, tanh of its mean). ' if binary else ''}"
             "Click a unit to open it where it tracks the hypothesis best.")
    return html.Div([
        html.P(about, className="lv-notice"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                   className="lv-results"),
    ])


def _display_mean(neuron: str, mean: float) -> html.Span:
    """A ranking's mean in the scale the text is coloured by: for c, tanh of the mean, as c is shown."""
    kind = KINDS[Neuron.parse(neuron).kind]
    if kind.display is None:
        return html.Span(f"{mean:+.3f}")
    return html.Span(f"{DISPLAY_FUNCTIONS[kind.display](mean):+.3f}",
                     title=f"{kind.display} of the mean {kind.label}, {mean:+.4g}")


def example_tables(found: ExampleSearch, places: list[tuple[int, int, float, dict]]) -> html.Div:
    """Units on over an example span, and the other places they turn on together.

    ``places`` are the best matches as (start, stop, score, snippet), each a button that shows
    that span; a unit opens at the example span.
    """
    units = html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("unit", "sign", "weakest inside", "strongest around")])),
        html.Tbody([
            html.Tr([html.Td(html.Button(r.neuron, className="lv-link", title="open this unit at the example",
                                         **jump(to="unit", neuron=r.neuron, start=found.start,
                                                stop=found.stop))),
                     html.Td("on when high" if r.sign == "+" else "on when low"),
                     html.Td(f"{r.inside_min:+.3f}"), html.Td(f"{r.around_max:+.3f}")])
            for r in found.units.itertuples()
        ]),
    ], className="lv-results")
    spans = html.Ol([
        html.Li(html.Button([html.Span(f"{score:.2f}", className="lv-ctx-val"),
                             html.Span(f"{a:,}–{b:,} ", className="lv-ctx-val"), snip(snippet)],
                            className="lv-ctx", title="show this span", **jump(to="span", start=a, stop=b)))
        for a, b, score, snippet in places
    ], className="lv-ctx-list")
    about = (f"{len(found.units)} unit(s) of {found.name} are on over {found.start:,}–{found.stop:,} and "
             f"off just before and after it (threshold {found.threshold:.3g}); "
             f"{len(found.matches):,} other place(s) where they all turn on together, best first: "
             "as long as the example, with the units as far on as in it.")
    return html.Div([html.P(about, className="lv-notice"), units, html.H4("Where else"), spans])
