"""The Evolution and Compare views' functions, on a real tiny evolution file and real extractions."""

import math

import pytest
from evolution_files import CHARS, STEPS, build_evolution, build_pair
from extraction_files import TEXT, write_text

from app import comparing
from app.catalog import Catalog, snapshot_key
from app.comparing import comparison, default_unit, match_of, window
from app.evolution import chosen, default_hypothesis, figure, open_snapshot, samples, snapshot_index
from app.state import PageError
from lstmviz.errors import CheckpointError, StoreError, TextError
from lstmviz.evolution.sources import extraction_path
from lstmviz.extraction.extract import extract_string


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evo")
    path = build_evolution(folder)
    a, b = build_pair(folder / "run.snapshots")  # extractions in a folder not scanned as evolution
    return folder, path, Catalog.scan([folder, a, b])


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_the_catalog_keeps_evolution_files_apart(served):
    _, path, catalog = served
    assert [e.key for e in catalog.evolutions] == ["evolution"]
    assert [e.key for e in catalog.usable] == ["a", "b"]
    assert catalog.evolutions[0].label == f"3 snapshots (step 10 to step 1,000) · text.txt · {CHARS:,} chars"


def test_the_figure_has_the_best_unit_the_lineage_the_band_and_the_loss(served):
    _, _, catalog = served
    key, ev, name = chosen(catalog, "")
    assert key == "evolution" and name == default_hypothesis(ev)
    last = ev.hypotheses[name].lineage[-1]
    assert all(t.lineage[-1].margin <= last.margin for t in ev.hypotheses.values() if t.lineage[-1].neuron)
    fig = figure(ev, name)
    names = [t.name for t in fig.data]
    assert "best unit at each snapshot" in names and f"{last.neuron} followed back" in names
    band = next(t for t in fig.data if t.fill == "tonexty")
    assert list(band.y) == pytest.approx([c.baseline + ev.margin for c in ev.hypotheses[name].best])
    assert list(next(t for t in fig.data if t.name == "best unit at each snapshot").x) == list(STEPS)
    assert fig.layout.xaxis.type == "log"
    table = samples(ev, name)
    rows = table.children[1].children
    assert len(rows) == 3 and rows[0].children[4].children.children == ev.snapshots[0].sample


def test_bad_requests_are_one_line(served):
    _, _, catalog = served
    with pytest.raises(PageError, match="evolution file 'nope' is not on this server"):
        chosen(catalog, "?file=nope")
    with pytest.raises(PageError, match="the evolution has no hypothesis 'nope'; pick one of"):
        chosen(catalog, "?file=evolution&hypothesis=nope")
    _, ev, _ = chosen(catalog, "")
    for bad in (3, -1, True, "1", None):
        with pytest.raises(PageError, match="this evolution has 3"):
            snapshot_index(ev, bad)


def test_a_snapshot_opens_in_the_text_view_at_the_lineage_unit(served):
    folder, _, catalog = served
    key, ev, name = chosen(catalog, "")
    assert catalog.get(snapshot_key(key, 1)) is None  # not extracted yet
    href = open_snapshot(catalog, key, ev, name, 1)
    unit = ev.hypotheses[name].lineage[1].neuron or ev.hypotheses[name].best[1].neuron
    assert href.startswith(f"/?file={key}%401&neuron={unit}&")
    entry = catalog.get(snapshot_key(key, 1))
    assert entry.path == extraction_path(ev, 1) and entry.path.parent.parent.parent.name == "cache"
    assert not any(p.suffix == ".h5" and p.name != "evolution.h5" for p in folder.iterdir())  # nothing beside
    from app.catalog import cached_states
    states = cached_states(entry.path)
    assert states.n_tokens == min(CHARS, ev.n_chars) and states.text(0, 50) == TEXT[:50]
    assert [o["value"] for o in catalog.options()] == ["a", "b", "evolution@1"]


def test_a_moved_checkpoint_or_text_is_said_in_one_line(served, tmp_path):
    folder, _, catalog = served
    key, ev, name = chosen(catalog, "")
    moved = folder / "run.snapshots" / "step-000100.pt"
    moved.rename(tmp_path / "away.pt")
    try:
        said = r"^step 100: checkpoint step-000100.pt not found in .*evo\d*/ and the folders in it"
        with pytest.raises(CheckpointError, match=said):
            open_snapshot(catalog, key, ev, name, 1)
    finally:
        (tmp_path / "away.pt").rename(moved)
    text = folder / "text.txt"
    write_text(text, "x" + TEXT)
    try:
        with pytest.raises(TextError, match="text text.txt not found in"):
            open_snapshot(catalog, key, ev, name, 0)
    finally:
        write_text(text)


def test_compare_pairs_units_and_colours_the_same_characters(served):
    _, _, catalog = served
    result = comparison(catalog, "a", "b")
    unit = default_unit(result)
    twin, r = match_of(result, unit)
    assert twin.startswith(unit.rsplit(".", 2)[0].split(".")[0]) and -1 <= r <= 1 and not math.isnan(r)
    a, b = window(str(catalog.get("a").path), unit, 0), window(str(catalog.get("b").path), twin, 0)
    assert a.count('<div class="lv-group">') == b.count('<div class="lv-group">') > 0  # the same lines
    assert f"<title>{unit}</title>" in a and f"<title>{twin}</title>" in b
    with pytest.raises(PageError, match="file 'zzz' \\(B\\) is not on this server"):
        comparison(catalog, "a", "zzz")
    with pytest.raises(PageError, match="unit layer0.h.3 of A is not matched"):
        match_of(result, "layer0.h.3")


def test_compare_refuses_long_files_and_different_texts(served, monkeypatch):
    folder, _, catalog = served
    monkeypatch.setattr(comparing, "MAX_POSITIONS", 2_999)
    said = r"^a.h5 holds 3,000 positions; the page compares files of at most 2,999: run `lstmviz compare`"
    with pytest.raises(PageError, match=said):
        comparison(catalog, "a", "b")
    monkeypatch.undo()
    other = extract_string(folder / "run.snapshots" / "a.pt", TEXT[1:3001], folder / "other" / "c.h5")
    mixed = Catalog.scan([catalog.get("a").path, other])
    with pytest.raises(TextError, match=r"^a.h5 and c.h5 are extractions of different texts"):
        comparison(mixed, "a", "c")


def test_serve_takes_an_evolution_file_alone_and_refuses_a_damaged_one(served, tmp_path):
    import h5py

    from app.cli import catalog_for

    _, path, _ = served
    catalog = catalog_for((path,))
    assert catalog.usable == [] and [e.key for e in catalog.evolutions] == ["evolution"]
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.attrs.update({"encoding-type": "lstmviz-evolution", "encoding-version": "1.0"})
    with pytest.raises(StoreError, match=r"broken.h5: the evolution file is damaged .*write it again"):
        catalog_for((broken,))
