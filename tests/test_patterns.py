"""User patterns are matched by RE2: no pattern freezes the CLI or the dashboard, unsupported features
are named, and spans on non-ASCII text are characters, as with ``re``."""

import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from search_models import shared_file

from lstmviz.cli import cli
from lstmviz.errors import SearchError
from lstmviz.search.hypotheses import pattern_hypothesis
from lstmviz.search.patterns import compile_pattern

EVIL = r"(\D+)+@@@"  # with re: exponential in the length of any run of non-digits
NEVER = (f"hypothesis {'pattern ' + EVIL!r} is never true in this text (matches of no characters, such as "
         "^ or \\b, mark no position), so no unit can track it; choose another hypothesis or another "
         "text")


@pytest.fixture(scope="module")
def austen(tmp_path_factory):
    """A private copy: a search writes its cache beside the file."""
    path = tmp_path_factory.mktemp("patterns") / "austen.h5"
    path.write_bytes(shared_file("planted", "austen").read_bytes())
    return path


def test_a_backtracking_pattern_finishes_on_the_command_line(austen):
    done = subprocess.run([sys.executable, "-m", "lstmviz", "search", str(austen), "--pattern", EVIL],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"Error: {NEVER}\n"


def test_a_backtracking_pattern_finishes_in_the_dashboards_search_panel(austen):
    script = ("import sys; from app.callbacks.search import results\n"
              "from lstmviz.store.reader import open_states\n"
              "with open_states(sys.argv[1]) as s: print(results(s, sys.argv[2], compute=True)[0].children)")
    done = subprocess.run([sys.executable, "-c", script, str(austen), EVIL], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Cannot rank units: {NEVER}\n"


@pytest.mark.parametrize(("pattern", "feature", "instead"), [
    (r'(["\'])\w+\1', r"a backreference (\1 … \9)", "write the repeated text out, e.g. (ab)ab for (ab)\\1"),
    (r"(?P<q>')x(?P=q)", "a named backreference (?P=name)", "write the repeated text out"),
    (r"Mr(?=\.)", "a lookahead (?=…)", "match the text that follows too"),
    (r"q(?!u)", "a negative lookahead (?!…)", "use a negated class, e.g. q[^u] for q(?!u)"),
    (r"(?<=Mr)s", "a lookbehind (?<=…)", "match the text before too"),
    (r"a++", "a possessive quantifier (++, *+, ?+)", "drop the last +"),
    (r"end\Z", r"\Z", r"write \z for the end of the text"),
])
def test_unsupported_features_are_named_with_what_to_write_instead(austen, pattern, feature, instead):
    result = CliRunner().invoke(cli, ["search", str(austen), "--pattern", pattern])
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: the pattern {pattern!r} uses {feature}, which RE2 (the matcher that keeps a search linear "
        f"in the text) does not support; {instead}")
    assert result.output.count("\n") == 1


def test_the_dashboard_names_an_unsupported_feature_in_the_same_words(austen):
    from app.callbacks.search import results
    from lstmviz.store.reader import open_states

    with open_states(austen) as states:
        notice = results(states, "Mr(?=s)", compute=True)[0]
    assert notice.children == (
        "Cannot rank units: the pattern 'Mr(?=s)' uses a lookahead (?=…), which RE2 (the matcher that keeps "
        "a search linear in the text) does not support; match the text that follows too (it is then marked "
        "as well), e.g. ab for a(?=b)")


def test_invalid_patterns_keep_the_position_re_gives():
    with pytest.raises(SearchError, match=r"^the pattern '\(\[a-z' is not a valid regular expression "
                                          r"\(unterminated character set at position 1\)"):
        compile_pattern("([a-z")


TEXTS = ["Café crème, déjà vu! Ça va? “Ünïcödé” naïve", "東京は晴れ。中文字符 and 日本語テキスト",
         "ok 😀 fine 👍🏽 family 👨‍👩‍👧 flag 🇫🇷 done", "mixed é中😀é中😀 end"]
PATTERNS = ["é", "[^ ]+", "中.", "😀+", r"\s+", "[à-ü]+", "(?i)ça", r"\x{1F600}", "日本語", ".", "é中😀"]


@pytest.mark.parametrize("text", TEXTS)
def test_spans_on_accented_cjk_and_emoji_text_are_characters_as_with_re(text):
    for pattern in PATTERNS:
        spans = compile_pattern(pattern).spans(text)
        expected = [m.span() for m in re.finditer(pattern.replace(r"\x{1F600}", "\U0001F600"), text)]
        assert list(zip(*spans, strict=True)) == [s for s in expected if s[1] > s[0]], pattern
        marks = pattern_hypothesis(pattern).fn(text)
        want = np.zeros(len(text), bool)
        for a, b in expected:
            want[a:b] = True
        assert marks.tolist() == want.tolist(), pattern


def test_byte_level_patterns_match_the_utf8_bytes():
    symbols = "a é 中 😀".encode().decode("latin-1")  # one position per byte
    for pattern in ("é", "中", "😀", "[^ ]+"):
        source = pattern.encode().decode("latin-1")
        expected = [m.span() for m in re.finditer(source, symbols)]
        spans = compile_pattern(pattern, byte_level=True).spans(symbols)
        assert list(zip(*spans, strict=True)) == expected, pattern
