"""Cell search finds cells planted by hand in an LSTM, and finds nothing in a random one.

The planted model (tests/search_models.py) has a quote cell (unit 0), a newline helper (unit 1),
a paren-depth counter (unit 2) and a column counter (unit 3); units 4-7 have random weights. It is
run by the real extractor over real text: a passage of Austen with quotations (one of them running
over two paragraphs) and the start of the standard library's textwrap.py.

A second planted model has a Python docstring cell, a LaTeX math cell and a LaTeX environment-depth
counter, run over textwrap.py and a LaTeX rendering of SciPy's documentation: the language
hypotheses find each, in the language detected from the text.
"""

import numpy as np
import pytest
from search_models import (
    AUSTEN,
    COLUMN,
    PAREN,
    PYTHON,
    QUOTE,
    code_file,
    column_values,
    planted_code_model,
    shared_file,
)

from lstmviz.search.by_example import search_by_example
from lstmviz.search.hypotheses import hypothesis_values
from lstmviz.search.rank import rank_all, rank_units
from lstmviz.store.reader import open_states


@pytest.fixture(scope="module")
def files():
    return {(m, t): shared_file(m, t) for m in ("planted", "random") for t in ("austen", "python")}


def test_the_planted_cells_do_what_they_should(files):
    """A check of the planting itself, so a failure below is the search's."""
    with open_states(files["planted", "austen"]) as s:
        c = s.window("layer0.c", 0, s.n_tokens)
        quote = hypothesis_values(s, "quote") > 0
        first = AUSTEN.index('"')
        assert ((c[first:, QUOTE] > 0.5) == quote[first:]).all()
    with open_states(files["planted", "python"]) as s:
        c = s.window("layer0.c", 0, s.n_tokens)
        np.testing.assert_allclose(c[:, COLUMN], 0.01 * column_values(PYTHON), atol=1e-4)
        np.testing.assert_allclose(c[:, PAREN], 0.1 * hypothesis_values(s, "depth_paren"), atol=1e-4)


@pytest.mark.parametrize(("text", "hypothesis", "unit", "direction"), [
    ("austen", "quote", QUOTE, "+"),
    ("python", "quote", QUOTE, "+"),
    ("python", "depth_paren", PAREN, "+"),
    ("python", "column", COLUMN, "+"),
])
def test_search_ranks_the_planted_unit_first(files, text, hypothesis, unit, direction):
    with open_states(files["planted", text]) as s:
        df = rank_units(s, hypothesis, top=10)
    top2 = set(df.neuron[:2])
    assert top2 == {f"layer0.c.{unit}", f"layer0.h.{unit}"}  # c and h = tanh(c) of the same unit
    assert df.score.iloc[0] > 0.999 and df.direction.iloc[0] == direction
    baseline = df.attrs["baseline"]
    assert df.score.iloc[0] > baseline + 0.25  # far above chance and the current-symbol guess
    assert (df.null[:2] < baseline + 0.01).all()  # against shifted copies the cell is ordinary


def test_interpretable_cells_summary_of_the_planted_model(files):
    with open_states(files["planted", "python"]) as s:
        best = rank_all(s).set_index("hypothesis")
    for hypothesis, unit in (("quote", QUOTE), ("depth_paren", PAREN), ("column", COLUMN)):
        assert best.neuron[hypothesis] in {f"layer0.c.{unit}", f"layer0.h.{unit}"}
        assert best.score[hypothesis] > 0.999 and best.margin[hypothesis] > 0.25


@pytest.mark.parametrize("text", ["austen", "python"])
def test_random_model_stays_near_its_baseline(files, text):
    """A random network's best units do no better than chance plus reacting to the current symbol."""
    with open_states(files["random", text]) as s:
        best = rank_all(s).set_index("hypothesis")
    for hypothesis in ("quote", "depth_paren", "column"):
        assert best.margin[hypothesis] < 0.05, (hypothesis, best.loc[hypothesis].to_dict())
    assert best.score["quote"] < 0.6  # no quote cell: AUROC near 0.5


def test_search_by_example_finds_the_quote_cell_and_every_quotation(files):
    with open_states(files["planted", "austen"]) as s:
        start = AUSTEN.index('"Is not this song')
        stop = AUSTEN.index('"', start + 1)  # the closing quote is outside, as the cell sees it
        found = search_by_example(s, start, stop, name="layer0.c")
        quote = hypothesis_values(s, "quote") > 0
    assert found.units.neuron.tolist() == [f"layer0.c.{QUOTE}"] and found.units.sign[0] == "+"
    assert -1 < found.threshold <= 1
    # Every match is one whole quotation: inside throughout, opened by '"' and closed right after.
    for m in found.matches.itertuples():
        assert quote[m.start : m.stop].all() and not quote[m.stop] and not quote[m.start - 1]
    opened = np.flatnonzero(np.diff(quote.astype(int)) == 1) + 1
    assert len(found.matches) == len(opened) - 1  # all quotations but the example itself
    lengths = found.matches.length.to_numpy()
    L = stop - start
    assert (np.abs(lengths - L)[:5] <= np.sort(np.abs(lengths - L))[4]).all()  # nearest length first


@pytest.mark.parametrize(("text", "hypothesis", "language", "margin"), [
    ("python", "docstring", "python", 0.25),
    ("latex", "math", "latex", 0.15),  # math has symbols of its own: the current symbol guesses 0.82
    ("latex", "depth_env", "latex", 0.25),
])
def test_language_hypotheses_find_their_planted_cells(text, hypothesis, language, margin):
    unit = planted_code_model()[1][hypothesis]
    with open_states(code_file(text)) as s:
        df = rank_units(s, hypothesis, top=10)
    assert df.attrs["language"] == language and not df.attrs["language_given"]
    assert set(df.neuron[:2]) == {f"layer0.c.{unit}", f"layer0.h.{unit}"}
    assert df.score.iloc[0] > 0.999 and df.direction.iloc[0] == "+"
    assert df.score.iloc[0] > df.attrs["baseline"] + margin
    assert (df.null[:2] < df.attrs["baseline"] + 0.01).all()


def test_the_docstring_cell_is_not_a_string_cell():
    """textwrap.py has strings that are no docstrings: the docstring cell tracks docstrings better."""
    unit = planted_code_model()[1]["docstring"]
    with open_states(code_file("python")) as s:
        docstring = rank_units(s, "docstring", names=["layer0.c"], top=None).set_index("unit")
        string = rank_units(s, "string", names=["layer0.c"], top=None).set_index("unit")
    assert docstring.score[unit] > 0.999 > string.score[unit]
