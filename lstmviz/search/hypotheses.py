"""Hypotheses about text: a value per position that a cell might track (inside quotes, bracket depth, …).

A hypothesis is a function of the text alone. It reads a *symbol string*, one character per position
of the extraction (the text itself for character vocabularies, its UTF-8 bytes as ``chr(b)`` for byte
vocabularies), and returns one value per position, so its values line up 1:1 with the activations.

Alignment rule, used by every built-in: the value at position ``t`` is the state *after reading* the
symbol at ``t``, which is what an LSTM's ``h_t``/``c_t`` can know. So a region opens on the last
character of its opening delimiter (``"`` itself, the second ``[`` of ``[[``, the ``;`` of
``&quot;``) and closes on the last character of its closing delimiter, which is already outside.
Exact definitions, with examples, are in ``docs/search.md``; the unit tests check each on small texts.

Languages: ``comment`` is ``/* … */`` in C but ``#`` in Python, and C's ``'x'`` is a character where
Python's is a string. A built-in whose rules depend on the language has one :class:`Variant` per
language (:mod:`lstmviz.search.syntax` holds the rules); :func:`bind` picks the variant of the text's
language, detected (:mod:`lstmviz.search.languages`) or given. A built-in for other languages only
(``preprocessor`` asked of prose) is refused with a line that says so, rather than scored as a
column that is false everywhere. Each variant has its own cache key (``comment-c``); the variant
for prose keeps the rules and key the name had before languages, so results cached then still
open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lstmviz.errors import SearchError
from lstmviz.search import rules, syntax
from lstmviz.search.languages import LANGUAGES, SAMPLE, Language, detect_language, resolve_language
from lstmviz.search.patterns import compile_pattern
from lstmviz.search.syntax import regions
from lstmviz.store.checks import check_span

if TYPE_CHECKING:
    from lstmviz.store.reader import States


@dataclass(frozen=True)
class Variant:
    """One language's (or several languages') definition of a built-in hypothesis.

    Attributes:
        languages: where it applies (names from :data:`lstmviz.search.languages.LANGUAGES`).
        description: one line saying exactly what is measured there.
        fn: symbol string -> values, as :attr:`Hypothesis.fn`.
        key: its cache key; the prose variant of ``comment`` and ``string`` keeps the bare name.
    """

    languages: tuple[str, ...]
    description: str
    fn: Callable[[str], np.ndarray]
    key: str


@dataclass(frozen=True)
class Hypothesis:
    """A named function from a symbol string to one value per position.

    Attributes:
        name: short name (the registry key for built-ins).
        description: one line saying exactly what is measured.
        binary: True for inside/outside hypotheses (scored by AUROC), False for numbers (Pearson).
        fn: symbol string -> ``np.ndarray`` of length ``len(symbols)`` (bool or numbers).
        key: identifies the hypothesis in result caches; equal keys must mean equal values.
        closers: the delimiters that can close a region (``&quot;``, ``]]``), longest first where
            one ends another: where a region closes, the model must predict the closer's first
            symbol, which lies inside the region (see :mod:`lstmviz.intervene.causal`). Empty
            where a region ends before a delimiter of one symbol (a URL, a word).
        variants: per-language definitions of a built-in (empty: the same in every language).
            The registry's entry then reads the text's detected language; :meth:`in_language`
            gives one language's hypothesis.
        language: the language a hypothesis was bound to (None: any).

    >>> HYPOTHESES["depth"].fn("a(b(c)d)e").tolist()
    [0.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 0.0, 0.0]
    >>> HYPOTHESES["comment"].in_language("python").cache_key
    'comment-python'
    """

    name: str
    description: str
    binary: bool
    fn: Callable[[str], np.ndarray]
    key: str = ""
    closers: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    language: str | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this hypothesis applies to."""
        if not self.variants:
            return tuple(LANGUAGES)
        return tuple(lang for v in self.variants for lang in v.languages)

    def in_language(self, lang: str) -> Hypothesis | None:
        """This hypothesis as read in ``lang``; None where it does not apply."""
        if not self.variants:
            return self
        for v in self.variants:
            if lang in v.languages:
                return Hypothesis(self.name, v.description, self.binary, v.fn, key=v.key, language=lang,
                                  closers=self.closers)
        return None

    def values(self, symbols: str) -> np.ndarray:
        """The hypothesis on a symbol string, as float32 (0/1 for binary ones)."""
        out = np.asarray(self.fn(symbols))
        if out.shape != (len(symbols),):
            raise ValueError(f"hypothesis {self.name!r} returned shape {out.shape}, not ({len(symbols)},)")
        return out.astype(np.float32)

    @property
    def cache_key(self) -> str:
        """The key under which results are cached (the name for built-ins)."""
        return self.key or self.name


