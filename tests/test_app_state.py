"""The dashboard's selection logic (app/state.py) as plain functions, on a real extraction."""

from dataclasses import replace

import pytest
from dashboard_files import TEXT, build

from app.catalog import cached_states
from app.state import DEFAULT_LENGTH, View, fit, from_query, reduce, to_query


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    return cached_states(build(tmp_path_factory.mktemp("state") / "tiny.h5"))


def view(**kw) -> View:
    return replace(View("tiny", "layer1.c.3"), **kw)


def test_query_round_trip_keeps_every_field():
    v = View("tiny", "layer0.gates.f.7", pos=1234, length=1000, mode="prose", palette="diverging",
             raw_c=True, mark=1300, mark_len=4)
    back, notes = from_query(to_query(v), "other")
    assert back == v
    assert notes == []


def test_query_leaves_defaults_out():
    assert to_query(view(pos=5)) == "?file=tiny&neuron=layer1.c.3&pos=5&mode=grid"


def test_unreadable_query_values_become_messages():
    v, notes = from_query("?neuron=layer0.h.1&pos=abc&mode=poster&palette=neon", "tiny")
    assert (v.file, v.pos, v.mode, v.palette) == ("tiny", 0, "grid", "blog")
    assert notes == [
        "the URL's mode='poster' is unknown; use grid or prose",
        "the URL's palette='neon' is unknown; use one of blog, diverging, colorblind",
        "the URL's pos='abc' is not a number; using 0",
    ]


@pytest.mark.parametrize(
    ("neuron", "why"),
    [
        ("layer7.h.0", "has no activation 'layer7.h'; available: layer0.h"),
        ("layer0.h.99", "layer0.h has units 0..15; there is no unit 99"),
        ("banana", "is not a neuron"),
    ],
)
def test_a_neuron_the_file_lacks_falls_back_with_a_message(states, neuron, why):
    fixed, notes = fit(view(neuron=neuron), states)
    assert fixed.neuron == "layer1.c.0"
    assert len(notes) == 1 and why in notes[0] and "showing layer1.c.0" in notes[0]


def test_a_position_past_the_end_shows_the_last_page(states):
    n = states.n_tokens
    fixed, notes = fit(view(pos=n + 50, length=500), states)
    assert fixed.pos == n - 500
    assert notes == [f"position {n + 50:,} is past the end of the text ({n:,} characters); "
                     f"showing the last page, from {n - 500:,}"]


def test_unit_steps_wrap_around(states):
    assert reduce(view(neuron="layer1.c.15"), "unit_step", 1, states)[0].neuron == "layer1.c.0"
    assert reduce(view(neuron="layer1.c.0"), "unit_step", -1, states)[0].neuron == "layer1.c.15"


def test_kind_and_layer_changes_keep_the_unit(states):
    v = reduce(view(neuron="layer1.c.9"), "kind", "gates.f", states)[0]
    assert v.neuron == "layer1.gates.f.9"
    assert reduce(v, "layer", 0, states)[0].neuron == "layer0.gates.f.9"


def test_paging_stops_at_both_ends(states):
    n = states.n_tokens
    assert reduce(view(pos=100, length=500), "page", -1, states)[0].pos == 0
    assert reduce(view(pos=0, length=500), "page", 1, states)[0].pos == 500
    assert reduce(view(pos=n - 600, length=500), "page", 1, states)[0].pos == n - 500


def test_find_moves_from_match_to_match_and_wraps(states):
    word = "object"
    hits = [i for i in range(len(TEXT)) if TEXT.startswith(word, i)]
    assert len(hits) >= 3
    v, notes = reduce(view(pos=0), "find", (word, 1), states)
    assert (v.mark, v.mark_len, notes) == (hits[0], len(word), [])
    assert v.pos <= v.mark < v.pos + v.length
    v, _ = reduce(v, "find", (word, 1), states)
    assert v.mark == hits[1]
    v, _ = reduce(v, "find", (word, -1), states)
    assert v.mark == hits[0]
    v, notes = reduce(v, "find", (word, -1), states)
    assert v.mark == hits[-1]
    assert notes == ["searched from the other end of the text"]


def test_find_reports_text_that_does_not_occur(states):
    v, notes = reduce(view(pos=40), "find", ("zebra crossing", 1), states)
    assert (v.pos, v.mark) == (40, -1)
    assert notes == ["'zebra crossing' does not occur in the text"]


def test_jumping_to_a_context_marks_it_inside_the_window(states):
    v, _ = reduce(view(pos=0, length=500), "context", 3000, states)
    assert v.mark == 3000 and v.mark_len == 1
    assert v.pos <= 3000 < v.pos + v.length


def test_switching_mode_uses_that_modes_window(states):
    v, _ = reduce(view(), "mode", "prose", states)
    assert (v.mode, v.length) == ("prose", DEFAULT_LENGTH["prose"])


@pytest.mark.parametrize(
    ("typed", "pos", "note"),
    [
        (100000, 5500, "position 100,000 is past the end of the text (6,000 characters); "
                       "showing the last page, from 5,500"),
        (-5, 0, "position -5 is before the start; showing position 0"),
        (2.5, 700, "there is no position 2.5: positions run from 0 to 5,999"),
        (None, 700, "type a position from 0 to 5,999"),
    ],
)
def test_any_typed_position_moves_or_says_why_not(states, typed, pos, note):
    v, notes = reduce(view(pos=700, length=500), "goto", typed, states)
    assert (v.pos, notes) == (pos, [note])


