"""The panels under the text (profile, gate saturation, unit search) as plain functions."""

import json
from dataclasses import replace

import numpy as np
import pytest
from dashboard_files import TEXT, build
from plotly.io.json import to_json_plotly

from app import figures, ids
from app.callbacks.panels import profile_view, saturation_view
from app.callbacks.search import example, example_reply, parse_span, ranked_places, ranking_for, results
from app.catalog import Catalog, cached_states
from app.state import View
from lstmviz.errors import SearchError


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    return cached_states(build(tmp_path_factory.mktemp("panels") / "tiny.h5"))


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    return cached_states(build(tmp_path_factory.mktemp("flat") / "flat.h5", gates=False, n_layer=1))


def drawn_in(component) -> tuple[list[dict], list[dict]]:
    """The lists and tables of a component tree that the browser draws (``data-list``, ``data-table``)."""
    found = json.loads(to_json_plotly(component))
    lists, tables = [], []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("data-list"), str):
                lists.extend(json.loads(node["data-list"]))
            if isinstance(node.get("data-table"), str):
                tables.extend(json.loads(node["data-table"])["rows"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(found)
    return lists, tables


def jumps_in(component, to: str) -> list[dict]:
    """Where every item of a component tree takes the view when clicked, of one kind, in order."""
    lists, tables = drawn_in(component)
    jumps = [item["jump"] for item in lists]
    for row in tables:
        jumps += [c["jump"] for c in row["cells"] if isinstance(c, dict) and "jump" in c]
        jumps += [row["jump"]] if "jump" in row else []
    return [j for j in jumps if j["to"] == to]


def attrs_in(component, attr: str) -> list[dict]:
    """Every JSON-valued ``data-*`` attribute of this name in a component tree, in order."""
    found = json.loads(to_json_plotly(component))
    out = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get(attr), str):
                out.append(json.loads(node[attr]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(found)
    return out


def test_profile_panel_links_every_extreme_context(states):
    panel = profile_view(states, "layer0.c.7")
    s = states.summary("layer0.c")
    expected = [int(p) for p in np.r_[s["top_pos"][7], s["bottom_pos"][7]] if p >= 0]
    assert [i["pos"] for i in jumps_in(panel, "context")] == expected
    [hist] = attrs_in(panel, "data-hist")
    assert sum(hist["counts"]) == states.n_tokens
    assert hist["label"] == "tanh(c)" and (hist["lo"], hist["hi"]) == (-1.0, 1.0)
    snippets = [item["snip"] for item in drawn_in(panel)[0]]  # each context drawn coloured, marked
    assert [sn["w"] + sn["m"][0] for sn in snippets] == expected


def test_saturation_plot_has_a_clickable_point_per_gate_unit(states):
    panel = saturation_view(states, "tiny")
    fig = panel[0].figure
    points = [n for trace in fig.data for n in trace.customdata]
    assert len(points) == 2 * 3 * 16 and "layer1.gates.f.4" in points
    assert panel[0].id == {"type": ids.SATURATION_GRAPH, "file": "tiny"}


def test_files_without_gates_explain_how_to_get_them(flat):
    notice = saturation_view(flat, "flat")[0]
    assert "lstmviz extract --gates" in notice.children


def test_ranking_units_lists_neurons_to_open(states):
    panel = results(states, "depth_paren", compute=True)
    neurons = [i["neuron"] for i in jumps_in(panel, "unit")][::2]  # the unit's name, then its snippet
    assert len(neurons) == 20 and all(n.startswith("layer") for n in neurons)
    again = results(states, "depth_paren", compute=False)  # now cached: shown without recomputing
    assert [i["neuron"] for i in jumps_in(again, "unit")][::2] == neurons


def test_ranking_a_pattern_that_never_occurs_says_so(states):
    notice = results(states, "zzzqqq", compute=True)[0]
    assert notice.children.startswith("Cannot rank units: ")


def test_spans_come_from_text_or_the_marked_text():
    view = View("tiny", "layer1.h.0")
    assert parse_span(" 10 : 20 ", view) == (10, 20)
    assert parse_span(None, replace(view, mark=5, mark_len=2)) == (5, 7)
    with pytest.raises(SearchError, match="type START:END"):
        parse_span("", view)
    with pytest.raises(SearchError, match="'ten' is not a span"):
        parse_span("ten", view)


def test_search_by_example_links_units_and_matching_spans(states):
    start = TEXT.index("getattr")
    panel, _ = example(states, View("tiny", "layer1.h.0"), f"{start}:{start + 2}")
    if isinstance(panel[0].children, str):  # no unit separates this span in a random model
        assert panel[0].children.startswith("Cannot search by example: no unit of layer1.h")
        return
    units = jumps_in(panel, "unit")
    spans = jumps_in(panel, "span")
    assert units and all(u["neuron"].startswith("layer1.h.") for u in units)
    assert all(s["stop"] <= start or s["start"] >= start + 2 for s in spans)


def test_histogram_marks_the_mean(states):
    from app.profiles import profile

    p = profile(states, "layer1.h.2")
    fig = figures.histogram(p)
    assert fig["mean"] == pytest.approx(p.stats["mean"])
    assert len(fig["counts"]) == 50 and len(fig["edges"]) == 51


def test_top_layer_h_profile_lists_the_characters_the_unit_pushes(states):
    import h5py

    from app import profiles
    from lstmviz.model.vocab import visible

    unit = 3
    with h5py.File(states.path) as f:
        column = f["decoder/weight"][:, unit]
    p = profiles.profile(states, f"layer{states.n_layer - 1}.h.{unit}")
    assert p.pushes_up[0] == (visible(states.vocab.symbols[int(column.argmax())]), float(column.max()))
    assert p.pushes_down[0] == (visible(states.vocab.symbols[int(column.argmin())]), float(column.min()))
    panel = json.dumps(json.loads(to_json_plotly(figures.profile_panel(p))))
    assert "pushes" in panel


def test_lower_layers_and_cell_states_have_no_decoder_pushes(states):
    from app import profiles

    assert profiles.profile(states, "layer0.h.3").pushes_up == []
    assert profiles.profile(states, f"layer{states.n_layer - 1}.c.3").pushes_up == []


def test_ranking_shows_the_baseline_a_real_cell_must_beat(states):
    from lstmviz.search.rank import rank_units

    df = rank_units(states, "quote")
    table = figures.search_table(df, "quote", ranked_places(states, df, "quote", raw_c=False))
    text = json.dumps(json.loads(to_json_plotly(table)))
    assert f"Baseline {df.attrs['baseline']:.3f}" in text
    assert f"{df.attrs['null_best']:.3f}" in text and f"{df.attrs['local']:.3f}" in text


def test_an_invalid_pattern_is_explained_in_the_pages_words(states):
    notice = results(states, "([a-z", compute=True)[0]
    assert notice.children == ("Cannot rank units: the pattern '([a-z' is not a valid regular expression "
                               "(unterminated character set at position 1); fix it, e.g. escape special "
                               "characters with a backslash")


def test_a_ranking_stays_until_another_is_asked_for():
    ranked = ranking_for(ids.SEARCH_RUN, "tiny", "quote", r"\[\[", None)
    assert ranked == (["tiny", r"\[\["], True)
    shown = ranked[0]
    for trigger in (ids.SUBJECT_FILE, ids.TABS):  # a unit opened, the text moved, the tab reopened
        assert ranking_for(trigger, "tiny", "quote", r"\[\[", shown) is None
    assert ranking_for(ids.SEARCH_HYPOTHESIS, "tiny", "url", r"\[\[", shown) == (["tiny", "url"], False)
    assert ranking_for(ids.SUBJECT_FILE, "flat", "quote", r"\[\[", shown) == (["flat", "quote"], False)
    assert ranking_for(ids.SEARCH_RUN, "tiny", "quote", "  ", shown) == (["tiny", "quote"], True)


def test_by_example_results_are_cleared_when_the_file_changes(states, flat):
    catalog = Catalog.scan([states.path, flat.path])
    start = TEXT.index("getattr")
    tiny = View("tiny", "layer1.h.0").to_dict()
    panel, found = example_reply(catalog, tiny, f"{start}:{start + 2}", run=True, shown_for=None)
    found_in = {"file": found["file"], "span": found["span"]}  # what the page keeps
    assert found_in == {"file": "tiny", "span": [start, start + 2]} and panel
    assert example_reply(catalog, {**tiny, "neuron": "layer1.h.5"}, "", run=False, shown_for=found_in) is None
    flat_view = {**tiny, "file": "flat", "neuron": "layer0.h.0"}
    assert example_reply(catalog, flat_view, "", run=False, shown_for=found_in) == ([], None)
    assert example_reply(catalog, flat_view, "", run=False, shown_for=None) is None


def test_by_example_bad_input_gets_one_clear_message_each(states, tmp_path):
    catalog = Catalog.scan([states.path])
    view = View("tiny", "layer1.h.0").to_dict()

    def said(text, shown_for=None, **kw):
        panel, slider = example_reply(catalog, view, text, run=True, shown_for=shown_for, **kw)
        assert slider is None and len(panel) == 1
        return panel[0].children

    n = states.n_tokens
    assert said("100:101") == ("Cannot search by example: span 100:101 is one character, and almost any unit "
                               "is on over one character; select at least two (a word, a quotation)")
    assert said(f"0:{n}") == (f"Cannot search by example: span 0:{n} is the whole text, so no unit can be "
                              "off around it; select a part of the text, with at least one position before "
                              "or after it")
    span = TEXT.index("getattr")
    shown_for = {"file": "tiny", "span": [span, span + 7]}
    assert said("", shown_for=shown_for, threshold=5.0).startswith(
        f"Cannot search by example: no unit of layer1.h is on throughout {span}:{span + 7} and off just "
        "before and after it at threshold 5")
    one = Catalog.scan([build(tmp_path / "one.h5", n_layer=1, n_hidden=1)])
    every = []
    for start in range(100, 3000, 7):
        alone = {**view, "file": "one", "neuron": "layer0.h.0"}
        panel, slider = example_reply(one, alone, f"{start}:{start + 3}", run=True, shown_for=None)
        if "selects every unit" in str(panel[0].children):
            every.append(panel[0].children)
    assert every and all(m.startswith("Cannot search by example: threshold ") and
                         m.endswith("selects every unit of layer0.h (1 of 1), so every place would match; "
                                    "raise the threshold") for m in every)


def test_by_example_gives_the_slider_its_range_and_counts(states):
    catalog = Catalog.scan([states.path])
    view = View("tiny", "layer1.h.0").to_dict()
    for start in range(2000, 4000, 5):  # a span where some unit of a random model switches on and off
        panel, slider = example_reply(catalog, view, f"{start}:{start + 4}", run=True, shown_for=None)
        if slider is not None:
            break
    assert slider["file"] == "tiny" and slider["span"] == [start, start + 4]
    assert slider["min"] <= slider["value"] <= slider["max"]
    assert slider["count"].startswith(f"{len(jumps_in(panel, 'unit'))} unit(s) at threshold ")
    again, moved = example_reply(catalog, view, "", run=True, shown_for=slider, threshold=slider["max"])
    assert moved is None or moved["span"] == [start, start + 4]  # the slider searches the same span
