"""What a figure shows, read from an extraction file: characters, colours, predictions, lines.

:func:`gather` reads only the span asked for (one column per neuron) and turns it into plain
lists that the HTML and SVG renderers lay out, so both draw exactly the same cells. Colours are
entries of the lookup tables of :mod:`lstmviz.render.palette` over the fixed range of each kind of
activation, the same scale the dashboard uses; with strips, the true next character and whether a
guess named it are gathered too, for the same marks as the dashboard's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render.palette import display_range, display_values, lut_index
from lstmviz.render.spec import ExportSpec
from lstmviz.render.style import strip_text
from lstmviz.store.distribution import robust_range
from lstmviz.store.reader import States

_LEADS = ((7, 0b0), (5, 0b110), (4, 0b1110), (3, 0b11110))  # UTF-8 lead bytes of 1..4-byte characters


@dataclass
class Band:
    """One neuron's colouring of the span."""

    neuron: Neuron
    index: np.ndarray  # (n,) int64, the entry of each coloured value (tanh(c), c, h or a gate) in the
    # palette's table; -1 for no value
    lo: float  # the colour range
    hi: float
    shows: str | None = None  # what the colour shows, for the legend, when not the neuron's own value


@dataclass
class Guess:
    """One of the top guesses for the character after a position."""

    glyph: str  # one glyph (style.strip_text)
    shade: int  # entry of the strips' red table, by probability
    hit: bool  # this guess is the character that came next
    changed: bool = False  # an edited run's first guess that differs from the unedited run's


@dataclass
class Snippet:
    """Everything a renderer needs; positions are offsets 0..n-1 from ``start``."""

    start: int
    chars: list[str]  # (n,) the character shown at each position ("" inside a multi-byte character)
    bands: list[Band]
    strips: list[list[Guess]] | None  # (n, 5)
    misses: list[str | None] | None  # (n,) the true next glyph where no guess named it, else None
    lines: list[tuple[int, int]]  # display lines as [a, b) offsets
    palette: str
    raw_c: bool
    # A before/after figure of an intervention (lstmviz.render.intervention) adds, under the strips:
    edited: list[list[Guess]] | None = None  # (n, 5) the edited run's guesses
    delta: np.ndarray | None = None  # (n,) the change of the true next character's loss, bits (NaN: none)
    delta_max: float = 1.0  # the Δ row's colour range is ± this, in bits
    span: tuple[int, int] | None = None  # offsets [a, b) of the edited span, underlined in the bands

    @property
    def stop(self) -> int:
        """One past the last position shown."""
        return self.start + len(self.chars)


def check_request(states: States, spec: ExportSpec) -> None:
    """Refuse a span past the text and neurons the file lacks (the spec refuses empty ones itself)."""
    states.span(spec.start, spec.start + spec.length)
    for neuron in spec.neurons:
        states.neuron(neuron)


def colour_range(states: States, neuron: Neuron, raw_c: bool = False) -> tuple[float, float]:
    """The colour range of a neuron: its kind's fixed range, or for raw c a robust range of the unit.

    Raw c spans ± the larger magnitude of the unit's 1st and 99th percentiles over the whole file
    (:func:`lstmviz.store.distribution.robust_range`), symmetric so that 0 keeps the palette's
    middle; the rare values beyond are clipped to the ends. A scale over the largest magnitude
    would leave almost every character pale. The dashboard colours a neuron over the same range,
    so a snippet matches the screen.
    """
    kind = neuron.kind
    if raw_c and KINDS[kind].display is not None:
        lo, hi = robust_range(states, neuron)
        return display_range(kind, raw_c=True, c_abs_max=max(abs(lo), abs(hi)) if np.isfinite(lo) else 1.0)
    return display_range(kind)


