"""The one definition of how coloured text looks, shared by the dashboard and every export.

The figures are those of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks"
(2015): text in a monospace font, each character's background coloured by one LSTM cell, and
optionally, beneath each character, the model's top-5 guesses for the next one shaded by
probability. Colours come from :mod:`lstmviz.render.palette`; geometry, CSS, class names and the glyph
shown for each symbol come from here, so the dashboard (``app/``) and the exported snippets
(:mod:`lstmviz.render.html`, :mod:`lstmviz.render.svg`) cannot drift apart.

Stable class names (a browser test compares the dashboard and an export through them)::

    lv-snippet  the whole figure; also carries the scope class its stylesheet is written for
    lv-group    one display line: a band per neuron, then the prediction strips and the misses
    lv-band     characters coloured by one neuron; data-neuron="layer1.c.117", data-start = the
                position of its first character; each character is one <span> in it
    lv-ws       a character drawn as a faint marker (newline, tab in a grid, control symbol)
    lv-strip    one row of prediction cells, data-rank = 1..5; each guess is one <span> in it
    lv-hit      the guess that is the true next character, outlined
    lv-misses   the row under the strips: the true next character where no guess was it (lv-miss)
    lv-grid     on the text container when cells have a fixed width (strips shown)
    lv-gap      on the text container when display lines need a gap (strips or several neurons)
    lv-label    a band's neuron name, left of it, when a figure shows several neurons
    lv-scale    one row of the legend: a name, the low end, SWATCHES lv-key cells, the high end
    lv-title, lv-legend, lv-caption   the figure's title, colour scales and caption

Exports colour a cell by a class per entry of a colour table (:func:`colour_class`: ``k57`` is
entry 57 of the figure's palette, ``p12`` entry 12 of the strips' red scale, ``kx`` no value),
defined once in the figure's scoped stylesheet (:func:`colour_rules`), rather than by an inline
style on each cell; the dashboard, which draws in the browser, writes inline styles of the same
colours.
"""

from __future__ import annotations

import unicodedata

from lstmviz.kinds import KINDS
from lstmviz.render.palette import lut, text_colour

FONT_STACK = (
    'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", '
    '"Liberation Mono", "Courier New", monospace'
)
LABEL_FONT_STACK = '-apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

FONT_PX = 14  # text characters
LINE_PX = 21  # height of one band (one line of coloured text)
CHAR_PX = 8.4  # advance of one monospace character at FONT_PX; SVG places each glyph on this grid
COL_PX = 18  # width of a column when prediction strips are shown (text and strip cells alike)
STRIP_FONT_PX = 11
STRIP_ROW_PX = 15
GROUP_GAP_PX = 6  # between display lines when each has several rows
PAD_PX = 12  # around the figure
LEGEND_FONT_PX = 12
LEGEND_ROW_PX = 18
SWATCHES = 32  # colour-scale legend: this many cells sampled across the range
SWATCH_PX = 4
SWATCH_H_PX = 12

INK = "#000000"  # text on light backgrounds; palette.text_colour picks white on dark ones
FAINT = "#8a8a8a"  # newline and tab markers, so they do not read as text
MUTED = "#555555"  # labels, legend and caption
PAPER = "#ffffff"
HIT_INK = "#1d2430"  # outline of the guess that was the true next character
MISS_PAPER = "#f1f1f1"  # a true next character that no guess named, with a red line above it
MISS_LINE = "#bb0000"
MARK_PX = 1.5  # width of the outline and of the miss line

# The dashboard's character view at its widest: .lv-app's max-width of 1400 px less its padding
# (2 x 16), the view's border (2) and what assets/lstmviz.js keeps clear (2 x PAD_PX + 2). Exports
# wrap where that view wraps, so a figure is as wide as the screen it was looked at on.
VIEW_PX = 1340
MIN_COLUMNS = 10  # the narrowest the view draws (lstmviz.js), and the narrowest export

_FIXED_MARKS = {"\n": "↵", "\t": "⇥", "\r": "␍"}
_FLOW_MARKS = {"\n": "↵", "\r": "␍"}  # in flowing text a tab stays a tab, so code keeps its indent
_STRIP_MARKS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


# Unicode's Bidi_Control characters: invisible, yet they reorder the characters after them, so a
# figure would show its text (and its colours) in another order than the model read it.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BIDI_MARK = "⇄"


def _printable(ch: str) -> str:
    """One glyph for any character that would not show, or not be valid in HTML/XML, as itself.

    >>> _printable("\u202e"), _printable("é")
    ('⇄', 'é')
    """
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures ␀..␟
    if code == 0x7F:
        return "␡"
    if ch in BIDI_CONTROLS:
        return BIDI_MARK
    if unicodedata.category(ch) in ("Cc", "Cs") or code in (0xFFFE, 0xFFFF):
        return "\ufffd"  # C1 controls, lone surrogates, and the two characters XML forbids
    return ch


