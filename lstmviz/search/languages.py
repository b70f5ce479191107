"""The language of a text, from a few cheap signals, for the hypotheses whose rules depend on it.

``comment`` means ``/* … */`` in C, ``#`` in Python and shell, ``%`` in LaTeX and ``<!-- … -->``
in HTML and wiki markup; C's ``'x'`` is a character, Python's ``'x'`` a string. So the code
hypotheses (:mod:`lstmviz.search.syntax`) read a text by its language, which is detected here
unless the user names it.

Detection counts, over the first :data:`SAMPLE` symbols, the signals of each language (regular
expressions, one pass each; a line is one line of the text):

* ``c``: preprocessor lines (``#include``, ``#define``, ``#if…``, ``#endif``, …) count 3, ``/*``
  counts 1, a line ending in ``;``, ``{`` or ``}`` counts 1;
* ``python``: a ``def``/``class`` header or an ``import``/``from … import`` line counts 3, any
  other line ending in ``:`` counts 1;
* ``shell``: a ``#!`` line naming sh, bash, zsh, ksh or dash counts 20; a line starting with
  ``if then elif else fi for while do done case esac echo export local set`` counts 1, and so does
  each ``$name``, ``${`` and ``$(``;
* ``latex``: each of the common commands ``\\begin``, ``\\end``, ``\\section`` (and sub-),
  ``\\chapter``, ``\\usepackage``, ``\\documentclass``, ``\\item``, ``\\label``, ``\\ref``,
  ``\\cite``, ``\\emph``, ``\\textbf``, ``\\newcommand`` (``re``-, ``provide``-),
  ``\\newenvironment``, ``\\RequirePackage``, ``\\ProvidesPackage``, ``\\makeatletter``, ``\\title``,
  ``\\author``, ``\\maketitle``, ``\\footnote``, ``\\frac``, ``\\mathrm``, ``\\caption``,
  ``\\includegraphics`` and ``\\def\\`` counts 2;
* ``html``: each tag ``<name …>`` or ``</name>`` counts 1, ``<!DOCTYPE`` or ``<?xml`` 20;
* ``wiki`` (MediaWiki markup): each ``[[`` and ``{{`` counts 1, a heading line ``== … ==``
  counts 3 (escaped tags such as ``&lt;ref&gt;`` count 1: dumps of wiki markup escape them).

The language with the highest count per line wins if that is at least :data:`MIN_PER_LINE` and
comes from at least :data:`MIN_HITS` signals; otherwise the text is ``prose``. The evidence is
kept, so the caller can show why (``detected: 41 preprocessor lines, 12 /* …``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lstmviz.errors import SearchError

LANGUAGES: dict[str, str] = {
    "c": "C and C-like code (C++, Java, JavaScript, Go, Rust)",
    "python": "Python",
    "shell": "shell scripts (sh, bash)",
    "latex": "LaTeX",
    "html": "HTML and XML",
    "wiki": "MediaWiki markup",
    "prose": "prose and Markdown (also what no signal fits)",
}
SAMPLE = 1 << 20  # symbols read for detection: enough for any signal, cheap on any file
MIN_PER_LINE = 0.05
MIN_HITS = 3


@dataclass(frozen=True)
class _Signal:
    language: str
    label: str  # what one hit is, for the evidence: "preprocessor lines"
    weight: float
    pattern: re.Pattern


_SIGNALS = [
    _Signal("c", "preprocessor lines", 3, re.compile(
        r"^[ \t]*#[ \t]*(?:include|define|undef|ifn?def|if|elif|else|endif|pragma|error)\b", re.M)),
    _Signal("c", "/* comments", 1, re.compile(r"/\*")),
    _Signal("c", "lines ending in ; { or }", 1, re.compile(r"[;{}][ \t]*$", re.M)),
    _Signal("python", "def or class lines", 3, re.compile(
        r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*[(:]", re.M)),
    _Signal("python", "import lines", 3, re.compile(
        r"^(?:import[ \t]+\w|from[ \t]+[\w.]+[ \t]+import\b)", re.M)),
    _Signal("python", "other lines ending in :", 1, re.compile(
        r"^(?![ \t]*(?:async[ \t]+)?(?:def|class)\b).*:[ \t]*$", re.M)),
    _Signal("shell", "#! lines naming a shell", 20, re.compile(r"\A#![^\n]*\b(?:sh|bash|zsh|ksh|dash)\b")),
    _Signal("shell", "shell keyword lines", 1, re.compile(
        r"^[ \t]*(?:if|then|elif|else|fi|for|while|do|done|case|esac|echo|export|local|set)\b", re.M)),
    _Signal("shell", "$variables", 1, re.compile(r"\$(?:[A-Za-z_]\w*|\{|\()")),
    _Signal("latex", "LaTeX commands", 2, re.compile(
        r"\\(?:begin|end|(?:sub)*section|chapter|usepackage|documentclass|item|label|ref|cite|emph|textbf"
        r"|(?:re|new|provide)command|newenvironment|RequirePackage|ProvidesPackage|makeatletter|title"
        r"|author|maketitle|footnote|frac|mathrm|caption|includegraphics)\b|\\def\\")),
    _Signal("html", "tags", 1, re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:[ \t\n][^<>]*)?>")),
    _Signal("html", "<!DOCTYPE or <?xml", 20, re.compile(r"<!DOCTYPE|<\?xml", re.I)),
    _Signal("wiki", "[[ links", 1, re.compile(r"\[\[")),
    _Signal("wiki", "{{ templates", 1, re.compile(r"\{\{")),
    _Signal("wiki", "== headings ==", 3, re.compile(r"^=+[^=\n].*=[ \t]*$", re.M)),
    _Signal("wiki", "escaped tags", 1, re.compile(r"&lt;/?[A-Za-z]+")),
]


@dataclass(frozen=True)
class Language:
    """The language a text is read in, and why.

    Attributes:
        name: one of :data:`LANGUAGES`.
        given: named by the user (True) or detected (False).
        evidence: the signals that decided, e.g. ``41 preprocessor lines, 12 /* comments``.
    """

    name: str
    given: bool
    evidence: str

    def describe(self) -> str:
        """One line for a table header: ``c (detected: 41 preprocessor lines, …)``."""
        if self.given:
            return f"{self.name} (given)"
        return f"{self.name} (detected: {self.evidence})"


def check_language(name: str) -> str:
    """``name`` if it is a known language, else a :class:`SearchError` listing them.

    >>> check_language("python")
    'python'
    """
    if name not in LANGUAGES:
        raise SearchError(f"unknown language {name!r}; choose one of {', '.join(LANGUAGES)}")
    return name


def detect_language(symbols: str) -> Language:
    """The language of a text by the signals in the module docstring (its first :data:`SAMPLE` symbols).

    >>> detect_language("#include <stdio.h>\\n#define N 3\\nint x;\\n").name
    'c'
    >>> detect_language("It was a truth universally acknowledged.").name
    'prose'
    """
    sample = symbols[:SAMPLE]
    lines = sample.count("\n") + 1
    totals: dict[str, float] = {}
    hits: dict[str, list[tuple[int, str]]] = {}
    for signal in _SIGNALS:
        n = sum(1 for _ in signal.pattern.finditer(sample))
        if n:
            totals[signal.language] = totals.get(signal.language, 0.0) + signal.weight * n
            hits.setdefault(signal.language, []).append((n, signal.label))
    best = max(totals, key=lambda k: (totals[k], k), default=None)
    if best is None or totals[best] / lines < MIN_PER_LINE or sum(n for n, _ in hits[best]) < MIN_HITS:
        strongest = f"; strongest: {best} {totals[best] / lines:.2f} per line" if best else ""
        return Language("prose", False, f"no language's signals reach {MIN_PER_LINE} per line{strongest}")
    evidence = ", ".join(f"{n:,} {label}" for n, label in sorted(hits[best], reverse=True))
    return Language(best, False, evidence)


def resolve_language(symbols: str, lang: str | None) -> Language:
    """The language given (checked), or the one detected in ``symbols``."""
    if lang is not None:
        return Language(check_language(lang), True, "")
    return detect_language(symbols)
