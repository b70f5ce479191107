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

from lstmviz.errors import OptionError, StoreError, UnknownActivation
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron
from lstmviz.render.palette import PALETTES, colours, display_range, display_values, strip_colours
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


def as_neuron(neuron: Neuron | str) -> Neuron:
    """Accept ``Neuron`` objects and ``"layer1.c.117"`` strings alike."""
    return neuron if isinstance(neuron, Neuron) else Neuron.parse(str(neuron))


def check_request(states: States, neurons: Sequence[Neuron], start: int, length: int) -> None:
    """Refuse an empty span, a span past the text, and neurons the file lacks, naming the fix."""
    n = states.n_tokens
    if not neurons:
        raise OptionError("no neuron given; name one, e.g. --neuron layer0.c.3")
    if length < 1:
        raise OptionError(f"the span is empty (length {length}); give a length of 1 or more")
    if not 0 <= start < n or start + length > n:
        fix = (f"a length of at most {n - start} from start {start}" if 0 <= start < n
               else f"a start from 0 to {n - 1}")
        raise StoreError(
            f"positions {start}:{start + length} are outside the text of {states.path.name}, "
            f"which has {n} characters (0:{n}); choose {fix}"
        )
    for neuron in neurons:
        if neuron.name not in states.names:
            raise UnknownActivation(
                f"{states.path.name} has no activation {neuron.name!r} (asked for neuron "
                f"{neuron}); available: {', '.join(states.names)}"
            )
        if not 0 <= neuron.unit < states.n_hidden:
            raise UnknownActivation(
                f"{neuron.name} has units 0..{states.n_hidden - 1}; there is no unit {neuron.unit} "
                f"(asked for neuron {neuron})"
            )


def check_options(palette: str, width: int) -> None:
    """Refuse an unknown palette or a negative line width."""
    if palette not in PALETTES:
        raise OptionError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    if width < 0:
        raise OptionError(f"the line width is {width}; give 0 (no wrapping) or a positive number")


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


def gather(
    states: States,
    neurons: Sequence[Neuron | str],
    start: int,
    length: int,
    *,
    palette: str = "blog",
    strips: bool = False,
    raw_c: bool = False,
    width: int = 100,
) -> Snippet:
    """Read and colour positions [start, start + length) for the given neurons."""
    parsed = [as_neuron(n) for n in neurons]
    check_options(palette, width)
    check_request(states, parsed, start, length)
    stop = start + length
    chars = display_chars(states.symbols(start, stop), states.vocab.byte_level)
    bands = []
    for neuron in parsed:
        raw = states.window(neuron.name, start, stop, neuron.unit)
        raw = states.possible_values(neuron.name, raw, start, neuron.unit)  # no damage passed off as data
        values = display_values(neuron.kind, raw, raw_c)
        lo, hi = colour_range(states, neuron, raw_c)
        bands.append(Band(neuron, values, colours(values, palette, lo, hi), lo, hi))
    strip_cells = None
    if strips:
        pred = states.predictions(start, stop)
        shades = strip_colours(pred.top_probs.ravel())
        symbols = states.vocab.symbols
        byte_level = states.vocab.byte_level
        k = pred.top_ids.shape[1]
        strip_cells = [
            [(strip_text(symbols[int(pred.top_ids[i, r])], byte_level), shades[i * k + r],
              float(pred.top_probs[i, r])) for r in range(k)]
            for i in range(length)
        ]
    return Snippet(start, chars, bands, strip_cells, wrap(chars, width), palette, raw_c)
