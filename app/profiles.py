"""What a panel shows of one neuron: its profile over the whole text, and snippets of it.

A profile comes from the summaries the extraction stored (histogram, mean, saturation, extreme
positions), so opening one reads no activations beyond its contexts' short stretches. A snippet is
a marked span with the text around it, every character placed on the neuron's colour scale, for
the browser to draw coloured over a sparkline (``assets/lstmviz.js``); the profile's contexts, the
ranked units and the places found by example are all drawn so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.data import colour_range, json_floats, summary
from lstmviz.kinds import KINDS
from lstmviz.model.vocab import visible
from lstmviz.names import Neuron, act_name
from lstmviz.render import style
from lstmviz.render.palette import DISPLAY_FUNCTIONS, display_values
from lstmviz.render.snippet import display_chars
from lstmviz.store.distribution import rebinned, unit_histogram
from lstmviz.store.reader import States

CONTEXT_BEFORE = 40  # characters shown before a top-activating position
CONTEXT_AFTER = 12


@dataclass
class Context:
    """A place in the text where a neuron is extreme: what comes before, the character, what follows.

    ``snippet`` is the same stretch of text drawn for a panel (:func:`snippet`): every character
    coloured by the neuron, with a sparkline of it.
    """

    pos: int
    value: float
    before: str
    char: str
    after: str
    snippet: dict = field(default_factory=dict)


@dataclass
class Profile:
    """What the file knows about one neuron over the whole text, from its precomputed summary.

    The histogram is in the scale the text is coloured by (``label``: ``tanh(c)``, ``c``, ``h``, a
    gate) over ``[lo, hi]``; ``below`` and ``above`` count positions outside it (raw c's clipped
    ends); ``mean`` is the mean of what is shown.
    """

    neuron: str
    stats: dict[str, float]
    counts: list[int]
    edges: list[float]
    label: str = ""
    lo: float = -1.0
    hi: float = 1.0
    mean: float = float("nan")
    below: int = 0
    above: int = 0
    top: list[Context] = field(default_factory=list)
    bottom: list[Context] = field(default_factory=list)
    pushes_up: list[tuple[str, float]] = field(default_factory=list)  # (symbol, decoder weight)
    pushes_down: list[tuple[str, float]] = field(default_factory=list)
    replaced: str = ""  # what a U+FFFD in the text stands for, when the contexts show one
    horizon: Horizon | None = None  # a c or h unit's memory horizon, when the file holds horizons
    horizon_missing: str = ""  # for a c or h unit of a file without them: how to add them


@dataclass
class Horizon:
    """How far back a cell remembers: its median and 90th percentile horizon, among its layer's cells.

    A horizon is the characters back that hold 90 % of the absolute contributions to c at a
    position (:mod:`lstmviz.intervene.horizon`); ``window + 1`` stands for "further back than the
    window it was measured within". ``counts`` histogram the median horizons of every c unit of the
    layer over ``edges`` (powers of two, then one bin for beyond the window); ``bin`` is this unit's.
    """

    cell: str
    median: int
    p90: int
    beyond: float
    window: int
    counts: list[int]
    edges: list[int]
    bin: int


def horizon(states: States, n: Neuron) -> Horizon | None:
    """The memory horizon of a c unit, or of an h unit's c; None for a gate or a file without horizons."""
    cell = Neuron(n.layer, "c", n.unit)
    if n.kind not in ("c", "h") or cell.name not in states.names:
        return None
    h = states.horizon(cell.name)
    if h is None:
        return None
    window = int(h["horizon_window"][n.unit])
    medians = h["horizon_median"].astype(np.int64)
    edges = [1]
    while edges[-1] * 2 <= window:
        edges.append(edges[-1] * 2)
    edges += [window + 1, window + 2]  # the last bin: beyond the window
    counts = np.histogram(medians, bins=edges)[0]
    return Horizon(str(cell), int(medians[n.unit]), int(h["horizon_p90"][n.unit]),
                   float(h["horizon_beyond"][n.unit]), window, counts.astype(int).tolist(), edges,
                   int(np.searchsorted(edges, medians[n.unit], side="right") - 1))


def horizon_missing(states: States, n: Neuron) -> str:
    """For a c or h unit of a file without memory horizons, the line that says how to add them."""
    cell = act_name(n.layer, "c")
    if n.kind not in ("c", "h") or cell not in states.names or states.horizon(cell) is not None:
        return ""
    name = states.path.name
    return f"{name} holds no memory horizons: `lstmviz profile {name} --horizon` adds them (how far back " \
           "this cell remembers)"


