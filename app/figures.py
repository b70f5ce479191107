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
from app.profiles import Context, Horizon, Profile
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


def saturation(df: pd.DataFrame, n_layer: int, *, by_horizon: bool = False) -> go.Figure:
    """Karpathy, Johnson & Fei-Fei's gate saturation plot: a point per gate unit and layer.

    x: fraction of the text where the gate is right-saturated (>= 0.9); y: left-saturated (< 0.1).
    Units near the axes' far ends are gates that act as switches; clicking a point opens the unit.
    Each gate has its colour; with ``by_horizon``, where the file holds memory horizons, each point
    is coloured instead by the median horizon of its unit's cell (log scale, one colour bar) and the
    gates are told apart by shape, so the integrator cells (a forget gate right-saturated, a long
    memory) stand out, as the paper describes them.
    """
    switches = list(df["kind"].unique()) or [k for k, row in KINDS.items() if row.switch]
    axes = saturation_labels(switches[0])  # the sigmoid gates share their thresholds
    fig = make_subplots(rows=1, cols=max(n_layer, 1), subplot_titles=[f"layer {k}" for k in range(n_layer)],
                        shared_yaxes=True, horizontal_spacing=0.04)
    by_horizon = by_horizon and "horizon" in df and bool(df["horizon"].notna().any())
    for k, ((layer, kind), rows) in enumerate(df.groupby(["layer", "kind"], sort=False)):
        marker = {"color": KINDS[kind].colour, "size": 6, "opacity": 0.7}
        hover = "%{customdata}<br>right-saturated %{x:.1%}<br>left-saturated %{y:.1%}"
        text = None
        if by_horizon:
            marker = horizon_marker(rows, kind, first=k == 0)
            text = [horizon_words(h, w) for h, w in zip(rows["horizon"], rows["window"], strict=True)]
            hover += "<br>its cell's median horizon: %{text}"
        fig.add_trace(
            go.Scatter(
                x=rows["sat_hi"], y=rows["sat_lo"], mode="markers", marker=marker, text=text,
                name=KINDS[kind].label, legendgroup=kind, showlegend=bool(layer == 0),
                customdata=rows["neuron"], hovertemplate=hover + "<extra></extra>",
            ),
            row=1, col=int(layer) + 1,
        )
    fig.update_xaxes(range=[-0.02, 1.02], title_text=f"fraction {axes['sat_hi']}")
    fig.update_yaxes(range=[-0.02, 1.02])
    fig.update_yaxes(title_text=f"fraction {axes['sat_lo']}", col=1)
    fig.update_layout(height=340, margin=_MARGIN, template="plotly_white", clickmode="event",
                      legend={"orientation": "h", "y": -0.25})
    return fig


HORIZON_SHAPES = {"gates.i": "circle", "gates.f": "diamond", "gates.o": "square"}


def horizon_marker(rows: pd.DataFrame, kind: str, *, first: bool) -> dict:
    """Points coloured by log10 of their cell's median horizon, on one scale for every trace.

    The colour bar is drawn once (``first``), ticked at powers of ten, up to beyond the window.
    """
    window = float(rows["window"].max())
    ticks = [10**k for k in range(int(math.log10(window)) + 1)] + [window + 1]
    marker = {"color": [math.log10(max(h, 1.0)) for h in rows["horizon"]], "cmin": 0.0,
              "cmax": math.log10(window + 1), "colorscale": "Viridis", "size": 7, "opacity": 0.8,
              "symbol": HORIZON_SHAPES.get(kind, "circle"), "line": {"width": 0}, "showscale": first}
    if first:
        title = {"text": "median horizon<br>of its cell<br>(characters)", "side": "top"}
        marker["colorbar"] = {"title": title,
                              "tickvals": [math.log10(t) for t in ticks],
                              "ticktext": [f"{t:,.0f}" for t in ticks[:-1]] + [f"> {window:,.0f}"],
                              "len": 0.9, "thickness": 12}
    return marker