def cell_text(char: str, fixed: bool) -> tuple[str, bool]:
    r"""The text a character cell shows, and whether it is a faint marker rather than text.

    ``fixed`` is true when cells have a fixed width (strips, SVG): a tab then shows as ``⇥``;
    in flowing text it stays a tab so indented code keeps its shape. A newline always shows as
    a faint ``↵`` at the end of its line, so its colour is visible.

    >>> cell_text("a", False), cell_text("\n", False), cell_text("\t", True)
    (('a', False), ('↵', True), ('⇥', True))
    """
    marks = _FIXED_MARKS if fixed else _FLOW_MARKS
    if char in marks:
        return marks[char], True
    if len(char) == 1 and char not in " \t" and _printable(char) != char:
        return _printable(char), True
    return char, False


def strip_text(symbol: str, byte_level: bool = False) -> str:
    r"""The single glyph a prediction cell shows for a vocabulary symbol.

    Whitespace shows as ``␣ ↵ ⇥`` (like ``Vocab.visible``), but always one glyph so cells stay
    one column wide; a non-ASCII byte of a byte-level vocabulary, not a character, shows as ``·``.

    >>> strip_text(" "), strip_text("\x01"), strip_text("\xc3", byte_level=True)
    ('␣', '␁', '·')
    """
    if symbol in _STRIP_MARKS:
        return _STRIP_MARKS[symbol]
    if byte_level and len(symbol) == 1 and ord(symbol) >= 0x80:
        return "·"
    return "".join(_printable(ch) for ch in symbol)


def quantity(kind: str, raw_c: bool = False) -> str:
    """What the colour of a kind of activation shows, for legends.

    >>> quantity("c"), quantity("c", raw_c=True), quantity("gates.f")
    ('tanh(c)', 'c', 'forget gate')
    """
    return KINDS[kind].shown(raw=raw_c)


def tick(value: float) -> str:
    """A legend's end label: three significant digits.

    >>> tick(-1.0), tick(23.4567)
    ('-1', '23.5')
    """
    return f"{value:.3g}"


def label_columns(names: list[str]) -> int:
    """Width, in characters, of the labels left of the bands: none for one neuron.

    >>> label_columns(["layer1.c.3"]), label_columns(["layer1.c.3", "layer0.h.10"])
    (0, 12)
    """
    return max(map(len, names)) + 1 if len(names) > 1 else 0


