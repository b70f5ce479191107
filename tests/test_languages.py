"""Languages: detection, each language's rules on hand-written lines, and each rule on real text.

Real texts: CPython's own sources (the running Python's standard library, through
``inspect.getsource``, checked against ``tokenize`` and ``ast``), CPython's C headers and shell
script, the head of IDLE's HTML help and a LaTeX rendering of SciPy's docs (tests/data), the
bundled wiki text and this repository's Markdown.
"""

import ast
import importlib
import inspect
import io
import re
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from search_models import LATEX, PYTHON

from lstmviz.demo import TEXT as WIKI
from lstmviz.errors import SearchError
from lstmviz.search.hypotheses import BUILTIN_KEYS, HYPOTHESES, bind, hypothesis_values
from lstmviz.search.languages import LANGUAGES, Language, check_language, detect_language
from lstmviz.search.syntax import marks, regions

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parents[1]
PYMACRO = (DATA / "c_pymacro.h.txt").read_text(encoding="utf-8")
OSDEFS = (DATA / "c_osdefs.h.txt").read_text(encoding="utf-8")
SHELL = (DATA / "makesetup.sh.txt").read_text(encoding="utf-8")
HTML = (DATA / "idle_help_head.html.txt").read_text(encoding="utf-8")
AUSTEN = (DATA / "austen_quotes.txt").read_text(encoding="utf-8")


def m(text: str, name: str, lang: str) -> str:
    return marks(hypothesis_values(text, name, lang=lang))


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [
    (PYMACRO, "c"), (OSDEFS, "c"), (PYTHON, "python"), (inspect.getsource(inspect), "python"),
    (SHELL, "shell"), (LATEX, "latex"), (HTML, "html"), (WIKI.read_text(encoding="utf-8"), "wiki"),
    (AUSTEN, "prose"), ((ROOT / "README.md").read_text(encoding="utf-8"), "prose"),
])
def test_each_real_text_is_detected_as_its_language(text, language):
    found = detect_language(text)
    assert found.name == language, found
    assert not found.given and found.evidence


def test_detection_says_why():
    found = detect_language("#include <stdio.h>\n#define N 3\n/* x */\nint n;\n")
    assert found.describe() == ("c (detected: 2 preprocessor lines, 1 lines ending in ; { or }, "
                                "1 /* comments)")
    short = detect_language("x # y")  # too few signals to call it code
    assert short.name == "prose" and short.describe().startswith("prose (detected: no language's")
    assert Language("c", True, "").describe() == "c (given)"


def test_unknown_language_is_one_line():
    with pytest.raises(SearchError) as e:
        check_language("cobol")
    assert str(e.value) == "unknown language 'cobol'; choose one of " + ", ".join(LANGUAGES)
    with pytest.raises(SearchError, match="unknown language 'C'"):
        hypothesis_values("x", "comment", lang="C")


# --- rules per language, on hand-written lines (the examples of docs/search.md) ------------------


def test_c_comments_strings_characters_and_preprocessor_lines():
    text = "#include <a.h>\nc = '\"'; s = \"it's /* no */\"; // x\n"
    assert m(text, "comment", "c") == "." * 46 + "111."
    assert m(text, "string", "c") == "." * 28 + "1" * 14 + "." * 8
    assert m(text, "char", "c") == "." * 19 + "11" + "." * 29
    assert m(text, "preprocessor", "c") == "1" * 14 + "." * 36
    assert m("a /* b */ c", "comment", "c") == "...11111..."
    assert m("x = 1; # not C", "comment", "c") == "." * 14  # '#' mid-line: no comment, no directive
    continued = "#define A(x) \\\n  (x)\ny"
    assert m(continued, "preprocessor", "c") == "1" * 20 + ".."
    assert m("/*\n#define X\n*/", "preprocessor", "c") == "." * 15  # inside a comment: no directive


