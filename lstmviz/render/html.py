"""A :class:`~lstmviz.render.snippet.Snippet` as self-contained HTML: inline CSS, no script, no URLs.

Every character is its own ``<span>`` in its band, coloured by a class per entry of the colour
table (``k57``) that the figure's own stylesheet defines once: a figure uses a few dozen of the
table's 256 colours, and a class is a few bytes where an inline style was thirty. Every piece of
text from the file or the user is escaped, and the stylesheet is scoped under a class unique to
the figure, so the result pastes into any page or Markdown post without touching it. The output
has no blank lines, which would end a Markdown HTML block early.
"""

from __future__ import annotations

from html import escape

import numpy as np

from lstmviz.render import style
from lstmviz.render.palette import LUT_SIZE, lut_index
from lstmviz.render.snippet import Band, Snippet


class ColourClasses:
    """The colour classes a figure (or a page of figures) uses, collected as its cells are written.

    Called with a table (``"k"`` or ``"p"``) and an entry, it returns the class and notes it, so
    the stylesheet defines exactly the classes used (:func:`lstmviz.render.style.colour_rules`).
    """

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, table: str, index: int) -> str:
        """The class of entry ``index`` of ``table``, noted as used."""
        cls = style.colour_class(table, index)
        self.used.add(cls)
        return cls


def _band(snippet: Snippet, band: Band, a: int, b: int, label: str, fixed: bool,
          classes: ColourClasses, mark: int | None = None) -> str:
    cells = []
    lo, hi = snippet.span or (0, 0)
    for i in range(a, b):
        text, faint = style.cell_text(snippet.chars[i], fixed)
        cls = classes("k", int(band.index[i])) + (" lv-mark" if i == mark else "")
        cls += " lv-in" if lo <= i < hi else ""
        cls = "lv-ws " + cls if faint else cls
        cells.append(f'<span class="{cls}">{escape(text)}</span>')
    return (f'<div class="lv-band" data-neuron="{band.neuron}" data-start="{snippet.start + a}">'
            f'{label}{"".join(cells)}</div>')


def _strip(snippet: Snippet, rank: int, a: int, b: int, label: str, classes: ColourClasses,
           edited: bool = False) -> str:
    cells = []
    strips = snippet.edited if edited else snippet.strips
    for i in range(a, b):
        guess = strips[i][rank]
        cls = classes("p", guess.shade) + (" lv-hit" if guess.hit else "")
        cls += " lv-changed" if guess.changed else ""
        cells.append(f'<span class="{cls}">{escape(guess.glyph)}</span>')
    kind = "lv-strip lv-edited" if edited else "lv-strip"
    return f'<div class="{kind}" data-rank="{rank + 1}">{label}{"".join(cells)}</div>'


def _delta(snippet: Snippet, a: int, b: int, label: str, classes: ColourClasses) -> str:
    """The row of changes of loss: each cell coloured on the diverging ``d`` table, its value as a tooltip."""
    index = delta_index(snippet)
    cells = []
    for i in range(a, b):
        value = snippet.delta[i]
        title = "" if not np.isfinite(value) else f' title="Δloss {value:+.3f} bits"'
        cells.append(f'<span class="{classes("d", int(index[i]))}"{title}></span>')
    return f'<div class="lv-strip lv-delta">{label}{"".join(cells)}</div>'


def delta_index(snippet: Snippet) -> np.ndarray:
    """Each position's entry in the Δ table: -m (blue, helped) to +m (red, hurt), -1 where none."""
    return lut_index(snippet.delta, -snippet.delta_max, snippet.delta_max)


def _misses(snippet: Snippet, a: int, b: int, label: str) -> str:
    cells = "".join("<span></span>" if miss is None else f'<span class="lv-miss">{escape(miss)}</span>'
                    for miss in snippet.misses[a:b])
    return f'<div class="lv-strip lv-misses">{label}{cells}</div>'


def _lines(snippet: Snippet, classes: ColourClasses, mark: int | None = None) -> list[str]:
    fixed = snippet.strips is not None
    several = len(snippet.bands) > 1
    names = [str(band.neuron) for band in snippet.bands]
    pad = style.label_columns(names)

    def label(text: str) -> str:
        return f'<span class="lv-label">{escape(text.ljust(pad))}</span>' if several else ""

    out = []
    for a, b in snippet.lines:
        rows = [_band(snippet, band, a, b, label(name), fixed, classes, mark)
                for band, name in zip(snippet.bands, names, strict=True)]
        if fixed:
            rows += [_strip(snippet, r, a, b, label(""), classes) for r in range(len(snippet.strips[a]))]
            rows.append(_misses(snippet, a, b, label("")))
        if snippet.edited is not None:
            rows += [_strip(snippet, r, a, b, label(""), classes, edited=True)
                     for r in range(len(snippet.edited[a]))]
        if snippet.delta is not None:
            rows.append(_delta(snippet, a, b, label(""), classes))
        out.append(f'<div class="lv-group">{"".join(rows)}</div>')
    return out


