"""The rules of the built-in hypotheses that read every text alike.

Quotes, URLs, wiki links and templates, tags, brackets, lines and words; and the comments and
strings of code where no language is recognised (the rules ``comment`` and ``string`` had before
they knew languages). The rules that depend on a language are in :mod:`lstmviz.search.syntax`.
All follow the alignment rule of :mod:`lstmviz.search.hypotheses`; ``docs/search.md`` has each
definition with examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from lstmviz.search.syntax import clamped_depth, codes, regions

# --- building blocks -------------------------------------------------------------------------------


def delimited(symbols: str, pattern: re.Pattern, open_len: Callable[[re.Match], int],
              closed: Callable[[re.Match], bool]) -> np.ndarray:
    """Inside each match: from the last char of its opening delimiter to before its closing one's last."""
    starts, stops = [], []
    for m in pattern.finditer(symbols):
        starts.append(m.start() + open_len(m) - 1)
        stops.append(m.end() - 1 if closed(m) else m.end())
    return regions(len(symbols), starts, stops)


def depth(symbols: str, opens: str, closes: str) -> np.ndarray:
    """Nesting depth of the brackets ``opens``/``closes`` (pairwise), never below 0.

    >>> depth("f(a)b", "(", ")").tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    c = codes(symbols)
    delta = np.isin(c, [ord(x) for x in opens]).astype(np.int64)
    delta -= np.isin(c, [ord(x) for x in closes])
    return clamped_depth(delta)


def pair_depth(symbols: str, opener: str, closer: str) -> np.ndarray:
    """Inside nested two-character delimiters such as ``[[ … ]]``: depth > 0 after each symbol."""
    delta = np.zeros(len(symbols), dtype=np.int64)
    for m in re.finditer(re.escape(opener) + "|" + re.escape(closer), symbols):
        delta[m.end() - 1] += 1 if m.group() == opener else -1
    return clamped_depth(delta) > 0



# Curly quotes as characters, and as their UTF-8 bytes for byte-level vocabularies.
_LEFT_CURLY = ("\u201c", "\u201c".encode().decode("latin-1"))
RIGHT_CURLY = ("\u201d", "\u201d".encode().decode("latin-1"))
_QUOTE_EVENTS = re.compile("|".join(
    ['"', "&quot;", r"\n[ \t]*\n", *map(re.escape, _LEFT_CURLY + RIGHT_CURLY)]))


def inside_quotes(symbols: str) -> np.ndarray:
    """Inside double quotes in prose: ``"``, ``&quot;`` (toggle), ``“`` (open), ``”`` (close).

    A blank line (paragraph break) closes any open quote, as a quotation running over several
    paragraphs reopens with a new ``"`` on each.
    """
    inside = False
    starts, stops = [], []
    for m in _QUOTE_EVENTS.finditer(symbols):
        tok, at = m.group(), m.end() - 1
        if tok in _LEFT_CURLY:
            new = True
        elif tok in RIGHT_CURLY or tok[0] == "\n":
            new = False
        else:
            new = not inside
        if new and not inside:
            starts.append(at)
        elif inside and not new:
            stops.append(at)
        inside = new
    if inside:
        stops.append(len(symbols))
    return regions(len(symbols), starts, stops)


_CODE = re.compile(
    r"(?P<tq>\"\"\"|''')(?:[\s\S]*?(?P<tqc>(?P=tq))|[\s\S]*)"
    r"|(?P<sq>[\"'])(?:\\[\s\S]|(?!(?P=sq))[^\\\n])*(?P<sqc>(?P=sq))?"
    r"|(?P<bc>/\*)(?:[\s\S]*?(?P<bcc>\*/)|[\s\S]*)"
    r"|(?P<lc>(?<!:)//|#)[^\n]*"
)


def _code_regions(symbols: str, kind: str) -> np.ndarray:
    """Strings or comments of code, found by one left-to-right scan so each hides the other."""
    starts, stops = [], []
    for m in _CODE.finditer(symbols):
        if kind == "string" and (m["tq"] or m["sq"]):
            opener, closed = (m["tq"], m["tqc"]) if m["tq"] else (m["sq"], m["sqc"])
        elif kind == "comment" and (m["bc"] or m["lc"]):
            opener, closed = (m["bc"], m["bcc"]) if m["bc"] else (m["lc"], None)
        else:
            continue
        starts.append(m.start() + len(opener) - 1)
        stops.append(m.end() - 1 if closed else m.end())
    return regions(len(symbols), starts, stops)


def string_literal(symbols: str) -> np.ndarray:
    """Inside a string literal in code: quoted by ``"``, ``'`` or tripled; escapes respected."""
    return _code_regions(symbols, "string")


