"""A :class:`~lstmviz.render.snippet.Snippet` as a standalone SVG: rectangles and text, nothing else.

The same cells, colours, glyphs and marks as the HTML export (:mod:`lstmviz.render.html`), placed
on the pixel grid of :mod:`lstmviz.render.style`. Every glyph is centred in its own cell, so columns
line up whatever monospace font the viewer substitutes. Colours are classes of a stylesheet inside
the figure, scoped under its own class as in HTML, so an ``<svg>`` inlined into a page colours
nothing else; each display line is a group moved into place, so its cells carry only their
column. The figure scales to the width of whatever holds it (``width="100%"``, never wider than
drawn), and keeps its proportions (``viewBox``). No scripts, images, links or ``url()``: it opens
offline and can be embedded with ``<img>``. Provenance goes in ``<metadata>``, since an XML
comment may not contain the ``--`` of the command's options.
"""

from __future__ import annotations

from html import escape

from lstmviz.render import style
from lstmviz.render.html import (
    CHANGED_INK,
    CHANGED_NOTE,
    HIT_NOTE,
    MISS_NOTE,
    SPAN_NOTE,
    delta_index,
    legend_rows,
    swatches,
)
from lstmviz.render.palette import text_colour
from lstmviz.render.snippet import Snippet

TITLE_PX = 16
TITLE_ROW_PX = 22
MARGIN_PX = 8  # above the legend and the caption, as in the HTML
BASELINE_PX = 15  # of a glyph in a band, from the band's top
STRIP_BASELINE_PX = 11
EDITED_GAP_PX = 3  # between the misses and the edited run's guesses
LABEL_ADVANCE = 0.6  # advance of a label's character, in font sizes (for the figure's extent)