def horizon_words(median: float, window: float) -> str:
    """A median horizon for a hover label.

    >>> horizon_words(1, 4096), horizon_words(74, 4096), horizon_words(4097, 4096)
    ('1 character', '74 characters', 'beyond 4,096 characters')
    """
    if median > window:
        return f"beyond {window:,.0f} characters"
    return f"{median:,.0f} character{'' if median == 1 else 's'}"


def _fmt(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:+.3f}"


def jump(**where) -> dict:
    """Where clicking a panel item takes the view: its ``data-jump``.

    ``assets/lstmviz.js`` copies it into the JUMP store, which the controller reads
    (:func:`app.control.jump_event`).

    >>> jump(to="context", pos=12)
    {'to': 'context', 'pos': 12}
    """
    return where


def _data(kind: str, value) -> dict:
    return {f"data-{kind}": json.dumps(value, separators=(",", ":"))}


def item_list(items: list[dict], **attrs) -> html.Div:
    """A list of clickable items that the browser draws from compact data (``data-list``).

    Each item: ``vals`` (short texts before the snippet), ``title``, ``jump`` (see :func:`jump`)
    and ``snip`` (:func:`app.profiles.snippet`). Drawn in the browser, a list of forty snippets is one
    component for Dash, not hundreds: a step through units stays quick while the list is shown.
    """
    return html.Div(className="lv-list", **_data("list", items), **attrs)


def cell_table(head: list[str], rows: list[dict]) -> html.Div:
    """A table that the browser draws from compact data (``data-table``), for the same reason.

    Each row: ``cells``, each a text or ``{"text", "title", "jump", "bar"}`` (a link when it
    jumps, a bar of that fraction when it has one); optional ``weak`` (greyed) and ``snip`` with
    ``jump`` and ``title`` (a second row showing the unit there).
    """
    return html.Div(className="lv-table", **_data("table", {"head": head, "rows": rows}))


def contexts(items: list[Context], which: str) -> html.Div:
    """The contexts, each drawn coloured; clicking one jumps the main view there."""
    return item_list([{"vals": [_fmt(c.value)], "title": f"position {c.pos:,}: jump there",
                       "jump": jump(to="context", pos=c.pos), "snip": c.snippet} for c in items],
                     **{"data-which": which})


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


def horizon_panel(h: Horizon) -> html.Div:
    """How far back the cell remembers: its horizons in words, over its layer's histogram of them.

    Bars in plain HTML (no plotting library loads for the profile): the layer's c units by median
    horizon on doubling bins, the bin of this unit dark.
    """
    def shown(k: int) -> str:
        return f"beyond {h.window:,}" if k > h.window else f"{k:,}"

    most = max(h.counts) or 1
    labels = [shown(a) if b - a == 1 else f"{a:,}–{b - 1:,}"
              for a, b in zip(h.edges, h.edges[1:], strict=False)]
    bars = [html.Div(className="lv-hbar" + (" lv-hbar-this" if k == h.bin else ""),
                     style={"height": f"{100 * count / most:.1f}%"},
                     title=f"median horizon {labels[k]} characters: {count:,} unit(s)")
            for k, count in enumerate(h.counts)]
    return html.Div([
        html.H4(f"Memory horizon of {h.cell}: median {shown(h.median)} characters, 90th percentile "
                f"{shown(h.p90)}; its 90 % lay beyond {h.window:,} at {h.beyond:.1%} of positions"),
        html.Div(bars, className="lv-hbars", role="img",
                 **{"aria-label": f"median horizons of the c units of layer {Neuron.parse(h.cell).layer}"}),
        html.Div([html.Span("1"), html.Span(f"median horizon of each cell of its layer (characters back "
                                            f"holding 90 % of c's contributions); {h.cell} dark"),
                  html.Span(f"> {h.window:,}")], className="lv-hbar-axis"),
    ], className="lv-horizon")


