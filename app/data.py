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

from lstmviz.kinds import GATES, KINDS
from lstmviz.model.vocab import visible
from lstmviz.names import Neuron, act_name
from lstmviz.render import style
from lstmviz.render.export import default_output_name, render
from lstmviz.render.palette import display_values, lut_index
from lstmviz.render.snippet import colour_range as snippet_range
from lstmviz.render.snippet import display_chars
from lstmviz.render.spec import ExportSpec
from lstmviz.search import hypotheses
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

    h and tanh(c) are coloured on [-1, 1], gates on [0, 1]; raw c on ±(the unit's largest |c| in
    the whole file), so colours do not change as the window moves.
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
    }


@lru_cache(maxsize=256)
def colour_range(states: States, neuron: Neuron, raw_c: bool) -> tuple[float, float]:
    """The colour range of a neuron, exactly as exported snippets use it (cached per process).

    Fixed per kind; raw c spans ±(the unit's largest |c| in the whole file), read from the
    file's summaries, so colours do not change as the window moves.
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
    """A place in the text where a neuron is extreme: what comes before, the character, what follows."""

    pos: int
    value: float
    before: str
    char: str
    after: str


@dataclass
class Profile:
    """What the file knows about one neuron over the whole text, from its precomputed summary."""

    neuron: str
    stats: dict[str, float]
    counts: list[int]
    edges: list[float]
    top: list[Context] = field(default_factory=list)
    bottom: list[Context] = field(default_factory=list)
    pushes_up: list[tuple[str, float]] = field(default_factory=list)  # (symbol, decoder weight)
    pushes_down: list[tuple[str, float]] = field(default_factory=list)


def profile(states: States, neuron: str) -> Profile:
    """Histogram, mean/std/range, saturation and the most extreme contexts of one neuron.

    Raises:
        StoreError: the file holds no summaries (an older extraction); the message says to re-extract.
    """
    n = Neuron.parse(neuron)
    s = summary(states, n.name)
    u = n.unit
    stats = {k: float(s[k][u]) for k in ("mean", "std", "min", "max", "sat_hi", "sat_lo") if k in s}
    edges = np.linspace(float(s["hist_lo"][u]), float(s["hist_hi"][u]), s["hist"].shape[1] + 1)
    return Profile(
        neuron=neuron,
        stats=stats,
        counts=s["hist"][u].astype(int).tolist(),
        edges=edges.tolist(),
        top=_contexts(states, s["top_pos"][u], s["top_val"][u]),
        bottom=_contexts(states, s["bottom_pos"][u], s["bottom_val"][u]),
        **pushes(states, n),
    )


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


def _contexts(states: States, positions: np.ndarray, values: np.ndarray) -> list[Context]:
    """Contexts of the listed positions; short texts pad the lists with position -1, left out."""
    return [context(states, int(p), float(v)) for p, v in zip(positions, values, strict=True) if p >= 0]


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