# --- the built-in hypotheses ---------------------------------------------------------------------------


def _builtin(name: str, description: str, binary: bool, fn: Callable[[str], np.ndarray],
             closers: tuple[str, ...] = ()) -> Hypothesis:
    return Hypothesis(name, description, binary, fn, key=name, closers=closers)


def _by_language(name: str, description: str, binary: bool, *variants: Variant,
                 closers: tuple[str, ...] = ()) -> Hypothesis:
    """A built-in with rules per language; on a bare text it reads the text's detected language.

    Where the detected language has no variant, the first variant's rules are used: values can
    always be shown; only scoring (:func:`bind`) refuses a hypothesis of another language.
    """

    def fn(symbols: str) -> np.ndarray:
        lang = detect_language(symbols).name
        chosen = next((v for v in variants if lang in v.languages), variants[0])
        return chosen.fn(symbols)

    return Hypothesis(name, description, binary, fn, key=name, variants=variants, closers=closers)


def _only(language: str, name: str, description: str, binary: bool,
          fn: Callable[[str], np.ndarray]) -> Hypothesis:
    """A built-in of one language."""
    return _by_language(name, description, binary, Variant((language,), description, fn, name))


HYPOTHESES: dict[str, Hypothesis] = {
    h.name: h
    for h in (
        _builtin("quote", 'inside double quotes: "…", &quot;…&quot;, “…” (a blank line closes)',
                 True, rules.inside_quotes, ("&quot;", *rules.RIGHT_CURLY, '"')),
        _by_language(
            "string", "inside a string literal, by the text's language", True,
            Variant(("c",), 'inside a C string "…" (escapes kept; \'x\' is a character)', lambda s:
                    syntax.c_regions(s, "string"), "string-c"),
            Variant(("python",), "inside a Python string: '…', \"…\", tripled, any prefix (escapes kept)",
                    lambda s: syntax.python_regions(s, "string"), "string-python"),
            Variant(("shell",), "inside a shell string: '…' (no escapes), \"…\", $'…'",
                    lambda s: syntax.shell_regions(s, "string"), "string-shell"),
            Variant(("html",), 'inside a quoted attribute value of a tag: <a href="…">',
                    syntax.html_attribute_values, "string-html"),
            Variant(("prose",), "inside a string literal in code ('…', \"…\", triple quotes; escapes "
                    "kept), the language not recognised", rules.string_literal, "string"),
            closers=('"""', "'''", '"', "'"),
        ),
        _builtin("url", "inside a URL (http://, https://, www. up to a space or delimiter)", True,
                 rules.url),
        _builtin("wikilink", "inside a [[ … ]] wiki link", True,
                 lambda s: rules.pair_depth(s, "[[", "]]"), ("]]",)),
        _builtin("template", "inside a {{ … }} template", True, lambda s: rules.pair_depth(s, "{{", "}}"),
                 ("}}",)),
        _builtin("tag", "inside an XML/HTML tag <…> or &lt;…&gt;", True, rules.tag, ("&gt;", ">")),
        _by_language(
            "comment", "inside a comment, by the text's language", True,
            Variant(("c",), "inside a C comment: /* … */, or // to the end of the line",
                    lambda s: syntax.c_regions(s, "comment"), "comment-c"),
            Variant(("python",), "inside a Python comment: # to the end of the line",
                    lambda s: syntax.python_regions(s, "comment"), "comment-python"),
            Variant(("shell",), "inside a shell comment: # starting a word, to the end of the line",
                    lambda s: syntax.shell_regions(s, "comment"), "comment-shell"),
            Variant(("latex",), "inside a LaTeX comment: % to the end of the line (\\% is none)",
                    lambda s: syntax.latex_regions(s, "comment"), "comment-latex"),
            Variant(("html", "wiki"), "inside a markup comment: <!-- … --> or &lt;!-- … --&gt;",
                    syntax.markup_comments, "comment-markup"),
            Variant(("prose",), "inside a code comment (/* */, //, #), the language not recognised",
                    rules.comment, "comment"),
            closers=("*/",),
        ),
        _builtin("after_newline", "the first symbol of a line", True, rules.after_newline),
        _builtin("depth_paren", "nesting depth of ( )", False, lambda s: rules.depth(s, "(", ")")),
        _builtin("depth_square", "nesting depth of [ ]", False, lambda s: rules.depth(s, "[", "]")),
        _builtin("depth_curly", "nesting depth of { }", False, lambda s: rules.depth(s, "{", "}")),
        _builtin("depth", "nesting depth of ( ), [ ] and { } together", False,
                 lambda s: rules.depth(s, "([{", ")]}")),
        _builtin("column", "position in the line (1 = first symbol, newline = 0)", False, rules.column),
        _builtin("line_end", "symbols left until the end of the line (newline = 0)", False,
                 rules.to_line_end),
        _builtin("indent", "indentation of the current line (leading spaces and tabs)", False,
                 rules.indentation),
        _builtin("word_pos", "position within the current word (1 = first letter, 0 outside)", False,
                 rules.word_position),
        _only("c", "preprocessor", "a C preprocessor line: # at the start of a line, to its end "
              "(continued by \\)", True, syntax.c_preprocessor),
        _only("c", "char", "inside a C character literal 'x', '\\n' (escapes kept)", True,
              lambda s: syntax.c_regions(s, "char")),
        _only("python", "docstring", "inside a Python docstring: the string that opens a module, "
              "class or def", True, syntax.python_docstring),
        _only("latex", "math", "inside LaTeX math: $…$, $$…$$, \\(…\\), \\[…\\], equation, align, …",
              True, lambda s: syntax.latex_regions(s, "math")),
        _only("latex", "depth_env", "LaTeX environments open: \\begin{…} minus \\end{…}", False,
              syntax.latex_environment_depth),
        _by_language(
            "heading", "a heading line, by the text's language", True,
            Variant(("wiki",), "a wiki heading line: == … == (from the first =)",
                    lambda s: syntax.headings(s, "wiki"), "heading-wiki"),
            Variant(("prose",), "a Markdown heading line: # … to ###### … (from the first #)",
                    lambda s: syntax.headings(s, "markdown"), "heading-markdown"),
        ),
    )
}
# Every cache key a built-in can have: results under them are a fixed set, never trimmed.
BUILTIN_KEYS = frozenset({h.key for h in HYPOTHESES.values()}
                         | {v.key for h in HYPOTHESES.values() for v in h.variants})


