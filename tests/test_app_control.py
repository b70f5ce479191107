"""The controller's logic, the file list and `lstmviz serve`, as plain functions and a CLI runner."""

from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner
from dashboard_files import build, truncated, with_attrs

from app import ids
from app.catalog import Catalog
from app.cli import catalog_for
from app.control import event_of, respond, values_reply, window_reply
from app.state import View
from lstmviz.cli import cli
from lstmviz.errors import StoreError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    good = build(root / "tiny.h5")
    build(root / "flat.h5", n_layer=1, gates=False)
    with_attrs(good, root / "future.h5", **{"encoding-version": "2.0"})
    truncated(good, root / "cut.h5")
    with h5py.File(root / "other.h5", "w") as f:
        f["x"] = [1, 2, 3]
    return root


@pytest.fixture(scope="module")
def catalog(folder):
    return Catalog.scan([folder])


def texts(components) -> list[str]:
    return [c.children for c in components]


def test_a_folder_lists_every_file_and_why_some_cannot_open(catalog):
    by_key = {e.key: e for e in catalog.entries}
    assert sorted(by_key) == ["cut", "flat", "future", "other", "tiny"]
    assert [e.key for e in catalog.usable] == ["flat", "tiny"]
    assert "format version 2.0 is not readable" in by_key["future"].error
    assert "not an lstmviz extraction" in by_key["other"].error
    assert "truncated or damaged" in by_key["cut"].error
    assert by_key["tiny"].label == "tiny.pt (2×16 LSTM) · inspect.py · 6,000 chars"
    disabled = {o["value"] for o in catalog.options() if o["disabled"]}
    assert disabled == {"cut", "future", "other"}
    cut = next(o["label"] for o in catalog.options() if o["value"] == "cut")
    assert cut.startswith("cut.h5 — cannot open: not a readable HDF5 file")
    assert "/" not in cut  # the path, once in the name, not again in the reason


def test_files_with_the_same_name_get_distinct_keys(folder, tmp_path):
    (tmp_path / "tiny.h5").write_bytes((folder / "tiny.h5").read_bytes())
    entries = Catalog.scan([folder / "tiny.h5", tmp_path / "tiny.h5"]).entries
    assert [e.key for e in entries] == ["tiny", "tiny-2"]
    # Same model and text: the labels alone would read the same in the file list.
    where = [e.label.rsplit(" · ", 1)[1] for e in entries]
    assert where == [str(folder / "tiny.h5"), str(tmp_path / "tiny.h5")]
    assert entries[0].label.startswith("tiny.pt (2×16 LSTM) · inspect.py · 6,000 chars · ")


def test_the_first_view_comes_from_the_url(catalog):
    out = respond(catalog, ("url", "?file=tiny&neuron=layer0.gates.f.7&pos=1200"), None)
    assert out["state"]["neuron"] == "layer0.gates.f.7"
    assert out["search"] == "?file=tiny&neuron=layer0.gates.f.7&pos=1200&mode=grid"
    assert (out["layer"], out["kind"], out["unit"], out["position"]) == (0, "gates.f", 7, 1200)
    assert [o["value"] for o in out["kind_options"]] == ["h", "c", "gates.i", "gates.f", "gates.g", "gates.o"]
    assert out["message"] == []


def test_a_url_naming_an_unusable_file_says_so_and_shows_another(catalog):
    out = respond(catalog, ("url", "?file=future&neuron=layer0.h.1"), None)
    assert out["state"]["file"] == "flat"
    assert texts(out["message"])[0].startswith("file 'future' cannot be opened: ")


def test_switching_files_keeps_the_neuron_when_it_exists(catalog):
    tiny = View("tiny", "layer0.c.4", pos=3000).to_dict()
    out = respond(catalog, ("file", "flat"), tiny)
    assert (out["state"]["file"], out["state"]["neuron"], out["state"]["pos"]) == ("flat", "layer0.c.4", 0)
    assert [o["value"] for o in out["kind_options"]] == ["h", "c"]
    gate = View("tiny", "layer1.gates.o.2").to_dict()
    out = respond(catalog, ("file", "flat"), gate)
    assert out["state"]["neuron"] == "layer0.c.0"
    assert "cannot be shown" in texts(out["message"])[0]