def swatches() -> list[int]:
    """The colour-table entries of a legend's SWATCHES keys: the middle of each of as many steps.

    The same for any range, since a table spans its scale's range; the dashboard's legend samples
    the same entries.

    >>> swatches()[:3], len(swatches())
    ([4, 12, 20], 32)
    """
    return [min(LUT_SIZE - 1, int((k + 0.5) / style.SWATCHES * LUT_SIZE)) for k in range(style.SWATCHES)]


def scale(name: str, lo: float, hi: float, table: str, classes: ColourClasses) -> str:
    """One row of a legend: the scale's name, its low end, SWATCHES coloured keys, its high end."""
    keys = "".join(f'<span class="lv-key {classes(table, k)}"></span>' for k in swatches())
    return (f'<div class="lv-scale"><span class="lv-scale-name">{escape(name)}</span> '
            f"<span>{style.tick(lo)}</span> {keys} <span>{style.tick(hi)}</span></div>")


# The marks of the strips, as the dashboard's legend explains them.
HIT_NOTE = "the true next character"
MISS_NOTE = "missed: the true next character was not among the top 5"
# The marks of a before/after figure (lstmviz.render.intervention)
DELTA_NOTE = "Δloss, bits: blue = the edit helped, red = it hurt"
CHANGED_NOTE = "the edit changed the first guess"
SPAN_NOTE = "the edited span"
CHANGED_INK = "#e0a400"  # the outline of a changed first guess, and the line under the edited span


def legend_rows(snippet: Snippet) -> list[tuple[str, float, float, str]]:
    """(label, lo, hi, table) of each colour scale the figure uses; shared by HTML and SVG.

    The table is ``"k"`` for the figure's palette and ``"p"`` for the strips' red scale.
    """
    rows = [(f"{band.neuron}: {band.shows or style.quantity(band.neuron.kind, snippet.raw_c)}", band.lo,
             band.hi, "k") for band in snippet.bands]
    if snippet.strips is not None:
        which = ", before and after the edit" if snippet.edited is not None else ""
        rows.append((f"top-5 predictions{which}: probability", 0.0, 1.0, "p"))
    if snippet.delta is not None:
        rows.append((DELTA_NOTE, -snippet.delta_max, snippet.delta_max, "d"))
    return rows


def text(snippet: Snippet, classes: ColourClasses, mark: int | None = None) -> str:
    """The coloured text of a figure alone, one ``<div class="lv-text">``, without styles or legend.

    For a page holding many figures under one stylesheet (the cell atlas); the colour classes it
    uses are added to ``classes``. The character at offset ``mark`` (from the snippet's start)
    gets the class ``lv-mark``, for the page to outline.
    """
    names = ["lv-text"] + (["lv-grid"] if snippet.strips is not None else [])
    if snippet.strips is not None or len(snippet.bands) > 1:
        names.append("lv-gap")
    return "\n".join([f'<div class="{" ".join(names)}">', *_lines(snippet, classes, mark), "</div>"])


def fragment(snippet: Snippet, *, scope: str, comment: str, title: str | None,
             caption: str | None) -> str:
    """The figure as one ``<div>``: provenance comment, scoped stylesheet, text, legend, caption.

    ``comment`` must already be safe inside ``<!-- -->`` (see ``lstmviz.render.export.provenance``).
    """
    classes = ColourClasses()
    body = [text(snippet, classes), '<div class="lv-legend">']
    body += [scale(*row, classes) for row in legend_rows(snippet)]
    if snippet.strips is not None:
        body.append(f'<div class="lv-scale lv-scale-note"><span class="lv-hit">a</span> {HIT_NOTE} · '
                    f'<span class="lv-miss">a</span> {MISS_NOTE}</div>')
    if snippet.edited is not None:
        body.append(f'<div class="lv-scale lv-scale-note"><span class="lv-changed">a</span> {CHANGED_NOTE} · '
                    f'<span class="lv-in">a</span> {SPAN_NOTE}</div>')
    body.append("</div>")
    if caption:
        lines = "<br>".join(escape(line) for line in caption.splitlines())  # no blank source lines
        body.append(f'<div class="lv-caption">{lines}</div>')
    css = [style.stylesheet("." + scope), *style.colour_rules("." + scope, snippet.palette, classes.used)]
    if snippet.edited is not None:
        css += before_after_rules("." + scope)
    parts = [
        f'<div class="lv-snippet {scope}">',
        f"<!--\n{comment}\n-->",
        "<style>\n" + "\n".join(css) + "\n</style>",
    ]
    if title:
        parts.append(f'<div class="lv-title">{escape(title)}</div>')
    return "\n".join(parts + body + ["</div>"]) + "\n"


def before_after_rules(scope: str) -> list[str]:
    """The marks only a before/after figure has: a changed first guess, the edited span, the Δ row."""
    return [f"{scope} .lv-changed{{outline:2px solid {CHANGED_INK};outline-offset:-2px}}",
            f"{scope} .lv-in{{box-shadow:inset 0 -3px 0 {CHANGED_INK}}}",
            f"{scope} .lv-edited[data-rank=\"1\"]{{margin-top:3px}}"]


def page(body: str, *, title: str) -> str:
    """A whole HTML document around a fragment; opens offline in any browser."""
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\nbody{{margin:16px;background:{style.PAPER}}}\n</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
