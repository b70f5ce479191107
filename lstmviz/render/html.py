"""A :class:`~lstmviz.render.snippet.Snippet` as self-contained HTML: inline CSS, no script, no URLs.

Every character is its own ``<span class="lv-ch">`` with its background colour inline, every piece
of text from the file or the user is escaped, and the stylesheet is scoped under a class unique to
the figure, so the result pastes into any page or Markdown post without touching it. The output
has no blank lines, which would end a Markdown HTML block early.
"""

from __future__ import annotations

from html import escape

from lstmviz.render import style
from lstmviz.render.palette import colours, text_colour
from lstmviz.render.snippet import Band, Snippet


def _style(background: str) -> str:
    ink = text_colour(background)
    return f"background-color:{background}" + ("" if ink == style.INK else f";color:{ink}")


def _cell(char: str, fixed: bool, position: int, background: str, value: float) -> str:
    text, faint = style.cell_text(char, fixed)
    cls = "lv-ch lv-ws" if faint else "lv-ch"
    return (f'<span class="{cls}" data-i="{position}" title="{value:.3f}" '
            f'style="{_style(background)}">{escape(text)}</span>')


def _band(snippet: Snippet, band: Band, a: int, b: int, label: str, fixed: bool) -> str:
    cells = "".join(
        _cell(snippet.chars[i], fixed, snippet.start + i, band.colours[i], float(band.values[i]))
        for i in range(a, b)
    )
    return f'<div class="lv-band" data-neuron="{band.neuron}">{label}{cells}</div>'


def _strip(snippet: Snippet, rank: int, a: int, b: int, label: str) -> str:
    cells = []
    for i in range(a, b):
        glyph, shade, prob = snippet.strips[i][rank]
        cells.append(f'<span class="lv-p" title="{escape(glyph)} {prob:.3f}" '
                     f'style="{_style(shade)}">{escape(glyph)}</span>')
    return f'<div class="lv-strip" data-rank="{rank + 1}">{label}{"".join(cells)}</div>'


def _lines(snippet: Snippet) -> list[str]:
    fixed = snippet.strips is not None
    several = len(snippet.bands) > 1
    names = [str(band.neuron) for band in snippet.bands]
    pad = max(map(len, names)) + 1 if several else 0

    def label(text: str) -> str:
        return f'<span class="lv-label">{escape(text.ljust(pad))}</span>' if several else ""

    out = []
    for a, b in snippet.lines:
        rows = [_band(snippet, band, a, b, label(name), fixed) 
                for band, name in zip(snippet.bands, names, strict=True)]
        if fixed:
            rows += [_strip(snippet, r, a, b, label("")) for r in range(len(snippet.strips[a]))]
        out.append(f'<div class="lv-group">{"".join(rows)}</div>')
    return out


def _scale(name: str, lo: float, hi: float, palette: str) -> str:
    step = (hi - lo) / style.SWATCHES
    swatches = colours([lo + (k + 0.5) * step for k in range(style.SWATCHES)], palette, lo, hi)
    keys = "".join(f'<span class="lv-key" style="background-color:{c}"></span>' for c in swatches)
    return (f'<div class="lv-scale"><span class="lv-scale-name">{escape(name)}</span> '
            f"<span>{style.tick(lo)}</span> {keys} <span>{style.tick(hi)}</span></div>")


def legend_rows(snippet: Snippet) -> list[tuple[str, float, float, str]]:
    """(label, lo, hi, palette) of each colour scale the figure uses; shared by HTML and SVG."""
    rows = [(f"{band.neuron}: {band.shows or style.quantity(band.neuron.kind, snippet.raw_c)}", band.lo,
             band.hi, snippet.palette) for band in snippet.bands]
    if snippet.strips is not None:
        rows.append(("top-5 predictions: probability", 0.0, 1.0, "strip"))
    return rows


def fragment(snippet: Snippet, *, scope: str, comment: str, title: str | None,
             caption: str | None) -> str:
    """The figure as one ``<div>``: provenance comment, scoped stylesheet, text, legend, caption.

    ``comment`` must already be safe inside ``<!-- -->`` (see ``lstmviz.render.export.provenance``).
    """
    classes = ["lv-text"] + (["lv-grid"] if snippet.strips is not None else [])
    if snippet.strips is not None or len(snippet.bands) > 1:
        classes.append("lv-gap")
    parts = [
        f'<div class="lv-snippet {scope}">',
        f"<!--\n{comment}\n-->",
        f"<style>\n{style.stylesheet('.' + scope)}\n</style>",
    ]
    if title:
        parts.append(f'<div class="lv-title">{escape(title)}</div>')
    parts.append(f'<div class="{" ".join(classes)}">')
    parts += _lines(snippet)
    parts.append("</div>")
    parts.append('<div class="lv-legend">')
    parts += [_scale(*row) for row in legend_rows(snippet)]
    parts.append("</div>")
    if caption:
        lines = "<br>".join(escape(line) for line in caption.splitlines())  # no blank source lines
        parts.append(f'<div class="lv-caption">{lines}</div>')
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def page(body: str, *, title: str) -> str:
    """A whole HTML document around a fragment; opens offline in any browser."""
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\nbody{{margin:16px;background:{style.PAPER}}}\n</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