def test_python_comments_strings_and_docstrings():
    text = 'def f(x: int = 1 // 2):\n    """Doc."""\n    s = r"#no"  # yes\n'
    assert m(text, "comment", "python") == "." * 55 + "11111."
    assert m(text, "string", "python") == "." * 30 + "1111111" + "." * 11 + "1111" + "." * 9
    assert m(text, "docstring", "python") == "." * 30 + "1111111" + "." * 24
    assert m('x = 1\n"""not a docstring"""', "docstring", "python") == "." * 27
    assert m('"""Module."""\nimport x', "docstring", "python") == ".." + "1" * 10 + "." * 10
    assert m("class A:  # c\n    'doc'", "docstring", "python") == "." * 18 + "1111."
    assert m('def f(): return 1\n"no"', "docstring", "python") == "." * 22
    assert m('def f():\n    f"no {x}"', "docstring", "python") == "." * 22  # an f-string is none


def test_shell_comments_and_the_three_kinds_of_strings():
    text = "echo $# ${#a} 'x#' \"y\\\"#\" $'\\'' # c\n"
    assert m(text, "comment", "shell") == "." * 32 + "111."
    assert m(text, "string", "shell") == "." * 14 + "111.." + "11111..." + "111" + "." * 6


def test_latex_math_environments_and_comments():
    text = r"a $x$ \$ $$y$$ \[z\] \(w\) % $no$" + "\n" + r"\begin{equation*}e\end{equation*}"
    math = m(text, "math", "latex")
    assert math[:27] == "..11......111...111...111.."
    assert math[27:34] == "......."  # the comment hides its $
    assert math[34:] == "." * 16 + "1" * 16 + "."  # from the } of \begin{equation*} to \end's }
    assert m(text, "comment", "latex") == "." * 27 + "111111" + "." * 34
    assert m(r"50\% off", "comment", "latex") == "." * 8


def test_latex_environment_depth_counts_begin_and_end():
    text = r"\begin{a}x\begin{b}y\end{b}z\end{a}w % \begin{c}"
    depth = hypothesis_values(text, "depth_env", lang="latex").astype(int).tolist()
    assert depth[8] == 1 and depth[18] == 2 and depth[26] == 1 and depth[34] == 0
    assert max(depth[35:]) == 0  # a comment's \begin opens nothing


def test_markup_comments_attributes_and_headings():
    assert m("a<!--b-->c", "comment", "html") == "....1111.."
    assert m("a &lt;!--b--&gt;c", "comment", "wiki") == "........1111111.."
    assert m('<a href="x>y" title=\'z\'>"q"</a>', "string", "html") == \
        "........1111........11........."
    assert m("==A==\nb\n= c =\n", "heading", "wiki") == "11111...11111."
    assert m("# A\nb #c\n```\n# d\n```\n## e", "heading", "prose") == "111" + "." * 18 + "1111"


def test_prose_keeps_the_rules_the_names_had_before_languages():
    assert m("a /* b */ c", "comment", "prose") == "...11111..."
    assert m("x # y\nz", "comment", "prose") == "..111.."
    assert m("x = 'a' # 'b'", "string", "prose") == "....11......."  # no string in a comment


# --- each rule on real text ----------------------------------------------------------------------


def _python_reference(text: str) -> dict[str, np.ndarray]:
    """Strings and comments as ``tokenize`` finds them, docstrings as ``ast`` does."""
    starts = np.cumsum([0] + [len(line) for line in text.splitlines(keepends=True)])
    lines = text.splitlines(keepends=True)

    def at(line: int, col: int) -> int:  # tokenize counts characters; ast counts UTF-8 bytes
        return int(starts[line - 1])

    def inside(body: str) -> int:  # where a string's region starts within it
        i = min(body.index(q) for q in "'\"" if q in body)
        return i + (3 if body[i : i + 3] in ("'''", '"""') else 1) - 1

    found = {"string": ([], []), "comment": ([], []), "docstring": ([], [])}
    fstring = None
    for t in tokenize.generate_tokens(io.StringIO(text).readline):
        a, b = at(*t.start) + t.start[1], at(*t.end) + t.end[1]
        kind = tokenize.tok_name[t.type]
        if kind == "STRING":
            found["string"][0].append(a + inside(t.string))
            found["string"][1].append(b - 1)
        elif kind == "FSTRING_START":  # Python 3.12 and later split f-strings
            fstring = a + inside(t.string + '"')
        elif kind == "FSTRING_END":
            found["string"][0].append(fstring)
            found["string"][1].append(b - 1)
        elif kind == "COMMENT":
            found["comment"][0].append(a)
            found["comment"][1].append(b)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                a = at(first.lineno, 0) + len(lines[first.lineno - 1].encode()[: first.col_offset].decode())
                b = at(first.end_lineno, 0) + len(
                    lines[first.end_lineno - 1].encode()[: first.end_col_offset].decode())
                found["docstring"][0].append(a + inside(text[a:b]))
                found["docstring"][1].append(b - 1)
    return {k: regions(len(text), *v) for k, v in found.items()}