def bind(hyp: Hypothesis, language: Language) -> Hypothesis:
    """A hypothesis as read in the text's language; a :class:`SearchError` where it does not apply.

    Users' own hypotheses (patterns, spans, values) and language-free built-ins apply to any text.

    >>> bind(HYPOTHESES["comment"], Language("c", True, "")).description
    'inside a C comment: /* … */, or // to the end of the line'
    """
    bound = hyp.in_language(language.name)
    if bound is None:
        raise SearchError(not_applicable(hyp, language))
    return bound


def not_applicable(hyp: Hypothesis, language: Language) -> str:
    """Why ``hyp`` is not scored on a text of ``language``: one line, for the CLI and the dashboard."""
    langs = hyp.languages
    where = langs[0] if len(langs) == 1 else ", ".join(langs[:-1]) + " or " + langs[-1]
    choose = f"language {langs[0]}" if len(langs) == 1 else "one of those languages"
    return (f"hypothesis {hyp.name!r} applies only to {where} text, and this text reads as "
            f"{language.describe()}; choose {choose} if the text is in it, or another hypothesis")


# --- user hypotheses ---------------------------------------------------------------------------------


def pattern_hypothesis(pattern: str, *, byte_level: bool = False) -> Hypothesis:
    """Binary hypothesis: inside any match of the regular expression (every matched position).

    Unlike the built-ins this is not shifted to the end of a delimiter: a user's pattern marks
    exactly the positions it matches. Patterns are matched by RE2, in time linear in the text (see
    :mod:`lstmviz.search.patterns`). In byte mode the pattern's non-ASCII characters are matched
    as their UTF-8 bytes.

    >>> pattern_hypothesis("ab+").fn("xabbyab").tolist()
    [False, True, True, True, False, True, True]
    """
    compiled = compile_pattern(pattern, byte_level=byte_level)

    def fn(symbols: str) -> np.ndarray:
        return regions(len(symbols), *compiled.spans(symbols))

    # RE2 in the key: results cached when patterns were matched by ``re`` may differ (\w, \b, $).
    digest = hashlib.sha1(f"re2 {byte_level} {pattern}".encode("utf-8", "surrogatepass"))
    key = "pattern-" + digest.hexdigest()[:16]
    return Hypothesis(f"pattern {pattern}", f"inside a match of /{pattern}/", True, fn, key=key)


