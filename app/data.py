"""What the dashboard reads from an extraction file for a view, as plain JSON-ready values.

Each function reads only what one view needs: the visible window of one unit, the window's symbols
and top-5 guesses, one neuron's precomputed summary, a ranked unit's best context and the caption
that says why a unit is shown. Profiles and snippets are in :mod:`app.profiles`. Nothing here
knows about Dash; callbacks call these functions and tests call them directly.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd

from lstmviz.errors import LstmvizError
from lstmviz.kinds import GATES, KINDS
from lstmviz.names import Neuron, act_name
from lstmviz.render import style
from lstmviz.render.export import default_output_name, render
from lstmviz.render.palette import display_values, lut_index
from lstmviz.render.snippet import colour_range as snippet_range
from lstmviz.render.snippet import display_chars
from lstmviz.render.spec import ExportSpec
from lstmviz.search import hypotheses
from lstmviz.store.distribution import robust_range
from lstmviz.store.reader import States


def json_floats(values: np.ndarray, digits: int) -> list[float | None]:
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
        "p": json_floats(preds.top_probs.reshape(-1), 4),
        "shade": lut_index(preds.top_probs.reshape(-1), 0.0, 1.0).tolist(),
        "p_next": json_floats(preds.p_next, 5),
        "bits": json_floats(preds.loss_bits, 3),
        "nats": json_floats(preds.loss_nats, 3),
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
        "values": json_floats(raw, 4),
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
    file holds no gates. Where the file holds memory horizons, ``horizon`` is the median horizon
    of the unit's cell (its c), so that integrator cells (forget gate near 1, long memory) stand out.
    Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks", fig. 3.
    """
    frames = []
    for layer in range(states.n_layer):
        cell = act_name(layer, "c")
        horizons = states.horizon(cell) if cell in states.names else None
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
                "horizon": np.nan if horizons is None else horizons["horizon_median"].astype(np.float64),
                "window": np.nan if horizons is None else horizons["horizon_window"].astype(np.float64),
            }))
    columns = ["layer", "kind", "gate", "unit", "sat_hi", "sat_lo", "neuron", "horizon", "window"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def export(states: States, spec: ExportSpec, *, source_name: str) -> tuple[str, str]:
    """The visible window as ``lstmviz export`` would write it: (file name, snippet text).

    The same function as the CLI renders it, so the download equals the file that the command
    recorded inside it recreates. The span is cut at the text's end, as the view shows it.
    """
    spec = replace(spec, length=min(spec.length, states.n_tokens - spec.start))
    return default_output_name(spec), render(states, spec, source_name=source_name)