def _n(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


class _Canvas:
    """Collects elements, the colour classes they use, and the width they cover."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.used: set[str] = set()
        self.right = 0.0

    def cls(self, table: str, index: int) -> str:
        cls = style.colour_class(table, index)
        self.used.add(cls)
        return cls

    def text(self, x: float, y: float, text: str, *, size: float | None = None, fill: str | None = None,
             extra: str = "") -> None:
        """Left-aligned text, such as a title, a label or a legend's words."""
        attrs = f' x="{_n(x)}" y="{_n(y)}"'
        attrs += f' font-size="{_n(size)}"' if size else ""
        attrs += f' fill="{fill}"' if fill else ""
        self.parts.append(f"<text{attrs}{extra}>{escape(text)}</text>")
        self.right = max(self.right, x + len(text) * (size or style.FONT_PX) * LABEL_ADVANCE)


def _ink(background: str, faint: bool = False) -> str:
    """The class of a glyph on a background: none for ink, ``w`` on dark colours, ``f`` if faint."""
    if text_colour(background) != style.INK:
        return "w"
    return "f" if faint else ""


def _glyph(x: float, text: str, classes: str) -> str:
    attrs = f' class="{classes}"' if classes else ""
    return f'<text x="{_n(x)}"{attrs}>{escape(text)}</text>'


def _box(x: float, y: float, w: float, h: float) -> str:
    """One rectangle as a piece of a path: ``M18 0h36v15h-36z``."""
    return f"M{_n(x)} {_n(y)}h{_n(w)}v{_n(h)}h-{_n(w)}z"


def _paths(cells: list[tuple[float, str]], col: float, h: float) -> list[str]:
    """The backgrounds of a row: one path per colour class, each neighbouring run of it one box.

    ``cells`` are (x, class) in order along the row; a class that appears again later adds a box
    to its path. A path per class is a few bytes a cell, where a ``<rect>`` each was fifty.
    """
    runs: dict[str, list[list[float]]] = {}
    last = None
    for x, cls in cells:
        if cls == last:
            runs[cls][-1][1] += col
        else:
            runs.setdefault(cls, []).append([x, col])
        last = cls
    return [f'<path class="{cls}" d="{"".join(_box(x, 0, w, h) for x, w in boxes)}"/>'
            for cls, boxes in runs.items()]


def _row(c: _Canvas, x0: float, y: float, head: str, shapes: list[str], glyphs: list[str], baseline: float,
         label: str | None = None, extra: str = "") -> None:
    """One row of a display line: a group at (x0, y) holding its backgrounds, then centred glyphs."""
    c.parts.append(f'<g {head} transform="translate({_n(x0)} {_n(y)})"{extra}>')
    if label is not None:
        c.parts.append(f'<text x="{_n(-x0 + style.PAD_PX)}" y="{baseline}" class="lv-label" '
                       f'fill="{style.MUTED}" font-size="{style.FONT_PX}">{escape(label)}</text>')
    c.parts += shapes
    if glyphs:
        c.parts.append(f'<g text-anchor="middle" transform="translate(0 {baseline})">'
                       + "".join(glyphs) + "</g>")
    c.parts.append("</g>")


def _line(c: _Canvas, snippet: Snippet, a: int, b: int, x0: float, y: float,
          names: list[str] | None) -> float:
    """The rows of one display line, from the top ``y``; returns the top of what follows."""
    fixed = snippet.strips is not None
    col = style.COL_PX if fixed else style.CHAR_PX
    c.right = max(c.right, x0 + (b - a) * col)
    lo, hi = snippet.span or (0, 0)
    inside = [(i - a) * col for i in range(max(a, lo), min(b, hi))]  # the edited span, underlined
    for k, band in enumerate(snippet.bands):
        cells, glyphs = [], []
        for i in range(a, b):
            x = (i - a) * col
            cls = c.cls("k", int(band.index[i]))
            cells.append((x, cls))
            text, faint = style.cell_text(snippet.chars[i], fixed)
            if text.strip():  # a space, a tab in flowing text or the tail of a multi-byte character: none
                ink = _ink(style.class_colour(cls, snippet.palette), faint)
                glyphs.append(_glyph(x + col / 2, text, ink))
        shapes = _paths(cells, col, style.LINE_PX)
        if inside:
            under = "".join(_box(x, style.LINE_PX - 3, col, 3) for x in inside)
            shapes.append(f'<path class="lv-in" d="{under}"/>')
        _row(c, x0, y, f'class="lv-band" data-neuron="{band.neuron}" data-start="{snippet.start + a}"',
             shapes, glyphs, BASELINE_PX, None if names is None else names[k])
        y += style.LINE_PX
    if not fixed:
        return y
    h = style.STRIP_ROW_PX
    small = f' font-size="{style.STRIP_FONT_PX}"'
    y = _strips(c, snippet, snippet.strips, a, b, x0, y, "lv-strip")
    missed = [(i - a) * col for i in range(a, b) if snippet.misses[i] is not None]
    shapes = [] if not missed else [
        f'<path class="lv-miss" d="{"".join(_box(x, 0, col, h) for x in missed)}"/>',
        f'<path class="lv-miss-line" d="{"".join(_box(x, 0, col, style.MARK_PX) for x in missed)}"/>',
    ]
    glyphs = [_glyph((i - a) * col + col / 2, snippet.misses[i], "") for i in range(a, b)
              if snippet.misses[i] is not None]
    _row(c, x0, y, 'class="lv-strip lv-misses"', shapes, glyphs, STRIP_BASELINE_PX, extra=small)
    y += h
    if snippet.edited is not None:
        y = _strips(c, snippet, snippet.edited, a, b, x0, y + EDITED_GAP_PX, "lv-strip lv-edited")
    if snippet.delta is not None:
        index = delta_index(snippet)
        cells = [((i - a) * col, c.cls("d", int(index[i]))) for i in range(a, b)]
        _row(c, x0, y, 'class="lv-strip lv-delta"', _paths(cells, col, h), [], STRIP_BASELINE_PX)
        y += h
    return y


def _strips(c: _Canvas, snippet: Snippet, strips: list, a: int, b: int, x0: float, y: float,
            kind: str) -> float:
    """The rows of top guesses of one display line, hits and changed first guesses outlined."""
    col, h = style.COL_PX, style.STRIP_ROW_PX
    m = style.MARK_PX / 2
    for rank in range(len(strips[a])):
        cells, glyphs, hits, changed = [], [], [], []
        for i in range(a, b):
            guess = strips[i][rank]
            x = (i - a) * col
            cls = c.cls("p", guess.shade)
            cells.append((x, cls))
            ink = _ink(style.class_colour(cls, snippet.palette))
            if guess.hit:
                hits.append(_box(x + m, m, col - 2 * m, h - 2 * m))
                ink = (ink + " b").strip()
            if guess.changed:
                changed.append(_box(x + 1, 1, col - 2, h - 2))
            glyphs.append(_glyph(x + col / 2, guess.glyph, ink))
        shapes = _paths(cells, col, h) + ([f'<path class="lv-hit" d="{"".join(hits)}"/>'] if hits else [])
        shapes += [f'<path class="lv-changed" d="{"".join(changed)}"/>'] if changed else []
        _row(c, x0, y, f'class="{kind}" data-rank="{rank + 1}"', shapes, glyphs, STRIP_BASELINE_PX,
             extra=f' font-size="{style.STRIP_FONT_PX}"')
        y += h
    return y


def _legend(c: _Canvas, snippet: Snippet, left: float, y: float) -> float:
    small = style.LEGEND_FONT_PX
    advance = small * LABEL_ADVANCE
    for name, lo, hi, table in legend_rows(snippet):
        baseline = y + 13
        c.text(left, baseline, name, size=small, fill=style.MUTED)
        x = left + (len(name) + 1) * advance
        low, high = style.tick(lo), style.tick(hi)
        c.text(x, baseline, low, size=small, fill=style.MUTED)
        x += (len(low) + 1) * advance
        keys = [(x + k * style.SWATCH_PX, c.cls(table, index)) for k, index in enumerate(swatches())]
        c.parts.append(f'<g class="lv-key" transform="translate(0 {_n(y + 3)})">'
                       + "".join(_paths(keys, style.SWATCH_PX, style.SWATCH_H_PX)) + "</g>")
        c.text(x + style.SWATCHES * style.SWATCH_PX + advance, baseline, high, size=small, fill=style.MUTED)
        y += style.LEGEND_ROW_PX
    if snippet.strips is not None:
        col, h = style.COL_PX, style.STRIP_ROW_PX
        m = style.MARK_PX / 2
        x = left
        c.parts.append(f'<path class="lv-hit" d="{_box(x + m, y + 2 + m, col - 2 * m, h - 2 * m)}"/>')
        c.parts.append(f'<text x="{_n(x + col / 2)}" y="{_n(y + 13)}" font-size="{style.STRIP_FONT_PX}" '
                       'text-anchor="middle" class="b">a</text>')
        c.text(x + col + advance, y + 13, HIT_NOTE + " ·", size=small, fill=style.MUTED)
        x += col + (len(HIT_NOTE) + 3) * advance
        c.parts.append(f'<path class="lv-miss" d="{_box(x, y + 2, col, h)}"/>'
                       f'<path class="lv-miss-line" d="{_box(x, y + 2, col, style.MARK_PX)}"/>')
        c.parts.append(f'<text x="{_n(x + col / 2)}" y="{_n(y + 13)}" font-size="{style.STRIP_FONT_PX}" '
                       'text-anchor="middle">a</text>')
        c.text(x + col + advance, y + 13, MISS_NOTE, size=small, fill=style.MUTED)
        y += style.LEGEND_ROW_PX
    if snippet.edited is not None:
        col, h, x = style.COL_PX, style.STRIP_ROW_PX, left
        c.parts.append(f'<path class="lv-changed" d="{_box(x + 1, y + 3, col - 2, h - 2)}"/>')
        c.text(x + col + advance, y + 13, CHANGED_NOTE + " ·", size=small, fill=style.MUTED)
        x += col + (len(CHANGED_NOTE) + 3) * advance
        c.parts.append(f'<path class="lv-in" d="{_box(x, y + 2 + h - 3, col, 3)}"/>')
        c.text(x + col + advance, y + 13, SPAN_NOTE, size=small, fill=style.MUTED)
        y += style.LEGEND_ROW_PX
    return y


def document(snippet: Snippet, *, scope: str, metadata: str, title: str | None, caption: str | None,
             fragment: bool) -> str:
    """The SVG text; ``fragment`` leaves out the XML declaration, for inlining into HTML.

    ``scope`` is the figure's own class, as in HTML: its stylesheet's rules apply under it only.
    """
    several = len(snippet.bands) > 1
    names = [str(band.neuron) for band in snippet.bands] if several else None
    gutter = style.label_columns(names or []) * style.CHAR_PX
    left = style.PAD_PX
    y = float(style.PAD_PX)
    c = _Canvas()
    if title:
        c.text(left, y + TITLE_PX, title, size=TITLE_PX, extra=' font-weight="bold"')
        y += TITLE_ROW_PX + MARGIN_PX
    gap = snippet.strips is not None or several
    for a, b in snippet.lines:
        c.parts.append('<g class="lv-group">')
        y = _line(c, snippet, a, b, left + gutter, y, names)
        c.parts.append("</g>")
        y += style.GROUP_GAP_PX if gap else 0
    y = _legend(c, snippet, left, y + MARGIN_PX)
    if caption:
        y += MARGIN_PX
        for line in caption.splitlines():
            c.text(left, y + 13, line, size=style.LEGEND_FONT_PX, fill=style.MUTED,
                   extra=' class="lv-caption"')
            y += style.LEGEND_ROW_PX
    width = _n(c.right + style.PAD_PX)
    height = _n(y + style.PAD_PX)
    sheet = style.svg_rules("." + scope) + style.colour_rules("." + scope, snippet.palette, c.used, svg=True)
    if snippet.edited is not None:
        sheet += [f".{scope} .lv-changed{{fill:none;stroke:{CHANGED_INK};stroke-width:2}}",
                  f".{scope} .lv-in{{fill:{CHANGED_INK}}}"]
    head = "" if fragment else '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (
        f'{head}<svg xmlns="http://www.w3.org/2000/svg" class="lv-snippet {scope}" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" style="max-width:{width}px" '
        f'font-family="{escape(style.FONT_STACK)}" font-size="{style.FONT_PX}" fill="{style.INK}">\n'
        f"<metadata>\n{escape(metadata)}\n</metadata>\n"
        "<style>\n" + "\n".join(sheet) + "\n</style>\n"
        f'<rect width="{width}" height="{height}" fill="{style.PAPER}"/>\n'
        + "\n".join(c.parts)
        + "\n</svg>\n"
    )