def profile_panel(p: Profile) -> list:
    """The whole profile: numbers, histogram, memory horizon, decoder pushes, extreme contexts."""
    hist = histogram(p)
    notes = [n for n in (hist["note"], p.replaced, p.horizon_missing) if n]
    return [*([pushes(p)] if p.pushes_up else []),
        html.Div([stats_table(p), html.Div(id=ids.HISTOGRAM, className="lv-hist",
                                           **{"data-hist": json.dumps(hist)})],
                 className="lv-profile-top"),
        *(notice(n) for n in notes),
        *([horizon_panel(p.horizon)] if p.horizon is not None else []),
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
        means = (_display_mean(r.neuron, r.mean_in), _display_mean(r.neuron, r.mean_out)) if binary else ()
        unit = {"text": r.neuron, "title": f"open {r.neuron} at position {pos:,}", "jump": opens}
        bar = {"text": f"{margin:+.3f}", "bar": round(max(margin, 0) / top, 3)}
        direction = data.direction_words(r.direction, binary)
        rows.append({"cells": [str(k + 1), unit, f"{r.score:.3f}", bar, direction, *means],
                     "weak": bool(margin < NEAR_CHANCE), "snip": snippet, "jump": opens,
                     "title": f"open {r.neuron} here"})
    nan = float("nan")
    about = (f"{attrs.get('hypothesis', '')}: {attrs.get('description', '')}. {measure}: "
             f"{'0.5 is chance, 1 perfect' if binary else '0 is none, 1 perfect'}. "
             f"Baseline {baseline:.3f}: the larger of chance (best score of any "
             f"unit on shifted copies of the hypothesis, {attrs.get('null_best', nan):.3f}) and a "
             f"reaction to single characters (best score of a guess from the current character "
             f"alone, {attrs.get('local', nan):.3f}). Only scores well above it point to a real cell; "
             f"rows less than {NEAR_CHANCE} above it are greyed. "
             f"{'Means are of what the text shows (for c, tanh of its mean). ' if binary else ''}"
             "Click a unit to open it where it tracks the hypothesis best." + language_note(attrs))
    return html.Div([html.P(about, className="lv-notice"), cell_table(head, rows)])


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


def _display_mean(neuron: str, mean: float) -> str | dict:
    """A ranking's mean in the scale the text is coloured by: for c, tanh of the mean, as c is shown."""
    kind = KINDS[Neuron.parse(neuron).kind]
    if kind.display is None:
        return f"{mean:+.3f}"
    return {"text": f"{DISPLAY_FUNCTIONS[kind.display](mean):+.3f}",
            "title": f"{kind.display} of the mean {kind.label}, {mean:+.4g}"}


def example_tables(found: ExampleSearch, places: list[tuple[int, int, float, dict]]) -> html.Div:
    """Units on over an example span, and the other places they turn on together.

    ``places`` are the best matches as (start, stop, score, snippet), each a button that shows
    that span; a unit opens at the example span.
    """
    units = cell_table(["unit", "on", "weakest inside", "strongest around"], [
        {"cells": [{"text": r.neuron, "title": "open this unit at the example",
                    "jump": jump(to="unit", neuron=r.neuron, start=found.start, stop=found.stop)},
                   "when high" if r.sign == "+" else "when low",
                   f"{r.inside_min:+.3f}", f"{r.around_max:+.3f}"]}
        for r in found.units.itertuples()])
    spans = item_list([{"vals": [f"{score:.2f}", f"{a:,}–{b:,} "], "title": "show this span",
                        "jump": jump(to="span", start=a, stop=b), "snip": snippet}
                       for a, b, score, snippet in places])
    about = (f"{len(found.units)} unit(s) of {found.name} are on over {found.start:,}–{found.stop:,} and "
             f"off just before and after it (threshold {found.threshold:.3g}); "
             f"{len(found.matches):,} other place(s) where they all turn on together, best first: "
             "as long as the example, with the units as far on as in it.")
    return html.Div([html.P(about, className="lv-notice"), units, html.H4("Where else"), spans])