@pytest.mark.parametrize(
    ("typed", "note"),
    [
        (16, "there is no unit 16: units run from 0 to 15"),
        (-1, "there is no unit -1: units run from 0 to 15"),
        (2.5, "there is no unit 2.5: units run from 0 to 15"),
        (None, "type a unit from 0 to 15"),
    ],
)
def test_a_unit_the_file_lacks_keeps_the_neuron_and_says_why(states, typed, note):
    v, notes = reduce(view(neuron="layer1.c.3"), "unit", typed, states)
    assert (v.neuron, notes) == ("layer1.c.3", [note])
    assert reduce(view(neuron="layer1.c.3"), "unit", 7.0, states)[0].neuron == "layer1.c.7"


def test_the_last_page_ends_at_the_end_of_the_text(states):
    n = states.n_tokens
    v, notes = reduce(view(pos=0, length=500), "slider", n - 1, states)  # the slider's far end
    assert (v.pos, notes) == (n - 500, [])
    assert fit(view(pos=n - 1, length=500), states) == (view(pos=n - 500, length=500), [])
    for start in (n - 600, n - 500):  # next page never moves back
        assert reduce(view(pos=start, length=500), "page", 1, states)[0].pos == n - 500


def test_moving_away_from_a_mark_drops_it(states):
    marked = view(pos=0, length=500, mark=43, mark_len=6)
    assert reduce(marked, "page", 1, states)[0].mark == -1
    assert reduce(marked, "goto", 2000, states)[0].mark == -1
    assert reduce(marked, "slider", 3000, states)[0].mark == -1
    assert reduce(marked, "goto", 40, states)[0].mark == 43  # still on screen
    v, _ = from_query("?file=tiny&neuron=layer1.c.3&pos=4000&mark=43-49", "tiny")
    assert fit(v, states)[0].mark == -1


def test_find_starts_from_the_window_once_the_mark_is_off_screen(states):
    word = "object"
    hits = [i for i in range(len(TEXT)) if TEXT.startswith(word, i)]
    v, _ = reduce(view(pos=0, length=500), "find", (word, 1), states)
    assert v.mark == hits[0]
    for _ in range(6):
        v, _ = reduce(v, "page", 1, states)
    assert (v.pos, v.mark) == (3000, -1)
    forward, _ = reduce(v, "find", (word, 1), states)
    assert forward.mark == min(h for h in hits if h >= 3000)
    back, _ = reduce(v, "find", (word, -1), states)
    assert back.mark == max(h for h in hits if h < 3000)
    stale = view(pos=3000, length=500, mark=43, mark_len=6)  # a mark far from the window
    assert reduce(stale, "find", (word, 1), states)[0].mark == min(h for h in hits if h >= 3000)


def test_a_url_mark_is_cut_to_the_text(states):
    v, notes = from_query("?file=tiny&neuron=layer1.c.3&pos=0&mark=10-99999999", "tiny")
    assert notes == []
    fixed, _ = fit(v, states)
    assert (fixed.mark, fixed.mark + fixed.mark_len) == (10, states.n_tokens)


@pytest.mark.parametrize("mark", ["5-2", "abc", "7-7", "-3"])
def test_an_unreadable_url_mark_is_dropped_with_a_message(mark):
    v, notes = from_query(f"?file=tiny&neuron=layer1.c.3&mark={mark}", "tiny")
    assert v.mark == -1
    assert notes == [f"the URL's mark={mark!r} is not a span START-END with START < END; nothing is marked"]


def test_a_neuron_has_one_spelling_and_raw_only_colours_c(states):
    fixed, notes = fit(view(neuron="layer1.h.03", raw_c=True), states)
    assert (fixed.neuron, fixed.raw_c, notes) == ("layer1.h.3", False, [])
    assert "raw=1" not in to_query(fixed)
    assert fit(view(neuron="layer1.c.3", raw_c=True), states)[0].raw_c


def test_opening_a_unit_marks_where_it_was_found_and_keeps_why(states):
    v, notes = reduce(view(pos=0, length=500), "open",
                      {"neuron": "layer0.h.5", "start": 3000, "stop": 3001, "why": "quote"}, states)
    assert notes == [] and (v.neuron, v.why, v.mark, v.mark_len) == ("layer0.h.5", "quote", 3000, 1)
    assert v.pos <= 3000 < v.stop
    assert "why=quote" in to_query(v) and from_query(to_query(v), "tiny")[0] == v
    assert reduce(v, "context", 3100, states)[0].why == "quote"  # the same unit, elsewhere
    assert reduce(v, "unit_step", 1, states)[0].why == ""  # another unit: the reason is gone
    crafted = {"neuron": "layer0.h.5", "start": "x", "stop": 3}
    bad, notes = reduce(v, "open", crafted, states)
    assert bad == v and notes == [f"{crafted!r} is not a unit found by a search; pick one from the list"]


@pytest.mark.parametrize("event", ["context", "span", "open"])
def test_a_jump_starts_the_window_at_a_line_or_word(states, event):
    target = 3000
    value = {"context": target, "span": (target, target + 4),
             "open": {"neuron": "layer1.c.3", "start": target, "stop": target + 1}}[event]
    v, _ = reduce(view(pos=0, length=500), event, value, states)
    assert v.pos <= target < v.stop
    assert v.pos == 0 or TEXT[v.pos - 1] in " \t\n"  # not mid-word
    assert target - v.pos < 500 // 2  # still near the top third of the window
