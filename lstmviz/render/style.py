"""The one definition of how coloured text looks, shared by the dashboard and every export.

The figures are those of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks"
(2015): text in a monospace font, each character's background coloured by one LSTM cell, and
optionally, beneath each character, the model's top-5 guesses for the next one shaded by
probability. Colours come from :mod:`lstmviz.render.palette`; geometry, CSS, class names and the glyph
shown for each symbol come from here, so the dashboard (``app/``) and the exported snippets
(:mod:`lstmviz.render.html`, :mod:`lstmviz.render.svg`) cannot drift apart.

Stable class names (a browser test compares the dashboard and an export through them)::

    lv-snippet  the whole figure; also carries the scope class its stylesheet is written for
    lv-group    one display line: a band per neuron, then the prediction strips
    lv-band     characters coloured by one neuron; data-neuron="layer1.c.117"
    lv-ch       one character; data-i = its position in the file, inline background-color
    lv-ws       a character drawn as a faint marker (newline, tab in a grid, control symbol)
    lv-strip    one row of prediction cells; data-rank = 1..5
    lv-p        one prediction cell; inline background-color shaded by probability
    lv-grid     on the text container when cells have a fixed width (strips shown)
    lv-gap      on the text container when display lines need a gap (strips or several neurons)
    lv-label    a band's neuron name, left of it, when a figure shows several neurons
    lv-scale    one row of the legend: a name, the low end, SWATCHES lv-key cells, the high end
    lv-title, lv-legend, lv-caption   the figure's title, colour scales and caption
"""

from __future__ import annotations

import unicodedata

from lstmviz.kinds import KINDS

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


def stylesheet(scope: str) -> str:
    """The CSS of a figure, every rule under the selector ``scope`` so it cannot touch a host page.

    Colours are not here: each cell carries its own ``background-color`` inline. Margins, padding
    and fonts are set explicitly on the figure's elements so that a host page's generic rules
    (``span {padding: 4px}``) cannot reshape it either.

    >>> stylesheet(".lv-demo").startswith(".lv-demo{")
    True
    """
    s = scope
    rules = [
        f"{s}{{display:block;margin:0 0 16px;padding:{PAD_PX}px;border:0;background:{PAPER};"
        f"color:{INK};font-family:{FONT_STACK};font-size:{FONT_PX}px;line-height:{LINE_PX}px;"
        "font-style:normal;font-weight:normal;text-align:left;white-space:normal;overflow-x:auto;"
        "box-sizing:border-box;max-width:100%}",
        f"{s} div,{s} span{{margin:0;padding:0;border:0;box-sizing:border-box;background:transparent;"
        "font:inherit;color:inherit;white-space:inherit;text-align:inherit;letter-spacing:0;"
        "word-spacing:0;text-transform:none;text-indent:0;text-decoration:none;"
        "vertical-align:baseline;float:none;position:static;width:auto;height:auto}",
        f"{s} div{{display:block}}",
        f"{s} span{{display:inline}}",
        f"{s} .lv-band{{display:block;white-space:pre;tab-size:4;height:{LINE_PX}px}}",
        f"{s} .lv-gap .lv-group{{margin-bottom:{GROUP_GAP_PX}px}}",
        f"{s} .lv-ch{{color:{INK}}}",
        f"{s} .lv-ws{{color:{FAINT}}}",
        f"{s} .lv-label{{display:inline-block;vertical-align:top;font-size:{FONT_PX}px;color:{MUTED}}}",
        f"{s} .lv-strip .lv-label{{height:{STRIP_ROW_PX}px}}",
        f"{s} .lv-grid .lv-ch,{s} .lv-p{{display:inline-block;width:{COL_PX}px;text-align:center;"
        "vertical-align:top;overflow:hidden}",
        f"{s} .lv-grid .lv-ch{{height:{LINE_PX}px}}",
        f"{s} .lv-strip{{display:block;white-space:pre;height:{STRIP_ROW_PX}px;"
        f"line-height:{STRIP_ROW_PX}px;font-size:{STRIP_FONT_PX}px}}",
        f"{s} .lv-p{{height:{STRIP_ROW_PX}px;color:{INK}}}",
        f"{s} .lv-title{{display:block;margin-bottom:8px;font-family:{LABEL_FONT_STACK};"
        "font-size:16px;line-height:22px;font-weight:bold}",
        f"{s} .lv-legend,{s} .lv-caption{{display:block;margin-top:8px;font-family:{LABEL_FONT_STACK};"
        f"font-size:{LEGEND_FONT_PX}px;line-height:{LEGEND_ROW_PX}px;color:{MUTED}}}",
        f"{s} .lv-key{{display:inline-block;width:{SWATCH_PX}px;height:{SWATCH_H_PX}px;"
        "vertical-align:middle}",
    ]
    return "\n".join(rules)
