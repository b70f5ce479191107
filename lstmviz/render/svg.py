"""A :class:`~lstmviz.render.snippet.Snippet` as a standalone SVG: rectangles and text, nothing else.

The same cells, colours and glyphs as the HTML export (:mod:`lstmviz.render.html`), placed on the
pixel grid of :mod:`lstmviz.render.style`. Every glyph is centred in its own cell, so columns line up
whatever monospace font the viewer substitutes. No scripts, images, links or ``url()``: it opens
offline and can be embedded with ``<img>``. Provenance goes in ``<metadata>``, since an XML
comment may not contain the ``--`` of the command's options.
"""

from __future__ import annotations

from html import escape

from lstmviz.render import style
from lstmviz.render.html import legend_rows
from lstmviz.render.palette import swatches, text_colour
from lstmviz.render.snippet import Snippet

TITLE_PX = 16
TITLE_ROW_PX = 22
MARGIN_PX = 8  # above the legend and the caption, as in the HTML


def _n(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


class _Canvas:
    """Collects elements and the extent they cover."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.right = 0.0

    def rect(self, x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> None:
        self.parts.append(f'<rect{extra} x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
                          f'fill="{fill}"/>')
        self.right = max(self.right, x + w)

    def text(self, x: float, y: float, text: str, *, size: float | None = None, fill: str | None = None,
             anchor: str | None = None, extra: str = "") -> None:
        attrs = f' x="{_n(x)}" y="{_n(y)}"'
        attrs += f' font-size="{_n(size)}"' if size else ""
        attrs += f' fill="{fill}"' if fill else ""
        attrs += f' text-anchor="{anchor}"' if anchor else ""
        self.parts.append(f"<text{attrs}{extra}>{escape(text)}</text>")
        if anchor is None:
            self.right = max(self.right, x + len(text) * (size or style.FONT_PX) * 0.6)


def _glyph(canvas: _Canvas, x: float, y: float, char: str, fixed: bool, background: str,
           size: float) -> None:
    text, faint = style.cell_text(char, fixed)
    if text.strip() == "":
        return  # a space, a tab in flowing text, or the tail of a multi-byte character
    ink = text_colour(background)
    fill = style.FAINT if faint and ink == style.INK else (None if ink == style.INK else ink)
    canvas.text(x, y, text, size=size, fill=fill, anchor="middle")


def document(snippet: Snippet, *, metadata: str, title: str | None, caption: str | None,
             fragment: bool) -> str:
    """The SVG text; ``fragment`` leaves out the XML declaration, for inlining into HTML."""
    fixed = snippet.strips is not None
    several = len(snippet.bands) > 1
    col = style.COL_PX if fixed else style.CHAR_PX
    names = [str(band.neuron) for band in snippet.bands]
    gutter = (max(map(len, names)) + 1) * style.CHAR_PX if several else 0.0
    left = style.PAD_PX
    x0 = left + gutter
    y = float(style.PAD_PX)
    c = _Canvas()
    if title:
        c.text(left, y + TITLE_PX, title, size=TITLE_PX, extra=' font-weight="bold"')
        y += TITLE_ROW_PX + MARGIN_PX
    gap = fixed or several
    for a, b in snippet.lines:
        c.parts.append('<g class="lv-group">')
        for band, name in zip(snippet.bands, names, strict=True):
            c.parts.append(f'<g class="lv-band" data-neuron="{band.neuron}">')
            if several:
                c.text(left, y + 15, name, fill=style.MUTED, extra=' class="lv-label"')
            for i in range(a, b):
                x = x0 + (i - a) * col
                c.rect(x, y, col, style.LINE_PX, band.colours[i],
                       extra=f' class="lv-ch" data-i="{snippet.start + i}"')
                _glyph(c, x + col / 2, y + 15, snippet.chars[i], fixed, band.colours[i], style.FONT_PX)
            c.parts.append("</g>")
            y += style.LINE_PX
        for rank in range(len(snippet.strips[a]) if fixed else 0):
            c.parts.append(f'<g class="lv-strip" data-rank="{rank + 1}">')
            for i in range(a, b):
                glyph, shade, _ = snippet.strips[i][rank]
                x = x0 + (i - a) * col
                c.rect(x, y, col, style.STRIP_ROW_PX, shade, extra=' class="lv-p"')
                ink = text_colour(shade)
                c.text(x + col / 2, y + 11, glyph, size=style.STRIP_FONT_PX,
                       fill=None if ink == style.INK else ink, anchor="middle")
            c.parts.append("</g>")
            y += style.STRIP_ROW_PX
        c.parts.append("</g>")
        y += style.GROUP_GAP_PX if gap else 0
    y += MARGIN_PX
    small = style.LEGEND_FONT_PX
    for name, lo, hi, palette in legend_rows(snippet):
        baseline = y + 13
        c.text(left, baseline, name, size=small, fill=style.MUTED)
        x = left + (len(name) + 1) * small * 0.6
        low, high = style.tick(lo), style.tick(hi)
        c.text(x, baseline, low, size=small, fill=style.MUTED)
        x += (len(low) + 1) * small * 0.6
        for k, colour in enumerate(swatches(palette, style.SWATCHES)):
            c.rect(x + k * style.SWATCH_PX, y + 3, style.SWATCH_PX, style.SWATCH_H_PX, colour,
                   extra=' class="lv-key"')
        c.text(x + style.SWATCHES * style.SWATCH_PX + small * 0.6, baseline, high, size=small,
               fill=style.MUTED)
        y += style.LEGEND_ROW_PX
    if caption:
        y += MARGIN_PX
        for line in caption.splitlines():
            c.text(left, y + 13, line, size=small, fill=style.MUTED, extra=' class="lv-caption"')
            y += style.LEGEND_ROW_PX
    width = c.right + style.PAD_PX
    height = y + style.PAD_PX
    head = "" if fragment else '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (
        f'{head}<svg xmlns="http://www.w3.org/2000/svg" class="lv-snippet" width="{_n(width)}" '
        f'height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'font-family="{escape(style.FONT_STACK)}" font-size="{style.FONT_PX}" fill="{style.INK}">\n'
        f"<metadata>\n{escape(metadata)}\n</metadata>\n"
        f'<rect width="{_n(width)}" height="{_n(height)}" fill="{style.PAPER}"/>\n'
        + "\n".join(c.parts)
        + "\n</svg>\n"
    )