@pytest.mark.parametrize("module", ["textwrap", "json.decoder", "inspect", "argparse", "dataclasses"])
def test_python_rules_equal_tokenize_and_ast_on_the_standard_library(module):
    text = inspect.getsource(importlib.import_module(module))
    reference = _python_reference(text)
    for name, expected in reference.items():
        found = hypothesis_values(text, name) > 0  # detected as Python
        assert expected.any() and np.array_equal(found, expected), (module, name)


def test_c_rules_on_cpython_headers():
    comment = m(PYMACRO, "comment", "c")
    directive = m(PYMACRO, "preprocessor", "c")
    # The example macro inside a comment is no directive; the real one continues over its lines.
    example = PYMACRO.index("   #define foo_to_char")
    assert comment[example] == "1" and directive[example] == "."
    real = PYMACRO.index("#if !defined(static_assert)")
    end = PYMACRO.index("#  define static_assert") - 1  # the newline after three continued lines
    assert set(directive[real:end]) == {"1"} and directive[end] == "."
    lines = PYMACRO.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    for line, start in zip(lines, starts, strict=False):
        if line.startswith("#") and comment[start] == ".":
            assert directive[start : start + len(line)] == "1" * len(line), line
        if line.startswith("//"):
            assert comment[start : start + len(line)] == "." + "1" * (len(line) - 1), line
    chars = m(OSDEFS, "char", "c")
    found = [OSDEFS[x.start() : x.end()] for x in re.finditer("1+", chars)]
    assert found == ["'\\\\", "'/", "';", "';", "'/", "':"]  # each 'x' with its opening quote
    assert "isn't" in PYMACRO and m(PYMACRO, "char", "c") == "." * len(PYMACRO)  # apostrophes in comments


def test_shell_rules_on_cpython_makesetup():
    comment = m(SHELL, "comment", "shell")
    string = m(SHELL, "string", "shell")
    lines = SHELL.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    inside_strings = 0
    for line, start in zip(lines, starts, strict=False):
        if line.startswith("#") and string[start] == ".":
            assert comment[start : start + len(line)] == "1" * len(line), line
        elif line.startswith("#"):  # in the text an echo "… prints: no comment
            inside_strings += 1
            assert comment[start : start + len(line)] == "." * len(line), line
    assert inside_strings == 1
    sed = SHELL.index("s/[ \t]*#.*//")  # a '#' inside a sed script in quotes
    assert comment[sed + 6] == "." and string[sed + 6] == "1"
    assert string[SHELL.index("'*noobjects*'") : SHELL.index("'*noobjects*'") + 13] == "1" * 12 + "."


def test_latex_rules_on_a_rendering_of_scipy_docs():
    math = m(LATEX, "math", "latex")
    spans = [LATEX[x.start() : x.end() + 1] for x in re.finditer("1+", math)]
    inline = [s for s in spans if s.startswith("$")]
    assert len(spans) == 39 and len(inline) == 36 and all(s.endswith("$") for s in inline)
    assert "$w(x) = (1 - x)^{\\alpha} (1 +\nx)^{\\beta}$" in spans  # over a line break
    assert sum(s.startswith("}") and s.endswith("\\end{equation*}") for s in spans) == 3
    depth = hypothesis_values(LATEX, "depth_env")
    document = LATEX.index("\\begin{document}") + len("\\begin{document}") - 1
    assert depth[document - 1] == 0 and depth[document] == 1 and depth.max() == 2 and depth[-1] == 0
    comments = [LATEX[x.start() : x.end()] for x in re.finditer("1+", m(LATEX, "comment", "latex"))]
    assert comments[0] == "% generated by Docutils <https://docutils.sourceforge.io/>"
    assert all(c.startswith("%") and "\n" not in c for c in comments)


