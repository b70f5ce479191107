"""Search by example: unit choice, threshold, and matches over the whole file in any block size."""

import numpy as np
import pytest
from search_models import AUSTEN, QUOTE, shared_file

from lstmviz.errors import SearchError, SpanError
from lstmviz.search.by_example import _default_threshold, example_units, search_by_example
from lstmviz.store.reader import open_states


@pytest.fixture(scope="module")
def planted():
    return shared_file("planted", "austen")


@pytest.fixture(scope="module")
def rand():
    return shared_file("random", "austen")


def some_span(states, length=4):
    """The first short span after position 3000 where some unit switches on and off."""
    for start in range(3000, 6000, 3):
        try:
            example_units(states, start, start + length)
        except SearchError:
            continue
        return start, start + length
    raise AssertionError("no span with units")


def quotation():
    start = AUSTEN.index('"Is not this song')
    return start, AUSTEN.index('"', start + 1)


def brute_force_runs(x: np.ndarray, units, signs, threshold, need):
    on = (x[:, units] * signs >= threshold).sum(axis=1) >= need
    runs, start = [], None
    for t, v in enumerate(np.r_[on, False]):
        if v and start is None:
            start = t
        elif not v and start is not None:
            runs.append((start, t))
            start = None
    return runs


@pytest.mark.parametrize("rows", [97, 1000, 1 << 20])
def test_matches_equal_a_brute_force_scan_whatever_the_block_size(rand, rows):
    with open_states(rand) as s:
        a, b = some_span(s)
        found = search_by_example(s, a, b, rows=rows, min_on=0.5)
        x = s.window("layer0.h", 0, s.n_tokens)
    units = found.units.unit.to_numpy()
    signs = np.where(found.units.sign == "+", 1.0, -1.0).astype(np.float32)
    need = int(np.ceil(0.5 * len(units)))
    expected = {r for r in brute_force_runs(x, units, signs, found.threshold, need)
                if r[1] <= a or r[0] >= b}
    assert set(zip(found.matches.start, found.matches.stop, strict=True)) == expected
    assert found.matches.score.is_monotonic_decreasing and (found.matches.score <= 1).all()


def test_units_are_on_inside_and_off_around(rand):
    with open_states(rand) as s:
        a, b = some_span(s)
        found = search_by_example(s, a, b)
        x = s.window("layer0.h", a - 1, b + 1)
    assert len(found.units) >= 1
    for row in found.units.itertuples():
        sign = 1 if row.sign == "+" else -1
        v = sign * x[:, row.unit]
        assert (v[1:5] >= found.threshold).all() and (v[[0, 5]] < found.threshold).all()
        assert row.inside_min == pytest.approx(v[1:5].min())
        assert row.around_max == pytest.approx(v[[0, 5]].max())


def test_explicit_threshold_and_other_activation(planted):
    start, stop = quotation()
    with open_states(planted) as s:
        found = search_by_example(s, start, stop, name="layer0.c", threshold=0.5)
        assert found.threshold == 0.5 and f"layer0.c.{QUOTE}" in found.units.neuron.tolist()
        with pytest.raises(SearchError, match="at threshold 2"):
            search_by_example(s, start, stop, name="layer0.c", threshold=2.0)
        with pytest.raises(SpanError, match="not within the text of planted1_austen.h5"):
            search_by_example(s, 10, s.n_tokens + 1)
        with pytest.raises(SearchError, match=f"span 0:{s.n_tokens} is the whole text"):
            search_by_example(s, 0, s.n_tokens)  # was: every unit "on", around_max -inf


def test_slack_finds_a_cell_from_a_span_that_misses_where_it_switches(planted):
    start, stop = quotation()  # the planted quote cell is +1 from the opening quote to the closing one
    drag = (start, stop + 1)  # a drag over the whole quotation: the cell is already off at its last "
    with open_states(planted) as s:
        with pytest.raises(SearchError, match="no unit of layer0.c is on throughout"):
            search_by_example(s, *drag, name="layer0.c", threshold=0.5)  # exactly: the cell is missed
        loose = search_by_example(s, *drag, name="layer0.c", threshold=0.5, slack=2)
        x = s.window("layer0.c", start - 3, stop + 4)[:, QUOTE]
    [row] = [r for r in loose.units.itertuples() if r.unit == QUOTE]
    assert row.sign == "+" and row.inside_min == pytest.approx(x[5:-5].min())  # the span less 2 a side
    assert row.around_max == pytest.approx(max(x[:5].min(), x[-5:].min()))  # off somewhere near each end


def test_default_threshold_is_where_most_units_separate():
    intervals = [(-0.2, 0.8), (0.1, 0.9), (0.5, 0.6), (-1.0, -0.5)]
    # (0.5, 0.6] is shared by three intervals and is the widest such range: its middle is chosen.
    assert _default_threshold(intervals) == pytest.approx(0.55)
    assert _default_threshold([]) is None


def test_matches_rank_by_how_strongly_the_units_are_on(rand):
    with open_states(rand) as s:
        a, b = some_span(s)
        found = search_by_example(s, a, b, min_on=0.5)
        x = s.window("layer0.h", 0, s.n_tokens)
    m = found.matches
    assert len(m) > 3 and m.strength.nunique() > 1 and (m.strength <= 1).all()
    L = b - a
    ratio = np.minimum(m.length, L) / np.maximum(m.length, L)
    np.testing.assert_allclose(m.score, ratio * m.strength)
    units = found.units.unit.to_numpy()
    signs = np.where(found.units.sign == "+", 1.0, -1.0)
    rise = found.units.inside_mean.to_numpy() - found.threshold
    for row in m.head(5).itertuples():
        v = x[row.start:row.stop, units] * signs
        expected = np.where(v >= found.threshold, np.minimum((v - found.threshold) / rise, 1), 0).mean()
        assert row.strength == pytest.approx(expected, rel=1e-4)
    assert found.units_at(found.threshold) == len(found.units)
    assert found.units_at(10.0) == 0


def test_a_span_of_one_character_is_refused(planted):
    with open_states(planted) as s, pytest.raises(SearchError) as e:
        search_by_example(s, 100, 101)
    assert str(e.value) == ("span 100:101 is one character, and almost any unit is on over one character; "
                            "select at least two (a word, a quotation)")


def test_a_threshold_that_selects_every_unit_is_refused(tmp_path):
    from dashboard_files import build

    with open_states(build(tmp_path / "one.h5", n_layer=1, n_hidden=1)) as s:
        said = set()
        for start in range(100, 3000, 7):
            try:
                example_units(s, start, start + 3)
            except SearchError as e:
                said.add(str(e).split(";")[0])
    every = [m for m in said if "selects every unit" in m]
    assert every and all(m.endswith("selects every unit of layer0.h (1 of 1), so every place would match")
                         for m in every)