def screen_columns(strips: bool, label: int = 0) -> int:
    """Characters per line of the dashboard's view at its widest, and so of an export by default.

    ``label`` is the width of the neurons' labels (:func:`label_columns`), which take their room
    from the text's.

    >>> screen_columns(True), screen_columns(False), screen_columns(True, label=12)
    (74, 159, 68)
    """
    return max(MIN_COLUMNS, int((VIEW_PX - label * CHAR_PX) // (COL_PX if strips else CHAR_PX)))


NO_VALUE = "kx"  # the class of a cell with no value (NaN or infinity): paper white


_TABLES = {"p": "strip", "d": "delta"}  # colour tables by class letter; "k" is the figure's palette


def colour_class(table: str, index: int) -> str:
    """The class of entry ``index`` of a colour table: ``"k"`` the figure's palette, ``"p"`` the strips'.

    ``"d"`` is the diverging scale of a change of loss (:data:`lstmviz.render.palette.DELTA`).

    A figure uses one palette, so the entry number alone names its colour; -1 (no value) is
    :data:`NO_VALUE`.

    >>> colour_class("k", 57), colour_class("p", 0), colour_class("k", -1)
    ('k57', 'p0', 'kx')
    """
    return NO_VALUE if index < 0 else f"{table}{index}"


def class_colour(cls: str, palette: str) -> str:
    """The ``#rrggbb`` a colour class stands for in a figure of ``palette``.

    >>> class_colour("k0", "blog"), class_colour("p255", "blog"), class_colour("kx", "blog")
    ('#3a75c4', '#d62728', '#ffffff')
    """
    if cls == NO_VALUE:
        return PAPER
    return lut(_TABLES.get(cls[0], palette))[int(cls[1:])]


def colour_rules(scope: str, palette: str, classes: set[str], *, svg: bool = False) -> list[str]:
    """One rule per colour class a figure uses, under ``scope``, in a fixed order.

    HTML rules set the background and, on dark colours, white text; SVG rules set the fill of a
    cell's rectangle (its glyph's colour is the ``w`` class, see :func:`svg_rules`).

    >>> colour_rules(".lv-x", "blog", {"k0", "kx"})
    ['.lv-x .k0{background:#3a75c4;color:#fff}', '.lv-x .kx{background:#ffffff}']
    """
    rules = []
    for cls in sorted(classes, key=lambda c: (c[0], c == NO_VALUE, int(c[1:]) if c != NO_VALUE else 0)):
        colour = class_colour(cls, palette)
        if svg:
            rules.append(f"{scope} .{cls}{{fill:{colour}}}")
            continue
        ink = "" if text_colour(colour) == INK else ";color:#fff"
        rules.append(f"{scope} .{cls}{{background:{colour}{ink}}}")
    return rules


def svg_rules(scope: str) -> list[str]:
    """The classes of an SVG figure other than colours: glyph inks, the outline, the misses."""
    s = scope
    return [
        f"{s} .w{{fill:{PAPER}}}",
        f"{s} .f{{fill:{FAINT}}}",
        f"{s} .b{{font-weight:bold}}",
        f"{s} .lv-hit{{fill:none;stroke:{HIT_INK};stroke-width:{MARK_PX}}}",
        f"{s} .lv-miss{{fill:{MISS_PAPER}}}",
        f"{s} .lv-miss-line{{fill:{MISS_LINE}}}",
    ]


def stylesheet(scope: str) -> str:
    """The CSS of a figure, every rule under the selector ``scope`` so it cannot touch a host page.

    Colours are not here: an export adds a rule per colour it uses (:func:`colour_rules`), the
    dashboard an inline style per cell. Margins, padding and fonts are set explicitly on the
    figure's elements so that a host page's generic rules (``span {padding: 4px}``) cannot
    reshape it either. A character is any ``<span>`` of a band, a guess any ``<span>`` of a strip,
    but the label naming the band's neuron.

    >>> stylesheet(".lv-demo").startswith(".lv-demo{")
    True
    """
    s = scope
    cell = ":not(.lv-label)"
    mark = f"{MARK_PX}px"
    rules = [
        f"{s}{{display:block;margin:0 0 16px;padding:{PAD_PX}px;border:0;background:{PAPER};"
        f"color:{INK};font-family:{FONT_STACK};font-size:{FONT_PX}px;line-height:{LINE_PX}px;"
        "font-style:normal;font-weight:normal;text-align:left;white-space:normal;overflow-x:auto;"
        "box-sizing:border-box;max-width:100%}",
        f"{s} div,{s} span{{margin:0;padding:0;border:0;box-sizing:border-box;background:transparent;"
        "font:inherit;color:inherit;white-space:inherit;text-align:inherit;letter-spacing:0;"
        "word-spacing:0;text-transform:none;text-indent:0;text-decoration:none;"
        "vertical-align:baseline;float:none;position:static;width:auto;height:auto;box-shadow:none}",
        f"{s} div{{display:block}}",
        f"{s} span{{display:inline}}",
        f"{s} .lv-band{{display:block;white-space:pre;tab-size:4;height:{LINE_PX}px}}",
        f"{s} .lv-gap .lv-group{{margin-bottom:{GROUP_GAP_PX}px}}",
        f"{s} .lv-ws{{color:{FAINT}}}",
        f"{s} .lv-label{{display:inline-block;vertical-align:top;font-size:{FONT_PX}px;color:{MUTED}}}",
        f"{s} .lv-strip .lv-label{{height:{STRIP_ROW_PX}px}}",
        f"{s} .lv-grid .lv-band>span{cell},{s} .lv-strip>span{cell},{s} .lv-scale-note>span{{"
        f"display:inline-block;width:{COL_PX}px;text-align:center;vertical-align:top;overflow:hidden}}",
        f"{s} .lv-grid .lv-band>span{cell}{{height:{LINE_PX}px}}",
        f"{s} .lv-strip{{display:block;white-space:pre;height:{STRIP_ROW_PX}px;"
        f"line-height:{STRIP_ROW_PX}px;font-size:{STRIP_FONT_PX}px}}",
        f"{s} .lv-strip>span{cell},{s} .lv-scale-note>span{{height:{STRIP_ROW_PX}px;"
        f"line-height:{STRIP_ROW_PX}px;font-size:{STRIP_FONT_PX}px}}",
        f"{s} .lv-hit{{font-weight:bold;box-shadow:inset 0 0 0 {mark} {HIT_INK}}}",
        f"{s} .lv-miss{{background:{MISS_PAPER};box-shadow:inset 0 {mark} 0 {MISS_LINE};color:{HIT_INK}}}",
        f"{s} .lv-title{{display:block;margin-bottom:8px;font-family:{LABEL_FONT_STACK};"
        "font-size:16px;line-height:22px;font-weight:bold}",
        f"{s} .lv-legend,{s} .lv-caption{{display:block;margin-top:8px;font-family:{LABEL_FONT_STACK};"
        f"font-size:{LEGEND_FONT_PX}px;line-height:{LEGEND_ROW_PX}px;color:{MUTED}}}",
        f"{s} .lv-key{{display:inline-block;width:{SWATCH_PX}px;height:{SWATCH_H_PX}px;"
        "vertical-align:middle}",
    ]
    return "\n".join(rules)
