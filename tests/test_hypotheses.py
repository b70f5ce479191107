"""Built-in hypotheses on small hand-written texts, with the expected value at every position."""

import numpy as np
import pytest

from lstmviz.errors import SearchError, SpanError
from lstmviz.search.hypotheses import (
    HYPOTHESES,
    hypothesis_values,
    pattern_hypothesis,
    resolve,
    span_hypothesis,
    values_hypothesis,
)


def marks(text: str, name: str) -> str:
    """The hypothesis as a string: '1' inside, '.' outside, aligned under the text."""
    return "".join("1" if v else "." for v in hypothesis_values(text, name))


def nums(text: str, name: str) -> list[int]:
    return hypothesis_values(text, name).astype(int).tolist()


def test_every_builtin_gives_one_float32_per_position():
    text = 'a "b" (c) [[d]] {{e}} <f> http://g.h # i\n  j'
    for name, hyp in HYPOTHESES.items():
        values = hypothesis_values(text, name)
        assert values.shape == (len(text),) and values.dtype == np.float32, name
        assert hyp.binary == bool(np.isin(values, (0, 1)).all()) or not hyp.binary, name
        assert hyp.description and hyp.cache_key == name


def test_quote_opens_on_its_quote_and_closes_on_the_next():
    text = 'say "hi there" now'
    assert marks(text, "quote") == "....111111111....."


def test_quote_escaped_forms_curly_quotes_and_paragraph_reset():
    # &quot; opens on its ';' and the closing one's ';' is outside.
    text = "a &quot;bc&quot; d"
    assert marks(text, "quote") == ".......11111111..."
    assert marks("x “ab” y", "quote") == "..111..."
    # A blank line closes a quotation left open (it reopens with the next paragraph's quote).
    text = '"one\n\n"two" x'
    assert marks(text, "quote") == "11111.1111..."


def test_string_literal_respects_escapes_comments_and_triple_quotes():
    text = 'x = "a\\"b" + \'c\'  # "not a string"'
    assert marks(text, "string") == "....11111....11" + "." * 19
    assert marks('"""a"b"""c', "string") == "..111111.."
    assert marks('s = "open\nnext', "string") == "....11111" + "....."  # ends at the newline


def test_comment_kinds_and_strings_hide_comment_markers():
    assert marks("a /* b */ c", "comment") == "...11111..."
    assert marks("x // y\nz", "comment") == "...111.."
    assert marks("x # y\nz", "comment") == "..111.."
    assert marks('s = "# no" # yes', "comment") == "...........11111"
    assert marks("see http://x.y", "comment") == "." * 14  # a URL's // is not a comment


def test_url_from_end_of_prefix_to_delimiter():
    text = "see http://ab.c/d. then"
    assert marks(text, "url") == "..........1111111......"  # the sentence's full stop is outside
    assert marks("[www.ab.cd x]", "url") == "....111111..."
    assert marks("url=https://a.b&lt;/ref", "url") == "...........1111........"


def test_wikilinks_templates_and_tags_including_escaped_tags():
    assert marks("a [[b|c]] d", "wikilink") == "...11111..."
    assert marks("[[x [[y]] z]]", "wikilink") == ".11111111111."  # nested links stay inside
    assert marks("a {{b}} c", "template") == "...111..."
    assert marks("a <b c> d < e", "tag") == "..1111......."  # a lone < is no tag
    assert marks("x &lt;ref&gt; y", "tag") == ".....1111111..."


def test_bracket_depths_each_and_combined_never_negative():
    text = "f(a[b{c}d]e) )("
    assert nums(text, "depth_paren") == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    assert nums(text, "depth_square") == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert nums(text, "depth_curly") == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert nums(text, "depth") == [0, 1, 1, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 1]


def test_column_and_line_end():
    text = "ab\ncde\n\nf"
    assert nums(text, "column") == [1, 2, 0, 1, 2, 3, 0, 0, 1]
    assert nums(text, "line_end") == [2, 1, 0, 3, 2, 1, 0, 0, 1]


def test_indentation_of_the_current_line():
    text = "a\n  b c\n\tx\n"
    assert nums(text, "indent") == [0, 0, 2, 2, 2, 2, 2, 2, 1, 1, 1]


def test_word_position_and_after_newline():
    assert nums("ab cd_1.é", "word_pos") == [1, 2, 0, 1, 2, 3, 4, 0, 1]
    assert marks("ab\ncd\n\ne", "after_newline") == "...1..11"


def test_byte_level_positions_are_bytes():
    # In byte mode a symbol string holds the UTF-8 bytes as chr(b): 'é' takes two positions.
    symbols = 'é "ü"'.encode().decode("latin-1")
    assert len(symbols) == 7
    assert "".join("1" if v else "." for v in HYPOTHESES["quote"].values(symbols)) == "...111."
    assert HYPOTHESES["column"].values(symbols).tolist() == [1, 2, 3, 4, 5, 6, 7]
    curly = "“a”".encode().decode("latin-1")  # 3 + 1 + 3 bytes: opens on the opener's last byte
    assert "".join("1" if v else "." for v in HYPOTHESES["quote"].values(curly)) == "..1111."


def test_pattern_marks_every_matched_position():
    assert marks("xabbyab", "ab+") == ".111.11"
    hyp = pattern_hypothesis("é", byte_level=True)
    assert hyp.fn("aé".encode().decode("latin-1")).tolist() == [False, True, True]
    with pytest.raises(SearchError, match="not a valid regular expression"):
        pattern_hypothesis("(")


def test_spans_and_values_hypotheses():
    assert span_hypothesis([(1, 3), (4, 5)]).fn("abcdef").tolist() == [0, 1, 1, 0, 1, 0]
    with pytest.raises(SpanError, match="not within the text"):
        span_hypothesis([(3, 9)]).values("abc")
    hyp = values_hypothesis(np.array([0, 1, 1]))
    assert hyp.binary and hyp.values("abc").tolist() == [0, 1, 1]
    assert not values_hypothesis(np.array([0, 2, 1])).binary
    with pytest.raises(SearchError, match="one value per position"):
        hyp.values("ab")


def test_resolve_prefers_builtin_names_then_regex():
    assert resolve("quote") is HYPOTHESES["quote"]
    assert resolve("qu+ote").binary and resolve("qu+ote").cache_key.startswith("pattern-")
    assert resolve("a").cache_key != resolve("b").cache_key
