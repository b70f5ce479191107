"""Every consumer of the table of kinds (lstmviz/kinds.py) covers every row of it.

A new kind of activation should be a new row and nothing else: each test here walks the whole
table through one consumer (extraction, storage, summaries, colours, legends, menus, the CLI, the
browser), on a real extraction of a tiny model that stores every kind.
"""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from click import Choice
from dashboard_files import build

from app import data, figures
from app.catalog import Catalog, cached_states
from app.control import controls
from app.state import View
from lstmviz.cli.searching import search
from lstmviz.extraction import summarize
from lstmviz.extraction.extract import activation_names
from lstmviz.kinds import CHOICES, DISPLAY_RANGES, GATES, KINDS, kinds_named
from lstmviz.names import Neuron, act_name
from lstmviz.render import palette, style

ALL = list(KINDS)


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("kinds") / "tiny.h5")  # two layers, gates stored


@pytest.fixture(scope="module")
def states(path):
    return cached_states(path)


def test_the_table_is_in_file_order_and_consistent():
    assert ALL == ["h", "c", "gates.i", "gates.f", "gates.g", "gates.o"]
    assert GATES == ("gates.i", "gates.f", "gates.g", "gates.o")
    for key, kind in KINDS.items():
        assert kind.key == key
        assert kind.value_range is not None or kind.display is not None  # something to colour over
        lo, hi = kind.display_range
        assert lo <= kind.saturation[0] < kind.saturation[1] <= hi
        assert kind.dtype in ("float16", "float32")
    assert len({k.label for k in KINDS.values()}) == len(KINDS)  # one name per kind, and each its own


def test_every_kind_is_extracted_and_stored_in_its_dtype(states, path):
    assert activation_names(2, gates=True) == [act_name(layer, k) for layer in (0, 1) for k in ALL]
    assert states.kinds() == ALL
    with h5py.File(path, "r") as f:
        for name in states.names:
            kind = KINDS[Neuron.parse(f"{name}.0").kind]
            assert f[name.replace(".", "/")].dtype == np.dtype(kind.storage_dtype())


@pytest.mark.parametrize("kind", ALL)
def test_summaries_count_saturation_by_the_table(states, kind):
    row = KINDS[kind]
    lo, hi = row.saturation
    eps = 1e-3  # the summaries count values before their float16 rounding; the file holds them after
    counted = 0.0
    for layer in range(states.n_layer):
        name = act_name(layer, kind)
        shown = palette.display_values(kind, states.window(name, 0, states.n_tokens).astype(np.float64))
        s = states.summary(name)
        below = (shown < lo - eps).mean(0), (shown < lo + eps).mean(0)
        above = (shown >= hi + eps).mean(0), (shown >= hi - eps).mean(0)
        assert np.all((below[0] <= s["sat_lo"]) & (s["sat_lo"] <= below[1]))
        assert np.all((above[0] <= s["sat_hi"]) & (s["sat_hi"] <= above[1]))
        counted += s["sat_lo"].sum() + s["sat_hi"].sum()
        if row.value_range is not None:
            assert np.all(s["hist_lo"] == row.value_range[0]) and np.all(s["hist_hi"] == row.value_range[1])
    assert counted > 0  # some unit saturates, so the comparison says something


@pytest.mark.parametrize("kind", ALL)
def test_colours_legends_and_labels_name_every_kind(states, kind):
    row = KINDS[kind]
    assert palette.display_range(kind) == row.display_range
    assert style.quantity(kind) == row.shown()
    assert figures.saturation_labels(kind)["sat_hi"].endswith(f"≥ {row.saturation[1]:g})")
    v = data.values_payload(states, f"{act_name(0, kind)}.3", 0, 50, palette="blog", raw_c=False)
    assert (v["lo"], v["hi"]) == row.display_range
    assert (v["layer"], v["kind"], v["unit"], v["display"]) == (0, kind, 3, row.display)
    assert v["label"] == f"{act_name(0, kind)}.3: {row.shown()}"


def test_the_kind_menu_and_the_file_list_use_the_table(states, path):
    catalog = Catalog.scan([path])
    shown = controls(View(catalog.default().key, "layer0.h.0"), states, catalog)
    assert shown["kind_options"] == [{"label": KINDS[k].menu_label, "value": k} for k in ALL]
    assert shown["file_info"].startswith(f"stores {', '.join(KINDS[k].label for k in ALL)} · ")


def test_the_saturation_plot_shows_every_switch(states):
    switches = [k for k in ALL if KINDS[k].switch]
    df = data.saturation(states)
    assert list(dict.fromkeys(df["kind"])) == switches
    fig = figures.saturation(df, states.n_layer)
    assert [t.name for t in fig.data] == [KINDS[k].label for k in switches] * states.n_layer
    assert [t.marker.color for t in fig.data][: len(switches)] == [KINDS[k].colour for k in switches]


def test_search_accepts_every_kind_and_all_gates_at_once():
    kind_option = next(p for p in search.params if p.name == "kind")
    assert isinstance(kind_option.type, Choice) and list(kind_option.type.choices) == list(CHOICES)
    assert set(ALL) < set(CHOICES)
    assert kinds_named("gates") == GATES and all(kinds_named(k) == (k,) for k in ALL)


def test_every_display_function_is_known_wherever_values_are_shown():
    displays = {k.display for k in KINDS.values()} - {None}
    js = (Path(__file__).parents[1] / "assets" / "lstmviz.js").read_text()
    known_js = set(re.search(r"const DISPLAY = \{([^}]*)\}", js)[1].replace(" ", "").split(","))
    for display in displays:
        assert display in DISPLAY_RANGES and display in palette.DISPLAY_FUNCTIONS
        assert display in summarize._INVERSE
        assert f"{display}:Math.{display}" in known_js