class _Attributes(HTMLParser):
    """Each start tag's attribute values, as Python's HTML parser reads them."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.values = []

    def handle_starttag(self, tag, attrs):
        self.values += [v for _, v in attrs if v is not None]


def test_html_attribute_values_equal_pythons_html_parser():
    parser = _Attributes()
    parser.feed(HTML)
    found = [HTML[x.start() + 1 : x.end()] for x in re.finditer("1+", m(HTML, "string", "html"))]
    assert found == parser.values and len(found) > 40


def test_headings_on_the_bundled_wiki_text_and_this_repository_markdown():
    wiki = WIKI.read_text(encoding="utf-8")
    heading = hypothesis_values(wiki, "heading") > 0  # detected as wiki
    lines = [line for line in wiki.split("\n") if line.startswith("=") and line.rstrip().endswith("=")]
    assert len(lines) == 47 and heading.sum() == sum(len(line) for line in lines)
    for doc in (ROOT / "README.md", ROOT / "docs" / "search.md"):
        text = doc.read_text(encoding="utf-8")
        expected, fenced = [], False
        for line in text.split("\n"):
            fenced ^= line.startswith("```")
            if not fenced and re.match(r"#{1,6} ", line):
                expected.append(line)
        found = [text[x.start() : x.end()] for x in re.finditer("1+", m(text, "heading", "prose"))]
        assert found == expected and expected


# --- languages and built-ins ---------------------------------------------------------------------


def test_a_hypothesis_of_another_language_is_refused_in_one_line():
    wiki = Language("wiki", False, "9 [[ links")
    with pytest.raises(SearchError) as e:
        bind(HYPOTHESES["docstring"], wiki)
    assert str(e.value) == ("hypothesis 'docstring' applies only to python text, and this text reads as "
                            "wiki (detected: 9 [[ links); choose language python if the text is in it, "
                            "or another hypothesis")
    with pytest.raises(SearchError, match="applies only to c text"):
        hypothesis_values("a", "preprocessor", lang="prose")
    assert bind(HYPOTHESES["quote"], wiki) is HYPOTHESES["quote"]


def test_cache_keys_old_names_stay_and_variants_have_their_own():
    assert {h.cache_key for h in HYPOTHESES.values()} == set(HYPOTHESES)
    for name in ("quote", "url", "depth", "column", "word_pos"):  # the same in every language
        assert all(HYPOTHESES[name].in_language(lang).cache_key == name for lang in LANGUAGES)
    assert HYPOTHESES["comment"].in_language("prose").cache_key == "comment"  # as before languages
    assert HYPOTHESES["string"].in_language("prose").cache_key == "string"
    keys = {h.in_language(lang).cache_key for h in HYPOTHESES.values() for lang in LANGUAGES
            if h.in_language(lang) is not None}
    assert keys | set(HYPOTHESES) == BUILTIN_KEYS and {"comment-c", "comment-markup"} <= keys
    html, wiki = (HYPOTHESES["comment"].in_language(lang) for lang in ("html", "wiki"))
    assert html.cache_key == wiki.cache_key == "comment-markup" and html.fn is wiki.fn


def test_hostile_text_costs_time_linear_in_its_length():
    """Many unclosed headers, quotes, comments and math: each rule still reads the text once."""
    import time

    hostile = ("def f(:\n" * 20_000 + "x: 1\n" * 20_000 + '"""' + "/* '" * 5_000 + "$\\begin{a}<a \"" * 5_000)
    start = time.perf_counter()
    for name in HYPOTHESES:
        for lang in HYPOTHESES[name].languages:
            hypothesis_values(hostile, name, lang=lang)
    assert time.perf_counter() - start < 20  # about 1 s on two busy cores


def test_a_hypothesis_of_several_languages_names_them_all_when_refused():
    with pytest.raises(SearchError) as e:
        bind(HYPOTHESES["string"], Language("latex", True, ""))
    assert str(e.value) == ("hypothesis 'string' applies only to c, python, shell, html or prose text, and "
                            "this text reads as latex (given); choose one of those languages if the text is "
                            "in it, or another hypothesis")