def test_a_file_damaged_while_serving_gives_a_message(tmp_path):
    path = build(tmp_path / "late.h5")
    catalog = Catalog.scan([path])
    view = View("late", "layer0.h.0", pos=5000).to_dict()
    assert window_reply(catalog, view)[0] is not None
    cut = truncated(path, tmp_path / "cut.h5")  # replaced under the running dashboard
    cut.replace(path)
    for reply in (window_reply, values_reply):
        payload, note = reply(catalog, view)
        assert payload is None
        assert "late.h5" in texts(note)[0] and "run `lstmviz extract` again" in texts(note)[0]


def test_events_are_named_from_the_triggering_control():
    assert event_of(None, None, {"search": "?pos=3"}) == ("url", "?pos=3")
    assert event_of(ids.UNIT_PREV, 4, {}) == ("unit_step", -1)
    assert event_of(ids.FIND_TEXT, 1, {"find": "quote"}) == ("find", ("quote", 1))
    assert event_of(ids.GO, 2, {"position": 880}) == ("goto", 880)
    assert event_of(ids.JUMP, {"to": "context", "pos": 77, "n": 1}, {}) == ("context", 77)
    assert event_of(ids.JUMP, None, {}) is None  # the store before any click
    assert event_of(ids.JUMP, {"to": "span", "start": 5, "stop": 9, "n": 2}, {}) == ("span", (5, 9))
    opened = {"to": "unit", "neuron": "layer1.c.3", "start": 40, "stop": 41, "why": "quote", "n": 3}
    assert event_of(ids.JUMP, opened, {}) == ("open", {"neuron": "layer1.c.3", "start": 40, "stop": 41,
                                                       "why": "quote"})
    assert event_of(ids.JUMP, {"to": "elsewhere"}, {}) is None
    click = {"points": [{"customdata": "layer1.gates.f.3"}]}
    clicked = event_of({"type": ids.SATURATION_GRAPH, "file": "tiny"}, click, {})
    assert clicked == ("neuron", "layer1.gates.f.3")


def test_serve_refuses_a_named_file_that_is_not_an_extraction(folder, monkeypatch):
    monkeypatch.chdir(folder)  # the file is named as the user typed it
    result = CliRunner().invoke(cli, ["serve", "other.h5"])
    assert result.exit_code == 1
    assert result.output == ("Error: other.h5: not an lstmviz extraction (no 'lstmviz-states' "
                             "header); create one with `lstmviz extract MODEL TEXT`\n")