def comment(symbols: str) -> np.ndarray:
    """Inside a comment in code: ``/* … */``, ``// …`` or ``# …`` to the end of the line."""
    return _code_regions(symbols, "comment")


_URL = re.compile(
    r"(?P<prefix>https?://|www\.)(?:(?!&(?:quot|lt|gt|#\d+);)[^\s<>\"\[\]{}|\\^`])*(?<![.,;:!?'])"
)


def url(symbols: str) -> np.ndarray:
    """Inside a URL: from the end of ``http://``, ``https://`` or ``www.`` to the delimiter."""
    return delimited(symbols, _URL, lambda m: len(m["prefix"]), lambda m: False)


_TAG = re.compile(r"<[/!?]?[A-Za-z][^<>]*>|&lt;[/!?]?[A-Za-z](?:(?!&lt;)[^\n])*?&gt;")


def tag(symbols: str) -> np.ndarray:
    """Inside an XML/HTML tag: ``<…>`` or its escaped form ``&lt;…&gt;`` (a name must follow)."""
    return delimited(symbols, _TAG, lambda m: 1 if m.group()[0] == "<" else 4, lambda m: True)


def column(symbols: str) -> np.ndarray:
    """Symbols read since the last newline: 1 for a line's first symbol, 0 for the newline itself."""
    c = codes(symbols)
    idx = np.arange(len(c), dtype=np.int64)
    last_nl = np.maximum.accumulate(np.where(c == 10, idx, -1))
    return (idx - last_nl).astype(np.float32)


def to_line_end(symbols: str) -> np.ndarray:
    """Symbols left until the end of the line: 0 on the newline, 1 on the symbol before it."""
    c = codes(symbols)
    n = len(c)
    idx = np.arange(n, dtype=np.int64)
    nxt = np.minimum.accumulate(np.where(c == 10, idx, n)[::-1])[::-1]
    return (nxt - idx).astype(np.float32)


def indentation(symbols: str) -> np.ndarray:
    """Leading spaces and tabs (each counts 1) of the line a symbol is on; a newline ends its line."""
    c = codes(symbols)
    if len(c) == 0:
        return np.zeros(0, np.float32)
    idx = np.arange(len(c), dtype=np.int64)
    is_nl = c == 10
    line_id = np.r_[0, np.cumsum(is_nl[:-1])]  # newlines before each symbol
    line_start = np.r_[0, np.maximum.accumulate(np.where(is_nl, idx + 1, 0))[:-1]]
    blank = (c == 32) | (c == 9)
    last_other = np.maximum.accumulate(np.where(blank, -1, idx))  # last non-blank (newlines too)
    leading = blank & (last_other < line_start)
    per_line = np.bincount(line_id, weights=leading, minlength=int(line_id[-1]) + 1)
    return per_line[line_id].astype(np.float32)


def word_position(symbols: str) -> np.ndarray:
    """1-based position within the current word (letters, digits, ``_``, non-ASCII); 0 elsewhere."""
    c = codes(symbols)
    lower = c | 32  # ASCII letters folded to lower case
    word = (c >= 128) | (c == 95) | ((c >= 48) & (c <= 57)) | ((lower >= 97) & (lower <= 122))
    idx = np.arange(len(c), dtype=np.int64)
    last_break = np.maximum.accumulate(np.where(~word, idx, -1))
    return np.where(word, idx - last_break, 0).astype(np.float32)


def after_newline(symbols: str) -> np.ndarray:
    """The first symbol of a line: the previous symbol is a newline."""
    c = codes(symbols)
    out = np.zeros(len(c), dtype=bool)
    out[1:] = c[:-1] == 10
    return out