def profile(states: States, neuron: str, raw_c: bool = False) -> Profile:
    """Histogram, mean/std/range, saturation and the most extreme contexts of one neuron.

    The histogram and the contexts' colours use the scale the text is coloured by: ``tanh(c)``
    unless ``raw_c``.

    Raises:
        StoreError: the file holds no summaries (an older extraction); the message says to re-extract.
    """
    n = Neuron.parse(neuron)
    s = summary(states, n.name)
    u = n.unit
    stats = {k: float(s[k][u]) for k in ("mean", "std", "min", "max", "sat_hi", "sat_lo") if k in s}
    lo, hi = colour_range(states, n, raw_c)
    display = KINDS[n.kind].display
    if display is None:  # h and the gates: the summary's histogram is over the kind's range already
        counts = s["hist"][u].astype(np.int64)
        edges = np.linspace(float(s["hist_lo"][u]), float(s["hist_hi"][u]), len(counts) + 1)
        below = above = 0
        mean = stats.get("mean", float("nan"))
    else:  # c: its finest histogram, through tanh or onto the robust raw scale
        fine, fine_edges = unit_histogram(states, n)
        shown = None if raw_c else DISPLAY_FUNCTIONS[display]
        counts, below, above = rebinned(fine, fine_edges, lo, hi, s["hist"].shape[1], shown)
        edges = np.linspace(lo, hi, len(counts) + 1)
        centres = (fine_edges[:-1] + fine_edges[1:]) / 2
        mean = float((fine * (centres if shown is None else shown(centres))).sum() / max(fine.sum(), 1))
    top = _contexts(states, n, s["top_pos"][u], s["top_val"][u], raw_c)
    bottom = _contexts(states, n, s["bottom_pos"][u], s["bottom_val"][u], raw_c)
    shows_ufffd = any("\ufffd" in c.before + c.char + c.after for c in top + bottom)
    return Profile(
        neuron=neuron,
        stats=stats,
        counts=counts.astype(int).tolist(),
        edges=edges.tolist(),
        label=style.quantity(n.kind, raw_c),
        lo=lo,
        hi=hi,
        mean=mean,
        below=below,
        above=above,
        top=top,
        bottom=bottom,
        replaced=replaced_note(states) if shows_ufffd else "",
        horizon=horizon(states, n),
        horizon_missing=horizon_missing(states, n),
        **pushes(states, n),
    )


def replaced_note(states: States) -> str:
    """What ``�`` (U+FFFD) in the shown text stands for, from what the extraction recorded."""
    attrs = states.attrs
    policy = attrs.get("unknown")
    count = attrs.get("unknown_count")
    if isinstance(policy, str) and policy.startswith("replace"):
        many = f" ({int(count):,} in this text)" if isinstance(count, (int, np.integer)) else ""
        return (f"� stands for characters the model's vocabulary lacks{many}: the extraction replaced "
                "them, so the model read � there")
    if states.vocab.byte_level:
        return "� stands for bytes that are not a whole UTF-8 character within the shown text"
    return "� stands for a symbol of the model that is not one character (such as <unk>)"


def pushes(states: States, n: Neuron, count: int = 8) -> dict[str, list[tuple[str, float]]]:
    """For a top-layer h unit: the next symbols its positive value makes likelier, and least likely.

    Only the top layer's h feeds the decoder, so other neurons have no direct pushes; files from
    before format 1.1 hold no decoder and give none either.
    """
    if n.kind != "h" or n.layer != states.n_layer - 1:
        return {}
    column = states.decoder_column(n.unit)  # (V,)
    if column is None:
        return {}
    order = np.argsort(column)
    named = [(visible(states.vocab.symbols[i]), float(column[i])) for i in order]
    return {"pushes_up": named[::-1][:count], "pushes_down": named[:count]}


def _contexts(states: States, n: Neuron, positions: np.ndarray, values: np.ndarray,
              raw_c: bool) -> list[Context]:
    """Contexts of the listed positions; short texts pad the lists with position -1, left out."""
    out = []
    for p, v in zip(positions, values, strict=True):
        if p >= 0:
            found = context(states, int(p), float(v))
            found.snippet = snippet(states, n, int(p), int(p) + 1, raw_c)
            out.append(found)
    return out


def context(states: States, pos: int, value: float = float("nan")) -> Context:
    """The text around one position, whitespace made visible, the character itself kept apart."""
    a = max(0, pos - CONTEXT_BEFORE)
    b = min(states.n_tokens, pos + 1 + CONTEXT_AFTER)
    ids = states.tokens(a, b)
    vocab = states.vocab
    k = pos - a
    end = k + 1
    if vocab.byte_level:  # keep a multi-byte character whole
        while end < len(ids) and 0x80 <= ord(vocab.symbols[int(ids[end])]) < 0xC0:
            end += 1

    def show(part: np.ndarray) -> str:
        return "".join(style.cell_text(ch, True)[0] for ch in vocab.decode(part))

    return Context(pos, value, show(ids[:k]), show(ids[k:end]), show(ids[end:]))


def snippet(states: States, n: Neuron, start: int, stop: int, raw_c: bool, *,
            before: int = CONTEXT_BEFORE, after: int = CONTEXT_AFTER) -> dict:
    """A marked span with the text around it, for a panel to draw: every character coloured.

    Compact, for the browser (``assets/lstmviz.js`` draws it as coloured characters over a
    sparkline of the neuron): ``w`` the first position, ``t`` each glyph, ``f`` which are faint
    markers, ``s`` each value's place on the colour scale (0 to 1, clipped; None without a value),
    ``m`` the marked span as offsets. The browser picks the palette.
    """
    a = max(0, start - before)
    b = min(states.n_tokens, max(stop, start + 1) + after)
    vocab = states.vocab
    chars = display_chars([vocab.symbols[i] for i in states.tokens(a, b)], vocab.byte_level)
    cells = [style.cell_text(ch, True) for ch in chars]
    lo, hi = colour_range(states, n, raw_c)
    shown = display_values(n.kind, states.window(n.name, a, b, n.unit), raw_c)  # (b - a,)
    place = np.clip((shown.astype(np.float64) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    return {"w": a, "t": [text for text, _ in cells], "s": json_floats(place, 3),
            "f": "".join("1" if faint else "0" for _, faint in cells), "m": [start - a, min(stop, b) - a]}
