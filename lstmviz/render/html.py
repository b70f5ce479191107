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

from lstmviz.render import style
from lstmviz.render.palette import LUT_SIZE
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
    for i in range(a, b):
        text, faint = style.cell_text(snippet.chars[i], fixed)
        cls = classes("k", int(band.index[i])) + (" lv-mark" if i == mark else "")
        cls = "lv-ws " + cls if faint else cls
        cells.append(f'<span class="{cls}">{escape(text)}</span>')
    return (f'<div class="lv-band" data-neuron="{band.neuron}" data-start="{snippet.start + a}">'
            f'{label}{"".join(cells)}</div>')


def _strip(snippet: Snippet, rank: int, a: int, b: int, label: str, classes: ColourClasses) -> str:
    cells = []
    for i in range(a, b):
        guess = snippet.strips[i][rank]
        cls = classes("p", guess.shade) + (" lv-hit" if guess.hit else "")
        cells.append(f'<span class="{cls}">{escape(guess.glyph)}</span>')
    return f'<div class="lv-strip" data-rank="{rank + 1}">{label}{"".join(cells)}</div>'


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


def legend_rows(snippet: Snippet) -> list[tuple[str, float, float, str]]:
    """(label, lo, hi, table) of each colour scale the figure uses; shared by HTML and SVG.

    The table is ``"k"`` for the figure's palette and ``"p"`` for the strips' red scale.
    """
    rows = [(f"{band.neuron}: {band.shows or style.quantity(band.neuron.kind, snippet.raw_c)}", band.lo,
             band.hi, "k") for band in snippet.bands]
    if snippet.strips is not None:
        rows.append(("top-5 predictions: probability", 0.0, 1.0, "p"))
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
    body.append("</div>")
    if caption:
        lines = "<br>".join(escape(line) for line in caption.splitlines())  # no blank source lines
        body.append(f'<div class="lv-caption">{lines}</div>')
    css = [style.stylesheet("." + scope), *style.colour_rules("." + scope, snippet.palette, classes.used)]
    parts = [
        f'<div class="lv-snippet {scope}">',
        f"<!--\n{comment}\n-->",
        "<style>\n" + "\n".join(css) + "\n</style>",
    ]
    if title:
        parts.append(f'<div class="lv-title">{escape(title)}</div>')
    return "\n".join(parts + body + ["</div>"]) + "\n"


def page(body: str, *, title: str) -> str:
    """A whole HTML document around a fragment; opens offline in any browser."""
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\nbody{{margin:16px;background:{style.PAPER}}}\n</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
