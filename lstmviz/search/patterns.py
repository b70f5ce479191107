"""A user's regular expression, matched by RE2 in time linear in the text, whatever the pattern.

Python's ``re`` backtracks: ``(\\D+)+@@@`` takes time exponential in the length of a run of
non-digits, holds the interpreter lock while it does, and so freezes a dashboard (every request
waits, Ctrl-C is not heard) or a ``lstmviz search`` for minutes. RE2 (Google's matcher, PyPI
``google-re2``) compiles a pattern to an automaton and never backtracks: a search costs time
linear in the text, and it releases the interpreter lock while it runs. It lacks what needs
backtracking (backreferences, lookaround, atomic groups, possessive quantifiers); a pattern that
uses one is refused with a line that names the feature and what to write instead. Syntax:
https://github.com/google/re2/wiki/Syntax; the differences from ``re`` are listed in
``docs/search.md``.

The built-in hypotheses are written by lstmviz, not typed by users, and keep using ``re``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import re2

from lstmviz.errors import SearchError

# (RE2's error message, feature named to the user, what to write instead); the first match wins.
_UNSUPPORTED = [(re.compile(a), b, c) for a, b, c in [
    (r"invalid escape sequence: \\[1-9]", "a backreference (\\1 … \\9)", "write the repeated text out, "
     "e.g. (ab)ab for (ab)\\1, or each case, e.g. \"[^\"]*\"|'[^']*' for ([\"'])[^\"']*\\1"),
    (r"invalid perl operator: \(\?P$", "a named backreference (?P=name)", "write the repeated text out"),
    (r"invalid perl operator: \(\?=", "a lookahead (?=…)", "match the text that follows too (it is "
     "then marked as well), e.g. ab for a(?=b)"),
    (r"invalid perl operator: \(\?!", "a negative lookahead (?!…)", "use a negated class, e.g. q[^u] "
     "for q(?!u)"),
    (r"invalid perl operator: \(\?<=", "a lookbehind (?<=…)", "match the text before too (it is then "
     "marked as well), e.g. ab for (?<=a)b"),
    (r"invalid perl operator: \(\?<!", "a negative lookbehind (?<!…)", "use a negated class, e.g. [^q]u "
     "for (?<!q)u"),
    (r"invalid perl operator: \(\?>", "an atomic group (?>…)", "write (?:…): RE2 never backtracks, so "
     "it is just as fast"),
    (r"invalid perl operator: \(\?\(", "a conditional group (?(…)…|…)", "write the cases out as "
     "alternatives with |"),
    (r"invalid perl operator: \(\?#", "a comment (?#…)", "leave the comment out"),
    (r"invalid perl operator: \(\?", "an inline flag RE2 lacks (it has i, m, s and U)", "use only those, "
     "e.g. (?i)quote"),
    (r"bad repetition operator: .*\+$", "a possessive quantifier (++, *+, ?+)", "drop the last +: RE2 "
     "never backtracks, so a+ is just as fast"),
    (r"invalid escape sequence: \\Z", "\\Z", "write \\z for the end of the text"),
    (r"invalid escape sequence: \\[uUN]", "the escape \\u, \\U or \\N{…}", "write the character "
     "itself, or its code point as \\x{e9}"),
    (r"invalid repetition size: ", "a repetition count over 1000 (nested counts multiply)",
     "use a smaller count, or + or *"),
    (r"pattern too large", "more states than RE2 allows", "use fewer or smaller repetition counts"),
]]


@dataclass(frozen=True)
class Pattern:
    """A compiled user pattern: where it matches in a symbol string.

    Attributes:
        source: the pattern as the user typed it.
        byte_level: the symbol string holds UTF-8 bytes as ``chr(b)`` (a byte vocabulary); the
            pattern's non-ASCII characters then match their UTF-8 bytes.

    >>> compile_pattern("é+").spans("caféé 😀é")  # positions are characters, not UTF-8 bytes
    (array([3, 7]), array([5, 8]))
    """

    source: str
    byte_level: bool
    _regex: re2._Regexp

    def spans(self, symbols: str) -> tuple[np.ndarray, np.ndarray]:
        """Starts and stops ``[start, stop)`` of every non-empty match, in positions of ``symbols``.

        RE2 matches UTF-8 bytes; the offsets it returns are mapped back to characters here, once
        for the whole text, so accented, CJK and emoji text gives the same spans as ``re``.
        """
        if self.byte_level:  # one byte per position, RE2 in Latin-1 mode: offsets are positions
            found = [m.span() for m in self._regex.finditer(symbols.encode("latin-1"))]
            to_position = None
        else:
            data = symbols.encode("utf-8", "surrogatepass")
            found = [m.span() for m in self._regex.finditer(data)]
            lead = (np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80  # first byte of a character
            to_position = np.concatenate([[0], np.cumsum(lead)])  # characters begun before each byte
        spans = np.array([s for s in found if s[1] > s[0]], dtype=np.int64).reshape(-1, 2)
        if to_position is not None:
            spans = np.stack([to_position[spans[:, 0] + 1] - 1, to_position[spans[:, 1]]], axis=1)
        return spans[:, 0], spans[:, 1]


def compile_pattern(pattern: str, *, byte_level: bool = False) -> Pattern:
    """Compile a user's regular expression for RE2, or explain in one line why it cannot be used.

    The line suits both the dashboard and the command line. A pattern Python's ``re`` rejects too
    gets ``re``'s own words (they point at the position); one only RE2 rejects is a feature RE2
    lacks, named with what to write instead.

    Raises:
        SearchError: the pattern is empty, invalid, or uses a feature RE2 lacks.

    >>> compile_pattern("a(?=b)")
    Traceback (most recent call last):
    ...
    lstmviz.errors.SearchError: the pattern 'a(?=b)' uses a lookahead (?=…), which RE2 (the matcher \
that keeps a search linear in the text) does not support; match the text that follows too (it is \
then marked as well), e.g. ab for a(?=b)
    """
    if not pattern:
        raise SearchError("the pattern is empty; give a regular expression, e.g. 'https?://'")
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own complaint on stderr; ours is raised
    if byte_level:
        options.encoding = re2.Options.Encoding.LATIN1
    try:
        return Pattern(pattern, byte_level, re2.compile(pattern.encode("utf-8"), options))
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if isinstance(e.args[0], bytes) else str(e)
    try:
        re.compile(pattern)
    except re.error as e:
        raise SearchError(f"the pattern {pattern!r} is not a valid regular expression ({e}); "
                          "fix it, e.g. escape special characters with a backslash") from None
    feature, instead = next(((f, i) for said, f, i in _UNSUPPORTED if said.match(reason)),
                            (f"what RE2 calls {reason!r}", "see docs/search.md for the syntax"))
    raise SearchError(f"the pattern {pattern!r} uses {feature}, which RE2 (the matcher that keeps a "
                      f"search linear in the text) does not support; {instead}")