def display_chars(symbols: Sequence[str], byte_level: bool) -> list[str]:
    r"""One character per position; in byte mode a multi-byte character sits on its first byte.

    The following bytes of that character show empty cells (they still carry their colour); a
    sequence cut off by the span's end, or invalid UTF-8, shows U+FFFD.

    >>> display_chars(["h", "\xc3", "\xa9", "!"], byte_level=True)
    ['h', 'é', '', '!']
    """
    if not byte_level:
        return list(symbols)
    raw = bytes(ord(s) for s in symbols)
    chars: list[str] = []
    i = 0
    while i < len(raw):
        b = raw[i]
        size = next((k for k, (shift, lead) in enumerate(_LEADS, 1) if b >> shift == lead), 0)
        if size == 0:  # a continuation byte with no lead byte in the span, or not UTF-8 at all
            chars.append("" if b >> 6 == 0b10 else "\ufffd")
            i += 1
            continue
        piece = raw[i : i + size]
        try:
            chars.append(piece.decode("utf-8"))
        except UnicodeDecodeError:
            chars.append("\ufffd")
            piece = piece[:1]
        chars.extend([""] * (len(piece) - 1))
        i += len(piece)
    return chars


def wrap(chars: Sequence[str], width: int) -> list[tuple[int, int]]:
    r"""Split positions into display lines: after each newline, and at ``width`` columns.

    A long line breaks after its last space (which stays at the end of the line) or, with no
    space, hard at ``width``; a newline or a space right after a full line stays on that line.
    ``width`` 0 breaks only at newlines.

    >>> wrap(list("ab cd\nef"), 0)
    [(0, 6), (6, 8)]
    >>> wrap(list("ab cd ef"), 4)
    [(0, 3), (3, 6), (6, 8)]
    """
    n = len(chars)
    lines = []
    a = 0
    while a < n:
        limit = n if width == 0 else min(n, a + width)
        b = a
        while b < limit and chars[b] != "\n":
            b += 1
        if b < limit:
            end = b + 1
        elif limit == n:
            end = n
        elif chars[limit] in ("\n", " "):
            end = limit + 1
        else:
            space = next((j for j in range(limit - 1, a, -1) if chars[j] == " "), None)
            end = limit if space is None else space + 1
        lines.append((a, end))
        a = end
    return lines


def gather(states: States, spec: ExportSpec) -> Snippet:
    """Read and colour the positions and neurons of ``spec``, with its strips, palette and width."""
    check_request(states, spec)
    start, stop = spec.start, spec.stop
    chars = display_chars(states.symbols(start, stop), states.vocab.byte_level)
    bands = []
    for neuron in spec.neurons:
        raw = states.window(neuron.name, start, stop, neuron.unit)
        raw = states.possible_values(neuron.name, raw, start, neuron.unit)  # no damage passed off as data
        values = display_values(neuron.kind, raw, spec.raw_c)
        lo, hi = colour_range(states, neuron, spec.raw_c)
        bands.append(Band(neuron, lut_index(values, lo, hi), lo, hi))
    strips = misses = None
    if spec.strips:
        strips, misses = guesses(states, start, stop)
    return Snippet(start, chars, bands, strips, misses, wrap(chars, spec.columns), spec.palette, spec.raw_c)


def guesses(states: States, start: int, stop: int) -> tuple[list[list[Guess]], list[str | None]]:
    """The top guesses at each position of [start, stop), and the true next character each missed.

    The true next character is the symbol at the following position (none after the text's last
    one), as in the dashboard: a guess that names it is a hit; where none does, it is a miss.
    """
    pred = states.predictions(start, stop)
    ids = states.tokens(start, min(stop + 1, states.n_tokens))
    shades = lut_index(pred.top_probs, 0.0, 1.0)  # (n, k)
    symbols = states.vocab.symbols
    byte_level = states.vocab.byte_level
    strips, misses = [], []
    for i in range(stop - start):
        nxt = int(ids[i + 1]) if i + 1 < len(ids) else -1
        top = [int(t) for t in pred.top_ids[i]]
        strips.append([Guess(strip_text(symbols[t], byte_level), int(shades[i, r]), t == nxt)
                       for r, t in enumerate(top)])
        misses.append(None if nxt < 0 or nxt in top else strip_text(symbols[nxt], byte_level))
    return strips, misses
