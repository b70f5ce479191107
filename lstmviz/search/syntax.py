"""Regions of code and markup by the rules of one language: comments, strings, math, headings, ….

Each language is read by one left-to-right scan (:class:`Scanner`): at every position the first
of its token patterns that matches is taken and the scan goes on after it, so a comment marker
inside a string is no comment, a quote inside a comment opens no string, and an escaped ``\\$`` in
LaTeX opens no math. The alignment rule of :mod:`lstmviz.search.hypotheses` holds throughout: a
region opens on the last character of its opener and closes on the last character of its closer,
which is already outside; a region closed by a newline leaves the newline outside.

The exact rules, with examples, are in ``docs/search.md``. Built-in patterns are our own and use
``re``; users' patterns go through RE2 (:mod:`lstmviz.search.patterns`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# --- building blocks ---------------------------------------------------------------------------


def regions(n: int, starts: Sequence[int], stops: Sequence[int]) -> np.ndarray:
    """Boolean mask that is True on [start, stop) for each pair (overlaps merge).

    >>> regions(5, [1], [3]).tolist()
    [False, True, True, False, False]
    """
    d = np.zeros(n + 1, dtype=np.int32)
    np.add.at(d, np.asarray(starts, dtype=np.int64), 1)
    np.add.at(d, np.asarray(stops, dtype=np.int64), -1)
    return np.cumsum(d[:n]) > 0


def marks(mask: np.ndarray) -> str:
    """A mask as a string, ``1`` inside and ``.`` outside, to set under a text (docs and tests).

    >>> marks(np.array([0, 1, 1, 0]))
    '.11.'
    """
    return "".join("1" if v else "." for v in mask)


def codes(symbols: str) -> np.ndarray:
    """Symbols as integer code points (uint32), for vectorised comparisons."""
    return np.frombuffer(symbols.encode("utf-32-le"), dtype=np.uint32)


def clamped_depth(delta: np.ndarray) -> np.ndarray:
    """Running sum of +1/-1 steps that never goes below 0 (an unmatched closer is ignored).

    The clamped walk equals ``S_t - min(0, min_{j<=t} S_j)`` with ``S`` the plain running sum.

    >>> clamped_depth(np.array([1, -1, -1, 1])).tolist()
    [1.0, 0.0, 0.0, 1.0]
    """
    s = np.cumsum(delta, dtype=np.int64)
    return (s - np.minimum(np.minimum.accumulate(s), 0)).astype(np.float32)


@dataclass(frozen=True)
class Token:
    """One match of a scan: its kind, where it starts, where its region is, and whether it closed."""

    kind: str
    start: int
    inside: int  # first position inside: the opener's last character
    stop: int  # first position after the region
    end: int  # the match's end


class Scanner:
    """Token patterns tried in order at each position; the text between tokens is skipped.

    Each alternative is ``(kind, pattern)``. A pattern names its opener ``(?P<o>…)`` and, when it
    has one, its closer ``(?P<c>…)``; other named groups may be used for backreferences. A kind
    of ``""`` consumes text (an escape) without making a region.

    >>> s = Scanner([("str", r'(?P<o>")[^"]*(?P<c>")?'), ("", r"\\\\.")])
    >>> [(t.kind, t.inside, t.stop) for t in s.tokens('a "b" \\\\" c')]
    [('str', 2, 4)]
    """

    def __init__(self, alternatives: Sequence[tuple[str, str]], flags: int = 0):
        self.kinds = [kind for kind, _ in alternatives]
        parts = []
        for k, (_, pattern) in enumerate(alternatives):
            renamed = re.sub(r"\(\?P([<=])(\w+)", rf"(?P\1\2_{k}", pattern)
            parts.append(f"(?P<t_{k}>{renamed})")
        self.regex = re.compile("|".join(parts), flags)
        self.closers = {k for k, (_, p) in enumerate(alternatives) if "(?P<c>" in p}

    def tokens(self, symbols: str) -> list[Token]:
        """Every token with a kind, in order."""
        out = []
        for m in self.regex.finditer(symbols):
            k = int(m.lastgroup[2:])
            if not self.kinds[k]:
                continue
            closed = k in self.closers and m.group(f"c_{k}") is not None
            out.append(Token(self.kinds[k], m.start(), m.end(f"o_{k}") - 1,
                             m.end() - 1 if closed else m.end(), m.end()))
        return out

    def mask(self, symbols: str, kinds: str | Sequence[str]) -> np.ndarray:
        """Inside any token of these kinds."""
        kinds = {kinds} if isinstance(kinds, str) else set(kinds)
        found = [t for t in self.tokens(symbols) if t.kind in kinds]
        return regions(len(symbols), [t.inside for t in found], [t.stop for t in found])


# --- C and C-like code -------------------------------------------------------------------------

_C = Scanner([
    ("comment", r"(?P<o>/\*)[\s\S]*?(?:(?P<c>\*/)|\Z)"),
    ("comment", r"(?P<o>//)(?:[^\n\\]|\\[\s\S])*"),  # a backslash at the end of the line continues it
    ("string", r'(?P<o>")(?:[^"\\\n]|\\[\s\S])*(?P<c>")?'),
    ("char", r"(?P<o>')(?:[^'\\\n]|\\[\s\S])*(?P<c>')?"),
    ("directive", r"^[ \t]*(?P<o>#)"),
], re.M)
_LINE_END = re.compile(r"(?<!\\)\n")  # a newline that no backslash continues


def c_regions(symbols: str, kind: str) -> np.ndarray:
    """C's comments, strings (``"…"``) or character literals (``'x'``), by one scan.

    >>> marks(c_regions("c = 'x'; /* it's */", "char"))
    '....11.............'
    """
    return _C.mask(symbols, kind)


def c_preprocessor(symbols: str) -> np.ndarray:
    """Preprocessor lines: from a ``#`` that starts a line (after blanks) to the end of the line.

    A backslash at the end of a line continues the directive on the next. A ``#`` inside a
    comment or string starts nothing.

    >>> marks(c_preprocessor("#if A \\\\\\n B\\nx"))
    '1111111111..'
    """
    starts, stops = [], []
    for t in _C.tokens(symbols):
        if t.kind == "directive":
            end = _LINE_END.search(symbols, t.inside)
            starts.append(t.inside)
            stops.append(end.start() if end else len(symbols))
    return regions(len(symbols), starts, stops)


# --- Python ------------------------------------------------------------------------------------

_PY = Scanner([
    ("comment", r"(?P<o>#)[^\n]*"),
    ("string", r"(?P<o>(?<!\w)[rRbBuUfF]{0,2}(?P<q>'''|\"\"\"))(?:[^\\]|\\[\s\S])*?(?:(?P<c>(?P=q))|\Z)"),
    ("string", r"(?P<o>(?<!\w)[rRbBuUfF]{0,2}(?P<q>['\"]))(?:(?!(?P=q))[^\\\n]|\\[\s\S])*(?P<c>(?P=q))?"),
])
_PY_HEADER = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)\b", re.M)
_BLANKS = re.compile(r"\s*")
_BRACKETS = str.maketrans({"(": "(", "[": "(", "{": "(", ")": ")", "]": ")", "}": ")"})


def python_regions(symbols: str, kind: str) -> np.ndarray:
    """Python's comments (``#``) or strings (any prefix, ``'``, ``"`` and tripled), by one scan.

    >>> marks(python_regions("x = 'a' # b", "comment"))
    '........111'
    """
    return _PY.mask(symbols, kind)


def python_docstring(symbols: str) -> np.ndarray:
    """Docstrings: a string that is the first statement of the module or of a ``def``/``class`` body.

    Found on the text with strings and comments blanked out: after a ``def``/``class`` header
    (the ``:`` that ends it, at the bracket depth the header started at, so annotations and
    lambdas in defaults do not end it) the next thing but blanks must be a string; for the
    module, the first thing in the text.

    >>> marks(python_docstring('def f(x: int):\\n    "doc"\\n    s = "no"')[15:])
    '....1111.............'
    """
    tokens = _PY.tokens(symbols)
    strings = {t.start: t for t in tokens  # f-strings and bytes are no docstrings
               if t.kind == "string" and not set(symbols[t.start : t.inside]) & set("fFbB")}
    chars = list(symbols)
    for t in tokens:  # comments blank, strings a run of 'S' (their start stays findable)
        fill = "S" if t.kind == "string" else " "
        chars[t.start : t.end] = [c if c == "\n" else fill for c in symbols[t.start : t.end]]
    masked = "".join(chars)
    c = codes(masked.translate(_BRACKETS))
    depth = np.cumsum((c == ord("(")).astype(np.int64) - (c == ord(")")))
    found = []

    def first_after(at: int) -> None:
        after = _BLANKS.match(masked, at).end()
        if after in strings:
            found.append(strings[after])

    first_after(0)
    # Each header's colon: the first ':' after it at the depth it started at, found for all headers
    # at once by a binary search in the colons sorted by (depth, position): a text of many
    # unclosed headers costs no more than a well-formed one.
    n = len(masked) + 1
    colons = np.flatnonzero(c == ord(":"))
    keys = np.sort(depth[colons] * n + colons)
    for header in _PY_HEADER.finditer(masked):
        level = int(depth[header.start() - 1]) if header.start() else 0
        i = int(np.searchsorted(keys, level * n + header.end()))
        if i < len(keys) and keys[i] // n == level:
            first_after(int(keys[i] % n) + 1)
    return regions(len(symbols), [t.inside for t in found], [t.stop for t in found])


# --- shell -------------------------------------------------------------------------------------

_SHELL = Scanner([
    ("comment", r"(?:\A|(?<=[\s;&|()]))(?P<o>#)[^\n]*"),  # only at the start of a word
    ("string", r"(?P<o>\$')(?:[^'\\]|\\[\s\S])*(?P<c>')?"),  # $'…': ANSI-C escapes
    ("string", r"(?P<o>')[^']*(?P<c>')?"),  # '…': no escapes at all
    ("string", r'(?P<o>")(?:[^"\\]|\\[\s\S])*(?P<c>")?'),
    ("", r"\\[\s\S]"),  # \' \" \# outside quotes are plain characters
])


def shell_regions(symbols: str, kind: str) -> np.ndarray:
    """Shell comments (``#`` starting a word) or strings (``'…'``, ``"…"``, ``$'…'``), by one scan.

    >>> marks(shell_regions("echo $# 'a#b' # c", "comment"))
    '..............111'
    """
    return _SHELL.mask(symbols, kind)


# --- LaTeX -------------------------------------------------------------------------------------

MATH_ENVIRONMENTS = ("equation", "align", "alignat", "flalign", "gather", "multline", "eqnarray",
                     "displaymath", "math")
_LATEX = Scanner([
    ("comment", r"(?P<o>%)[^\n]*"),
    ("math", r"(?P<o>\\begin\{(?P<e>" + "|".join(MATH_ENVIRONMENTS) + r")(?P<s>\*?)\})[\s\S]*?"
             r"(?:(?P<c>\\end\{(?P=e)(?P=s)\})|\Z)"),
    ("math", r"(?P<o>\\\[)[\s\S]*?(?:(?P<c>\\\])|\Z)"),
    ("math", r"(?P<o>\\\()[\s\S]*?(?:(?P<c>\\\))|\Z)"),
    ("math", r"(?P<o>\$\$)(?:\\[\s\S]|[^$\\])*(?P<c>\$\$)?"),
    ("math", r"(?P<o>\$)(?:\\[\s\S]|[^$\\\n]|\n(?![ \t]*\n))*(?P<c>\$)?"),  # a blank line ends it
    ("", r"\\[^A-Za-z]"),  # \$ \% \\ and the like
])
_LATEX_ENVIRONMENTS = Scanner([
    ("comment", r"(?P<o>%)[^\n]*"),
    ("begin", r"(?P<o>\\begin[ \t]*\{[^{}\n]*\})"),
    ("end", r"(?P<o>\\end[ \t]*\{[^{}\n]*\})"),
    ("", r"\\[^A-Za-z]"),
])


def latex_regions(symbols: str, kind: str) -> np.ndarray:
    """LaTeX comments (``%`` to the line end) or math, by one scan.

    Math: ``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]`` and the :data:`MATH_ENVIRONMENTS` (starred
    too). An inline ``$`` left open ends at a blank line, as TeX ends it with an error.

    >>> marks(latex_regions(r"a $x$ \\$ b", "math"))
    '..11......'
    """
    return _LATEX.mask(symbols, kind)


def latex_environment_depth(symbols: str) -> np.ndarray:
    """Open environments: +1 on the ``}`` of ``\\begin{…}``, -1 on the ``}`` of ``\\end{…}`` (never < 0).

    >>> latex_environment_depth(r"\\begin{a}x\\end{a}").astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    """
    delta = np.zeros(len(symbols), dtype=np.int64)
    for t in _LATEX_ENVIRONMENTS.tokens(symbols):
        if t.kind in ("begin", "end"):
            delta[t.end - 1] += 1 if t.kind == "begin" else -1
    return clamped_depth(delta)


# --- markup: HTML and XML, wiki, Markdown ------------------------------------------------------

_MARKUP = Scanner([
    ("comment", r"(?P<o><!--)[\s\S]*?(?:(?P<c>-->)|\Z)"),
    ("comment", r"(?P<o>&lt;!--)[\s\S]*?(?:(?P<c>--&gt;)|\Z)"),  # as dumps of wiki markup escape it
])
_TAG = re.compile(r"<[A-Za-z/?!](?:\"[^\"]*\"|'[^']*'|[^'\">])*>?")
_ATTRIBUTE = re.compile(r"(?P<o>[\"'])(?:(?!(?P=o))[\s\S])*(?P<c>(?P=o))?")


def markup_comments(symbols: str) -> np.ndarray:
    """Comments of HTML, XML and wiki markup: ``<!-- … -->`` and its escaped form ``&lt;!-- … --&gt;``.

    >>> marks(markup_comments("a<!--b-->c"))
    '....1111..'
    """
    return _MARKUP.mask(symbols, "comment")


def html_attribute_values(symbols: str) -> np.ndarray:
    """Quoted attribute values inside tags: ``<a href="…">``; comments hide tags.

    >>> marks(html_attribute_values('<a b="c">"d"'))
    '.....11.....'
    """
    hidden = markup_comments(symbols)
    starts, stops = [], []
    for tag in _TAG.finditer(symbols):
        if hidden[tag.start()]:
            continue
        for m in _ATTRIBUTE.finditer(symbols, tag.start(), tag.end()):
            starts.append(m.start())
            stops.append(m.end() - 1 if m.group("c") else m.end())
    return regions(len(symbols), starts, stops)


_WIKI_HEADING = re.compile(r"^(?P<o>=)[^\n]*=[ \t]*$", re.M)
_MARKDOWN_HEADING = re.compile(r"^ {0,3}(?P<o>#)#{0,5}(?:[ \t][^\n]*)?$", re.M)
_FENCE = re.compile(r"^ {0,3}(?P<f>```|~~~)[^\n]*$", re.M)


def headings(symbols: str, style: str) -> np.ndarray:
    """Heading lines, from their first ``=`` (wiki) or ``#`` (Markdown) to the end of the line.

    Wiki: a line that starts with ``=`` and ends with ``=`` (trailing blanks allowed). Markdown:
    1 to 6 ``#`` after at most 3 spaces, then a blank or the line's end, outside fenced code
    blocks (between ````` ``` ````` or ``~~~`` lines, where a ``#`` line is a shell comment). Only
    ATX headings: a setext heading is known only at its underline.

    >>> marks(headings("== A ==\\nb", "wiki"))
    '1111111..'
    >>> marks(headings("# A\\n```\\n# b\\n```", "markdown"))
    '111............'
    """
    if style == "wiki":
        found = list(_WIKI_HEADING.finditer(symbols))
    else:
        fenced = np.zeros(len(symbols) + 1, dtype=np.int32)
        opened = None
        for m in _FENCE.finditer(symbols):
            if opened is None:
                opened = m
            elif m["f"] == opened["f"]:
                fenced[opened.start()] += 1
                fenced[m.end()] -= 1
                opened = None
        if opened is not None:
            fenced[opened.start()] += 1  # an unclosed fence runs to the end
        inside = np.cumsum(fenced) > 0
        found = [m for m in _MARKDOWN_HEADING.finditer(symbols) if not inside[m.start()]]
    return regions(len(symbols), [m.start("o") for m in found], [m.end() for m in found])
