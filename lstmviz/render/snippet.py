"""What a figure shows, read from an extraction file: characters, colours, predictions, lines.

:func:`gather` reads only the span asked for (one column per neuron) and turns it into plain
lists that the HTML and SVG renderers lay out, so both draw exactly the same cells. Colours come
from :mod:`lstmviz.render.palette` over the fixed range of each kind of activation, the same scale the
dashboard uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lstmviz.errors import StoreError
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render.palette import colours, display_range, display_values, strip_colours
from lstmviz.render.spec import ExportSpec
from lstmviz.render.style import strip_text
from lstmviz.store.reader import States

SCAN_ROWS = 1 << 16  # rows per read when a unit's largest |c| must be found by scanning the file
_LEADS = ((7, 0b0), (5, 0b110), (4, 0b1110), (3, 0b11110))  # UTF-8 lead bytes of 1..4-byte characters


@dataclass
class Band:
    """One neuron's colouring of the span."""

    neuron: Neuron
    values: np.ndarray  # (n,) float32, what is coloured: tanh(c), c, h or a gate
    colours: list[str]  # (n,) '#rrggbb'
    lo: float  # the colour range
    hi: float
    shows: str | None = None  # what the colour shows, for the legend, when not the neuron's own value


@dataclass
class Snippet:
    """Everything a renderer needs; positions are offsets 0..n-1 from ``start``."""

    start: int
    chars: list[str]  # (n,) the character shown at each position ("" inside a multi-byte character)
    bands: list[Band]
    strips: list[list[tuple[str, str, float]]] | None  # (n, 5) (glyph, colour, probability)
    lines: list[tuple[int, int]]  # display lines as [a, b) offsets
    palette: str
    raw_c: bool

    @property
    def stop(self) -> int:
        """One past the last position shown."""
        return self.start + len(self.chars)


def check_request(states: States, spec: ExportSpec) -> None:
    """Refuse a span past the text and neurons the file lacks (the spec refuses empty ones itself)."""
    states.span(spec.start, spec.start + spec.length)
    for neuron in spec.neurons:
        states.neuron(neuron)


def unit_abs_max(states: States, neuron: Neuron) -> float:
    """Largest |value| of one unit over the whole file, so raw c has the same scale at any span.

    Uses the per-unit summaries written at extraction when the file has them (and they are whole);
    otherwise scans the unit's column a block at a time (memory bounded by ``SCAN_ROWS``), leaving
    out NaN and infinity, which have no place on a scale.
    """
    try:
        summary = states.summary(neuron.name)
    except StoreError:
        summary = {}
    if "min" in summary and "max" in summary:
        return float(max(abs(summary["min"][neuron.unit]), abs(summary["max"][neuron.unit])))
    largest = 0.0
    for a in range(0, states.n_tokens, SCAN_ROWS):
        column = np.abs(states.window(neuron.name, a, min(a + SCAN_ROWS, states.n_tokens), neuron.unit))
        column = column[np.isfinite(column)]
        if column.size:
            largest = max(largest, float(column.max()))
    return largest


def colour_range(states: States, neuron: Neuron, raw_c: bool = False) -> tuple[float, float]:
    """The colour range of a neuron: its kind's fixed range, or for raw c its whole-file |max|.

    The dashboard colours a neuron over the same range, so a snippet matches the screen.
    """
    kind = neuron.kind
    if raw_c and KINDS[kind].display is not None:
        return display_range(kind, raw_c=True, c_abs_max=unit_abs_max(states, neuron))
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
        bands.append(Band(neuron, values, colours(values, spec.palette, lo, hi), lo, hi))
    strip_cells = None
    if spec.strips:
        pred = states.predictions(start, stop)
        shades = strip_colours(pred.top_probs.ravel())
        symbols = states.vocab.symbols
        byte_level = states.vocab.byte_level
        k = pred.top_ids.shape[1]
        strip_cells = [
            [(strip_text(symbols[int(pred.top_ids[i, r])], byte_level), shades[i * k + r],
              float(pred.top_probs[i, r])) for r in range(k)]
            for i in range(spec.length)
        ]
    return Snippet(start, chars, bands, strip_cells, wrap(chars, spec.width), spec.palette, spec.raw_c)
