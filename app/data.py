"""Everything the dashboard reads from an extraction file, as plain JSON-ready values.

Each function reads only what one view needs: the visible window of one unit, the window's symbols
and top-5 guesses, one neuron's precomputed summary. Nothing here knows about Dash; callbacks call
these functions and tests call them directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from lstmviz.errors import LstmvizError
from lstmviz.kinds import GATES, KINDS
from lstmviz.model.vocab import visible
from lstmviz.names import Neuron, act_name
from lstmviz.render import style
from lstmviz.render.export import default_output_name, render
from lstmviz.render.palette import DISPLAY_FUNCTIONS, display_values, lut_index
from lstmviz.render.snippet import colour_range as snippet_range
from lstmviz.render.snippet import display_chars
from lstmviz.render.spec import ExportSpec
from lstmviz.search import hypotheses
from lstmviz.store.distribution import rebinned, robust_range, unit_histogram
from lstmviz.store.reader import States

CONTEXT_BEFORE = 40  # characters shown before a top-activating position
CONTEXT_AFTER = 12


def _floats(values: np.ndarray, digits: int) -> list[float | None]:
    """Rounded floats for JSON; NaN (no next character at the text's end) and infinity become null.

    JSON has no infinity, and an activation that is not a finite number has no value to show: the
    browser draws it as a blank cell with "–", as the palette colours it (no data).
    """
    rounded = np.round(values.astype(np.float64), digits)
    return [v if math.isfinite(v) else None for v in rounded.tolist()]


def window_payload(states: States, start: int, length: int, *, fixed: bool) -> dict:
    """The text and top-5 guesses of positions [start, start + length), compact for the browser.

    Glyphs come from :mod:`lstmviz.render.style`, as in exported snippets: ``fixed`` is true when cells
    have a fixed width (the grid with strips), where a tab shows as ``⇥``. Per position: the
    character (``""`` inside a multi-byte character, drawn on its first byte), its glyph, whether
    the glyph is a faint marker, the true next symbol's id (-1 at the text's end), its probability
    and loss; per guess (flattened n × 5): symbol id, probability, and its red shade's index.
    """
    stop = min(start + length, states.n_tokens)
    n = stop - start
    ids = states.tokens(start, min(stop + 1, states.n_tokens))  # one more for the next symbol
    vocab = states.vocab
    chars = display_chars([vocab.symbols[i] for i in ids[:n]], vocab.byte_level)
    cells = [style.cell_text(ch, fixed) for ch in chars]
    preds = states.predictions(start, stop)
    nxt = np.full(n, -1, dtype=np.int64)
    nxt[: len(ids) - 1] = ids[1:]
    return {
        "start": start,
        "stop": stop,
        "n_tokens": states.n_tokens,
        "fixed": fixed,
        "vocab": [style.strip_text(s, vocab.byte_level) for s in vocab.symbols],
        "chars": chars,
        "labels": [text for text, _ in cells],
        "faint": "".join("1" if faint else "0" for _, faint in cells),
        "next": nxt.tolist(),
        "guesses": preds.top_ids.shape[1],  # top-5, or every symbol of a smaller vocabulary
        "top": preds.top_ids.reshape(-1).tolist(),
        "p": _floats(preds.top_probs.reshape(-1), 4),
        "shade": lut_index(preds.top_probs.reshape(-1), 0.0, 1.0).tolist(),
        "p_next": _floats(preds.p_next, 5),
        "bits": _floats(preds.loss_bits, 3),
        "nats": _floats(preds.loss_nats, 3),
    }


def values_payload(states: States, neuron: str, start: int, length: int, *, palette: str,
                   raw_c: bool) -> dict:
    """One unit's values over the window, with the palette index of each cell's colour.

    h and tanh(c) are coloured on [-1, 1], gates on [0, 1]; raw c on a robust range of the unit
    over the whole file (:func:`colour_range`), so colours do not change as the window moves; the
    legend's ``note`` says where raw c is clipped.
    """
    n = Neuron.parse(neuron)
    kind = KINDS[n.kind]
    stop = min(start + length, states.n_tokens)
    raw = states.window(n.name, start, stop, n.unit)  # (n,) float32, only this window is read
    shown = display_values(n.kind, raw, raw_c)
    lo, hi = colour_range(states, n, raw_c)
    return {
        "start": start,
        "stop": stop,
        "neuron": str(n),  # for people to read; the browser works with layer, kind and unit
        "layer": n.layer,
        "kind": n.kind,
        "unit": n.unit,
        "n_hidden": states.n_hidden,  # for the browser's [ ] keys, which wrap around
        "palette": palette,
        "values": _floats(raw, 4),
        "kind_label": kind.label,
        "display": None if raw_c else kind.display,  # its value is shown beside the value (tanh(c))
        "idx": lut_index(shown, lo, hi).tolist(),
        "lo": lo,
        "hi": hi,
        "ticks": [style.tick(lo), style.tick(hi)],  # the legend's ends, written as exports write them
        "label": f"{n}: {style.quantity(n.kind, raw_c)}",
        "note": scale_note(states, n, raw_c),
    }


def scale_note(states: States, n: Neuron, raw_c: bool) -> str:
    """What the legend says about a scale that is not the kind's fixed range: raw c's, clipped.

    >>> # "±4.21 covers the 1st–99th percentiles of layer2.c.182 (−3.18 … 4.21); beyond, colours are clipped"
    """
    if not raw_c or KINDS[n.kind].display is None:
        return ""
    lo, hi = robust_range(states, n)
    m = colour_range(states, n, raw_c)[1]
    return (f"±{style.tick(m)} covers the 1st–99th percentiles of {n} over the whole text "
            f"({style.tick(lo)} … {style.tick(hi)}); beyond, colours are clipped")


@lru_cache(maxsize=256)
def colour_range(states: States, neuron: Neuron, raw_c: bool) -> tuple[float, float]:
    """The colour range of a neuron, exactly as exported snippets use it (cached per process).

    Fixed per kind; raw c spans ± the larger of the unit's 1st and 99th percentiles over the
    whole file, read from the file's summaries, so colours do not change as the window moves.
    """
    return snippet_range(states, neuron, raw_c)


@lru_cache(maxsize=64)
def summary(states: States, name: str) -> dict[str, np.ndarray]:
    """A summary read once per process and activation: opening a profile reads no activations."""
    return states.summary(name)


@lru_cache(maxsize=2)
def symbol_string(states: States) -> str:
    """The whole text, one character per position, kept for the two latest files.

    A string index is a token position (see :func:`lstmviz.search.hypotheses.symbol_string`). Byte
    vocabularies give the UTF-8 bytes as ``chr(b)``; search them with ``vocab.symbols_of``.
    """
    return hypotheses.symbol_string(states)


def find(states: States, query: str, origin: int, *, backwards: bool = False) -> tuple[int | None, bool]:
    """Next (or previous) occurrence of ``query`` after (before) position ``origin``.

    Wraps around the text's end; returns (position or None, whether it wrapped).
    """
    text = symbol_string(states)
    q = states.vocab.symbols_of(query)
    if backwards:
        hit = text.rfind(q, 0, max(0, origin) + len(q) - 1) if origin > 0 else -1
        if hit < 0:
            hit = text.rfind(q)
            return (hit, True) if hit >= 0 else (None, False)
        return hit, False
    hit = text.find(q, origin + 1)
    if hit < 0:
        hit = text.find(q)
        return (hit, True) if hit >= 0 else (None, False)
    return hit, False


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
    return {"w": a, "t": [text for text, _ in cells], "s": _floats(place, 3),
            "f": "".join("1" if faint else "0" for _, faint in cells), "m": [start - a, min(stop, b) - a]}


def best_context(states: States, neuron: str, direction: str, inside: np.ndarray | None) -> int:
    """Where a ranked unit is worth opening: its strongest extreme context where the hypothesis holds.

    Its highest values for a unit that is higher inside (or rises with a numeric hypothesis), its
    lowest for one that is lower; the strongest of those where a binary hypothesis holds
    (``inside``), else the strongest of all.
    """
    n = Neuron.parse(neuron)
    s = summary(states, n.name)
    positions = s["top_pos" if direction == "+" else "bottom_pos"][n.unit]
    positions = [int(p) for p in positions if p >= 0]
    if not positions:
        return 0
    if inside is not None:
        held = [p for p in positions if inside[p]]
        if held:
            return held[0]
    return positions[0]


@lru_cache(maxsize=4)
def inside(states: States, hypothesis: str) -> np.ndarray | None:
    """Where a binary hypothesis (or pattern) holds, as booleans; None for a numeric one."""
    hyp = hypotheses.resolve(hypothesis, byte_level=states.vocab.byte_level)
    return hyp.values(symbol_string(states)) > 0 if hyp.binary else None


def caption(states: States, neuron: str, why: str, *, default: bool) -> str:
    """The view's one-line caption: which cell, which hypothesis, its score and the baseline.

    ``why`` is the hypothesis or pattern the neuron was opened for; without one the caption says
    what the neuron is, and on the landing view (``default``) why it is the one shown.
    """
    n = Neuron.parse(neuron)
    row = KINDS[n.kind]
    what = f"{f'{row.gloss} state {row.label}' if row.gloss else row.label}, layer {n.layer}, unit {n.unit}"
    if why:
        found = unit_score(states, why, n)
        if found is None:
            return f"{n} ({what}), opened for {why!r}"
        about, score, direction = found
        return (f"{n} ({what}) tracks {about['hypothesis']} ({about['description']}): {about['measure']} "
                f"{score:.3f}, {direction_words(direction, about['binary'])}; baseline "
                f"{about['baseline']:.3f}, so {score - about['baseline']:+.3f} above it")
    if default:
        return (f"{n} ({what}): the first unit of the top layer, shown by default; rank the units against "
                "a hypothesis to find cells that track something")
    return f"{n} ({what})"


def unit_score(states: States, hypothesis: str, n: Neuron) -> tuple[dict, float, str] | None:
    """A unit's cached score for a hypothesis: (the ranking's summary, score, ``+``/``-``), or None.

    Reads only the cached ranking (never the activations); None when the hypothesis has not been
    ranked on this file.
    """
    from lstmviz.search.rank import cached_scores  # imports torch: only when a caption needs a score

    try:
        scores = cached_scores(states, hypothesis)
    except LstmvizError:
        return None
    stats = scores.stats.get(n.name) if scores is not None else None
    if stats is None:
        return None
    signed = stats["auroc"][n.unit] - 0.5 if scores.binary else stats["pearson"][n.unit]
    return scores.summary(), float(stats["score"][n.unit]), "+" if signed >= 0 else "-"


def direction_words(direction: str, binary: bool) -> str:
    """A ranking's direction in words: ``+`` and ``-`` read as "not applicable" to many.

    >>> direction_words("-", True), direction_words("+", False)
    ('lower inside', 'rises with it')
    """
    if binary:
        return "higher inside" if direction == "+" else "lower inside"
    return "rises with it" if direction == "+" else "falls with it"


def saturation(states: States) -> pd.DataFrame:
    """Per gate unit, the fraction of time it is right- (>= 0.9) and left-saturated (< 0.1).

    One row per (layer, gate, unit) of the sigmoid gates i, f and o (the kinds that are switches),
    from the summaries; the cell input g is a tanh, not a switch, and is left out. Empty when the
    file holds no gates.
    Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks", fig. 3.
    """
    frames = []
    for layer in range(states.n_layer):
        for gate in (g for g in GATES if KINDS[g].switch):
            name = act_name(layer, gate)
            if name not in states.names:
                continue
            s = summary(states, name)
            units = range(states.n_hidden)
            frames.append(pd.DataFrame({
                "layer": layer, "kind": gate, "gate": KINDS[gate].symbol, "unit": units,
                "sat_hi": s["sat_hi"], "sat_lo": s["sat_lo"],
                "neuron": [str(Neuron(layer, gate, u)) for u in units],
            }))
    columns = ["layer", "kind", "gate", "unit", "sat_hi", "sat_lo", "neuron"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def export(states: States, spec: ExportSpec, *, source_name: str) -> tuple[str, str]:
    """The visible window as ``lstmviz export`` would write it: (file name, snippet text).

    The same function as the CLI renders it, so the download equals the file that the command
    recorded inside it recreates. The span is cut at the text's end, as the view shows it.
    """
    spec = replace(spec, length=min(spec.length, states.n_tokens - spec.start))
    return default_output_name(spec), render(states, spec, source_name=source_name)