def span_hypothesis(spans: Sequence[tuple[int, int]]) -> Hypothesis:
    """Binary hypothesis: inside any of the selected spans ``[start, stop)`` (positions).

    >>> span_hypothesis([(1, 3)]).fn("abcde").tolist()
    [False, True, True, False, False]
    """
    spans = sorted((int(a), int(b)) for a, b in spans)

    def fn(symbols: str) -> np.ndarray:
        n = len(symbols)
        for a, b in spans:
            check_span(a, b, n)
        return regions(n, [a for a, _ in spans], [b for _, b in spans])

    key = "spans-" + hashlib.sha1(repr(spans).encode()).hexdigest()[:16]
    label = ", ".join(f"{a}:{b}" for a, b in spans[:3]) + (" …" if len(spans) > 3 else "")
    return Hypothesis(f"spans {label}", "inside the selected spans", True, fn, key=key)


def values_hypothesis(values: np.ndarray, *, name: str = "values", binary: bool | None = None) -> Hypothesis:
    """A hypothesis from precomputed per-position values (binary when they are all 0 or 1)."""
    values = np.asarray(values, dtype=np.float32)
    if binary is None:
        binary = bool(np.isin(values, (0.0, 1.0)).all())
    key = "values-" + hashlib.sha1(values.tobytes()).hexdigest()[:16]

    def fn(symbols: str) -> np.ndarray:
        if len(values) != len(symbols):
            raise SearchError(f"{name} has {len(values)} values but the text has {len(symbols)} "
                                  "positions; give one value per position")
        return values

    return Hypothesis(name, f"user values ({name})", binary, fn, key=key)


# --- resolving and computing -------------------------------------------------------------------------


def symbol_string(states: States, block: int = 1 << 20, *, stop: int | None = None) -> str:
    """The extraction's text as one character per position (bytes as ``chr(b)`` in byte mode).

    A symbol that is not one character (a checkpoint's ``<unk>``) stands as U+FFFD: written out,
    it would shift every later position away from its activations. Built block by block from the
    tokens alone; ``stop`` ends it early (the first ``stop`` positions).
    """
    points = np.array([ord(s) if len(s) == 1 else 0xFFFD for s in states.vocab.symbols], dtype="<u4")
    end = states.n_tokens if stop is None else min(stop, states.n_tokens)
    parts = []
    for start in range(0, end, block):
        ids = states.tokens(start, min(start + block, end))
        parts.append(points[ids].tobytes().decode("utf-32-le"))
    return "".join(parts)


def text_language(states: States, lang: str | None = None) -> Language:
    """The language of an extraction's text: ``lang`` if given (checked), else detected from its start.

    Detection reads only the first :data:`~lstmviz.search.languages.SAMPLE` positions' tokens.
    """
    return resolve_language(symbol_string(states, stop=SAMPLE) if lang is None else "", lang)


def resolve(hypothesis: str | Hypothesis | np.ndarray, *, byte_level: bool = False) -> Hypothesis:
    """A built-in name, a regular expression, a :class:`Hypothesis`, or an array of values.

    A string that names a built-in hypothesis means that hypothesis; any other string is read as a
    regular expression (see :func:`pattern_hypothesis`). A built-in with rules per language is
    returned as registered; :func:`bind` picks a language's rules.
    """
    if isinstance(hypothesis, Hypothesis):
        return hypothesis
    if isinstance(hypothesis, str):
        if hypothesis in HYPOTHESES:
            return HYPOTHESES[hypothesis]
        return pattern_hypothesis(hypothesis, byte_level=byte_level)
    return values_hypothesis(np.asarray(hypothesis))


def hypothesis_values(states_or_text: States | str, name_or_pattern: str | Hypothesis, *,
                      lang: str | None = None) -> np.ndarray:
    """Values of a hypothesis at every position, float32 (0/1 for binary ones).

    Args:
        states_or_text: an open extraction (its positions are used, bytes in byte mode) or a text.
        name_or_pattern: a built-in name (see ``HYPOTHESES``), a regular expression, or a Hypothesis.
        lang: read the text in this language (see :data:`~lstmviz.search.languages.LANGUAGES`);
            by default a built-in with rules per language uses the language detected in the text
            (the rules of its own language where it has no rules for that one).

    Raises:
        SearchError: an unknown ``lang``, or a hypothesis that does not apply to it.

    >>> hypothesis_values('say "hi" now', "quote").tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> hypothesis_values("x = 1 // 2  # half", "comment", lang="python").tolist()[-6:]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if isinstance(states_or_text, str):
        hyp, symbols = resolve(name_or_pattern), states_or_text
    else:
        hyp = resolve(name_or_pattern, byte_level=states_or_text.vocab.byte_level)
        symbols = symbol_string(states_or_text)
    if lang is not None:
        hyp = bind(hyp, resolve_language("", lang))
    return hyp.values(symbols)