def test_serve_refuses_a_folder_without_extractions(tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no lstmviz extraction files in {tmp_path}; create one with")


def test_serve_starts_the_app_and_prints_its_address(folder, monkeypatch):
    calls = []
    monkeypatch.setattr("dash.Dash.run", lambda self, **kw: calls.append(kw))
    monkeypatch.chdir(folder.parent)
    result = CliRunner().invoke(cli, ["serve", folder.name, "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "Serving 2 file(s) at http://127.0.0.1:8123/" in result.stdout
    skipped = str(Path(folder.name) / "future.h5")
    assert f"Skipping {skipped}: format version 2.0" in result.stderr
    assert result.stderr.count("future.h5") == 1
    assert calls == [{"host": "127.0.0.1", "port": 8123, "debug": False,
                      "dev_tools_disable_version_check": True}]


def test_serve_help_has_an_example():
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert "lstmviz serve cache/wiki_val.h5" in result.output
    assert "[default: 8050" in result.output


def test_catalog_for_names_the_unusable_file(folder):
    with pytest.raises(StoreError, match="format version 2.0"):
        catalog_for((folder / "future.h5",))


def test_only_controls_that_change_are_sent(catalog):
    view = View("tiny", "layer0.h.3", pos=100).to_dict()
    shown = {"file": "tiny", "layer": 0, "kind": "h", "unit": 3, "mode": "grid", "palette": "blog",
             "raw_c": [], "length": 500, "position": 100, "slider": 100}
    out = respond(catalog, ("unit_step", 1), view, shown)
    assert set(out) == {"state", "search", "message", "unit", "subject_values", "subject_neuron"}
    assert out["unit"] == 4 and out["subject_neuron"] == ["tiny", "layer0.h.4", False]
    typed = {**shown, "unit": 99}  # a unit the file lacks: the box must be set back
    out = respond(catalog, ("unit", 99), view, typed)
    assert out["unit"] == 3
    assert texts(out["message"]) == ["there is no unit 99: units run from 0 to 15"]
    out = respond(catalog, ("file", "flat"), view, shown)
    assert {"kind_options", "layer_options", "slider_max", "file_info"} <= set(out)


def test_each_part_of_the_page_is_told_only_of_changes_to_its_subject(catalog):
    """The text, colours, profile and search panels ask the server for content on these alone."""
    view = View("tiny", "layer0.h.3", pos=100).to_dict()
    subjects = {k for k in respond(catalog, ("url", "?file=tiny"), None) if k.startswith("subject_")}
    assert subjects == {"subject_window", "subject_values", "subject_neuron", "subject_file"}
    for event, told in [(("unit_step", 1), {"subject_values", "subject_neuron"}),
                        (("page", 1), {"subject_window", "subject_values"}),
                        (("palette", "diverging"), {"subject_values"}),
                        (("mode", "prose"), {"subject_window", "subject_values"}),
                        (("unit", 3), set()),
                        (("file", "flat"), {"subject_window", "subject_values", "subject_neuron",
                                            "subject_file"})]:
        out = respond(catalog, event, view)
        assert {k for k in out if k.startswith("subject_")} == told, event
        for key in told:
            assert out[key] == View.from_dict(out["state"]).subjects()[key.removeprefix("subject_")]


def test_an_empty_position_box_is_refilled_with_a_message(catalog):
    view = View("tiny", "layer0.h.3", pos=100).to_dict()
    shown = {"file": "tiny", "layer": 0, "kind": "h", "unit": 3, "mode": "grid", "palette": "blog",
             "raw_c": [], "length": 500, "position": None, "slider": 100}
    assert event_of(ids.GO, 1, {"position": None}) == ("goto", None)
    out = respond(catalog, ("goto", None), view, shown)
    assert out["state"] == view and out["position"] == 100
    assert texts(out["message"]) == ["type a position from 0 to 5,999"]


def test_the_slider_ends_at_the_last_position(catalog):
    out = respond(catalog, ("url", "?file=tiny"), None)
    assert (out["slider_max"], out["slider_marks"]) == (5999, {0: "0", 5999: "5,999"})


def test_one_reply_carries_the_view_and_what_the_text_needs(catalog):
    from app.control import reply

    first = reply(catalog, ("url", "?file=tiny&neuron=layer0.h.3&pos=100"), None)
    assert first["window"]["start"] == first["values"]["start"] == 100
    assert first["values"]["neuron"] == "layer0.h.3"
    assert first["values"]["subject"] == ["tiny", "layer0.h.3", False]
    assert first["caption"].startswith("layer0.h.3 (hidden state h, layer 0, unit 3)")
    step = reply(catalog, ("unit_step", 1), first["state"])
    assert "window" not in step and step["values"]["neuron"] == "layer0.h.4"  # the cells are recoloured
    assert step["caption"].startswith("layer0.h.4")
    page = reply(catalog, ("page", 1), step["state"])
    assert page["window"]["start"] == page["values"]["start"] == 600 and "caption" not in page
    landing = reply(catalog, ("url", "?file=tiny"), None)
    assert "shown by default" in landing["caption"]


def test_the_caption_names_the_hypothesis_score_and_baseline(catalog, folder):
    from app.catalog import cached_states
    from app.control import reply
    from lstmviz.search.rank import rank_units

    df = rank_units(cached_states(folder / "tiny.h5"), "quote", top=1)
    best = df.iloc[0]
    out = reply(catalog, ("url", f"?file=tiny&neuron={best.neuron}&pos=0&why=quote"), None)
    words = "higher inside" if best.direction == "+" else "lower inside"
    assert out["caption"] == (
        f"{best.neuron} ({out['caption'].split('(', 1)[1].split(')')[0]}) tracks quote "
        f"({df.attrs['description']}): AUROC {best.score:.3f}, {words}; baseline {df.attrs['baseline']:.3f}, "
        f"so {best.score - df.attrs['baseline']:+.3f} above it")
    unranked = reply(catalog, ("url", "?file=tiny&neuron=layer0.h.1&why=%5Bxyz%5D"), None)
    assert unranked["caption"].endswith("opened for '[xyz]'")
