"""The Python API on a small real extraction: views equal h5py reads, tables equal the reader's,
bad input is a typed error worded as the command line words it, and nothing heavy is imported early."""

import numpy as np
import pytest
from click.testing import CliRunner
from dashboard_files import TEXT, build, names_of
from test_torch_free import fresh_python

import lstmviz
from lstmviz.cli import cli
from lstmviz.errors import (
    BadIndex,
    ExtractionClosed,
    ExtractionNotFound,
    LstmvizError,
    PositionOutOfRange,
    SearchError,
    SpanError,
    StoreError,
    UnitOutOfRange,
    UnknownActivation,
    UnknownKey,
)
from lstmviz.names import h5_path
from lstmviz.search.hypotheses import pattern_hypothesis
from lstmviz.search.rank import rank_all, rank_units
from lstmviz.store.reader import open_states

H = 16  # units per layer of the fixture's model


@pytest.fixture(scope="module")
def h5(tmp_path_factory):
    return build(tmp_path_factory.mktemp("api") / "tiny.h5")


@pytest.fixture()
def ex(h5):
    with lstmviz.open(h5) as opened:
        yield opened


def cli_error(*args) -> str:
    """The message of `lstmviz ARGS`, which must fail in one line."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    return result.output.removeprefix("Error: ").rstrip("\n")


# --- the top level --------------------------------------------------------------------------------


def test_the_public_names_are_the_librarys_own_functions():
    from lstmviz.api.extraction import Extraction, open_extraction
    from lstmviz.api.making import extract
    from lstmviz.model.loading import load_model

    assert lstmviz.open is open_extraction and lstmviz.Extraction is Extraction
    assert lstmviz.extract is extract and lstmviz.load_model is load_model
    assert {"open", "extract", "load_model", "Extraction", "Figure"} <= set(dir(lstmviz))
    assert "open" not in lstmviz.__all__  # `from lstmviz import *` must not hide the builtin open
    with pytest.raises(AttributeError, match="module 'lstmviz' has no attribute 'nope'"):
        lstmviz.nope  # noqa: B018


HEAVY = "sorted(m for m in ('torch', 'h5py', 'dash', 'pandas') if m in sys.modules)"


def test_importing_lstmviz_loads_nothing_heavy():
    assert fresh_python(f"import sys, lstmviz; lstmviz.__version__; print({HEAVY})") == "[]"


def test_opening_reading_and_showing_load_neither_torch_nor_dash(h5):
    code = f"""
import sys, lstmviz
with lstmviz.open({str(h5)!r}) as ex:
    ex["layer1.c.3"][10:20]; ex["layer0.h"][0:5, [1, 2]]; ex.text[0:50]
    ex.predictions(0, 10); ex.summaries(); ex.show(["layer1.c.3", "layer0.h.1"], 0, 80)._repr_html_()
print({HEAVY})
"""
    assert fresh_python(code) == "['h5py', 'pandas']"


# --- views ----------------------------------------------------------------------------------------


def test_the_text_and_the_names_are_the_files(ex, h5):
    assert len(ex) == len(TEXT) == len(ex.text)
    assert ex.text[:] == TEXT and ex.text[1200:1260] == TEXT[1200:1260]
    assert ex.text[-30:] == TEXT[-30:] and ex.text[5] == TEXT[5] and ex.text[-1] == TEXT[-1]
    assert ex.text[7:7] == ""
    assert ex.names == names_of(h5)
    assert ex.neurons == [f"{name}.{u}" for name in names_of(h5) for u in range(H)]
    assert (ex.n_layer, ex.n_hidden, ex.vocab.symbols[0]) == (2, H, sorted(set(TEXT))[0])
    assert ex.attrs["text_path"] == "inspect.py"


def test_every_view_equals_an_h5py_read_of_the_documented_dataset(ex, h5):
    import h5py

    with h5py.File(h5, "r") as f:
        for name in names_of(h5):
            stored = f[h5_path(name)]
            view = ex[name]
            assert view.shape == stored.shape == (len(TEXT), H) and len(view) == len(TEXT)
            np.testing.assert_array_equal(view[100:350], stored[100:350].astype(np.float32))
            assert view[100:350].dtype == np.float32
            np.testing.assert_array_equal(view[100:350, [7, 2, 7]], stored[100:350][:, [7, 2, 7]])
            np.testing.assert_array_equal(view[100:350, 4], stored[100:350, 4])
            np.testing.assert_array_equal(view[100:350, 2:9:3], stored[100:350, 2:9:3])
            np.testing.assert_array_equal(view[100:350, np.array([1, 0])], stored[100:350][:, [1, 0]])
            np.testing.assert_array_equal(view[-5:, -1], stored[-5:, H - 1])
            np.testing.assert_array_equal(view[42], stored[42])
            assert view[42, 3] == np.float32(stored[42, 3])
            assert view[9:9].shape == (0, H)
            np.testing.assert_array_equal(ex[f"{name}.11"][:], stored[:, 11])
            np.testing.assert_array_equal(ex[f"{name}.11"][3000:3100], stored[3000:3100, 11])
            assert ex[f"{name}.11"][3000] == np.float32(stored[3000, 11])
            assert ex[f"{name}.11"].shape == (len(TEXT),)


def test_neurons_may_be_given_as_neurons(ex):
    from lstmviz.names import Neuron

    np.testing.assert_array_equal(ex[Neuron(0, "gates.f", 3)][0:10], ex["layer0.gates.f.3"][0:10])
    assert repr(ex["layer0.gates.f.3"]) == f"<layer0.gates.f.3: {len(TEXT):,} positions, read by window>"
    assert repr(ex["layer1.c"]) == f"<layer1.c: {len(TEXT):,} positions x {H} units, read by window>"


def test_predictions_are_the_files(ex, h5):
    import h5py

    table = ex.predictions(len(TEXT) - 40, len(TEXT))
    assert list(table.columns) == ["char", "next", "p_next", "loss_bits", "top1", "top2", "top3", "top4",
                                   "top5", "p1", "p2", "p3", "p4", "p5"]
    assert list(table.index) == list(range(len(TEXT) - 40, len(TEXT))) and table.index.name == "position"
    assert "".join(table["char"]) == TEXT[-40:]
    assert list(table["next"][:-1]) == list(TEXT[-39:])
    assert table["next"].isna().tolist() == [False] * 39 + [True]
    with h5py.File(h5, "r") as f:
        stored = {k: f[f"/predictions/{k}"][-40:] for k in ("top_ids", "top_probs", "p_next", "loss_bits")}
    np.testing.assert_array_equal(table["p_next"], stored["p_next"])
    np.testing.assert_array_equal(table["loss_bits"], stored["loss_bits"])
    symbols = ex.vocab.symbols
    for r in range(5):
        assert list(table[f"top{r + 1}"]) == [symbols[i] for i in stored["top_ids"][:, r]]
        np.testing.assert_array_equal(table[f"p{r + 1}"], stored["top_probs"][:, r])
    assert np.isnan(table["p_next"].iloc[-1]) and not table["p_next"].iloc[:-1].isna().any()


def test_summaries_are_the_files(ex, h5):
    import h5py

    table = ex.summaries()
    assert len(table) == len(names_of(h5)) * H
    assert list(table.columns) == ["neuron", "name", "layer", "kind", "unit", "mean", "std", "min", "max",
                                   "hist_lo", "hist_hi", "sat_hi", "sat_lo"]
    assert list(table["neuron"]) == ex.neurons
    with h5py.File(h5, "r") as f:
        for name in names_of(h5):
            rows = table[table["name"] == name]
            for key in ("mean", "std", "min", "max", "sat_hi"):
                np.testing.assert_array_equal(rows[key], f[f"/summaries{h5_path(name)}/{key}"][()])
    one = ex.summaries("layer1.c")
    assert list(one["neuron"]) == [f"layer1.c.{u}" for u in range(H)] and set(one["kind"]) == {"c"}


# --- search ---------------------------------------------------------------------------------------


def test_search_is_rank_units(ex, h5):
    ours = ex.search("quote", top=5)
    with open_states(h5) as s:
        theirs = rank_units(s, "quote", top=5)
        pattern = rank_units(s, pattern_hypothesis(r"def \w+"), top=3)
        assert ex.search_all().equals(rank_all(s))
    assert ours.equals(theirs) and ours.attrs == theirs.attrs and len(ours) == 5
    assert ex.search(pattern=r"def \w+", top=3).equals(pattern)
    layer = ex.search("indent", top=None, layer=1, kind="c")
    assert len(layer) == H and set(layer["name"]) == {"layer1.c"}
    values = (np.arange(len(TEXT)) % 7 == 0).astype(np.float32)
    assert ex.search(values, top=2)["neuron"].tolist() == ex.search(values, top=None)["neuron"][:2].tolist()


def test_search_refuses_what_it_cannot_run(ex):
    with pytest.raises(SearchError, match=r"^give exactly one of a hypothesis \(e.g. ex.search\('quote'\)\) "
                                          "or pattern=$"):
        ex.search("quote", pattern="x")
    with pytest.raises(SearchError, match="^give exactly one"):
        ex.search()
    with pytest.raises(SearchError) as e:
        ex.search("quotes")
    assert str(e.value).startswith("'quotes' is not a built-in hypothesis; choose one of ")
    assert str(e.value).endswith(", or search a regular expression with pattern='quotes'")
    with pytest.raises(UnknownKey, match=r"^no layer 5 in tiny.h5 \(layers: 0..1\)$"):
        ex.search("quote", layer=5)
    with pytest.raises(SearchError, match="hypothesis 'pattern QQQ' is never true in this text"):
        ex.search(pattern="QQQ")


# --- bad input ------------------------------------------------------------------------------------


def test_a_name_the_file_lacks_is_a_key_error_worded_as_the_cli(ex, h5):
    for bad in ("no.such.neuron", "layer0.c.99", "layer7.h.1", "layer1.q"):
        with pytest.raises(UnknownKey) as e:
            ex[bad]
        assert isinstance(e.value, KeyError) and isinstance(e.value, UnknownActivation)
        assert str(e.value) == cli_error("export", h5, "-n", bad, "--start", 0, "--length", 5)
    with pytest.raises(UnknownKey, match=r"^tiny.h5 has no activation 'layer3.c'; available: layer0.h, "):
        ex["layer3.c"]
    with pytest.raises(UnknownKey) as e:
        ex.summaries("layer3.c")
    assert str(e.value).startswith("tiny.h5 has no activation 'layer3.c'")
    with pytest.raises(BadIndex, match=r"^an extraction is indexed by name, e.g. ex\['layer1.c.117'\]"):
        ex[5]
    with pytest.raises(TypeError):
        ex[5]


def test_positions_outside_the_text_are_an_index_error_worded_as_the_cli(ex, h5):
    n = len(TEXT)
    expected = cli_error("export", h5, "-n", "layer0.c.1", "--start", n - 5, "--length", 10)
    for read in (lambda: ex.text[n - 5 : n + 5], lambda: ex["layer0.c"][n - 5 : n + 5],
                 lambda: ex["layer0.c.1"][n - 5 : n + 5], lambda: ex["layer0.c"][n - 5 : n + 5, 2],
                 lambda: ex.predictions(n - 5, n + 5)):
        with pytest.raises(PositionOutOfRange) as e:
            read()
        assert isinstance(e.value, IndexError) and isinstance(e.value, SpanError)
        assert str(e.value) == expected
    with pytest.raises(PositionOutOfRange, match=rf"^span {n}:{n + 1} is not within the text of tiny.h5 "):
        ex["layer1.h.0"][n]
    with pytest.raises(PositionOutOfRange, match=rf"^span -{n + 1}:{n} is not within"):
        ex.text[-n - 1 :]
    with pytest.raises(PositionOutOfRange, match=r"^span 50:40 is not within"):
        ex.text[50:40]
    with pytest.raises(IndexError):
        ex.show("layer0.c.1", n - 5, 10)


def test_a_step_is_refused_with_the_numpy_way_to_step(ex):
    with pytest.raises(PositionOutOfRange) as e:
        ex["layer0.c"][0:100:2]
    assert str(e.value) == ("[0:100:2] has a step; positions are read as one contiguous slice: read [0:100] "
                            "and step through the array in numpy, [0:100][::2]")
    with pytest.raises(PositionOutOfRange, match=r"^\[::-1\] has a step"):
        ex.text[::-1]


def test_units_outside_the_activation_are_an_index_error(ex):
    for units in (H, [0, H], slice(0, H + 4), -H - 1):
        with pytest.raises(UnitOutOfRange) as e:
            ex["layer1.c"][0:10, units]
        assert isinstance(e.value, IndexError)
    with pytest.raises(UnitOutOfRange, match=rf"^layer1.c has units 0..{H - 1}; there is no unit {H}$"):
        ex["layer1.c"][0:10, H]
    with pytest.raises(UnitOutOfRange, match=r"^\[9:2\] runs backwards; layer1.c has units 0..15$"):
        ex["layer1.c"][0:10, 9:2]
    with pytest.raises(BadIndex, match="^units are indexed by a number, a slice or a list of .*, not float$"):
        ex["layer1.c"][0:10, 1.5]
    with pytest.raises(BadIndex, match="^units must be whole numbers, not 1.5$"):
        ex["layer1.c"][0:10, [2, 1.5]]
    with pytest.raises(BadIndex, match="^positions are indexed by a slice"):
        ex["layer1.c"][[1, 2]]
    with pytest.raises(BadIndex, match=r"^layer1.c has two axes \(positions, units\); got 3 indices$"):
        ex["layer1.c"][0:1, 0, 0]


def test_a_file_that_is_not_an_extraction_is_refused_as_the_cli_refuses_it(tmp_path, h5):
    text = tmp_path / "notes.txt"
    text.write_text("not an extraction")
    with pytest.raises(StoreError) as e:
        lstmviz.open(text)
    assert str(e.value) == cli_error("info", text)
    assert str(e.value).endswith("not an HDF5 file, not an extraction; make one with `lstmviz extract MODEL "
                                 "TEXT`")
    missing = tmp_path / "none.h5"
    with pytest.raises(ExtractionNotFound) as e:
        lstmviz.open(missing)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, LstmvizError)
    assert str(e.value) == f"{missing}: no such file; create it with `lstmviz extract`"


def test_after_closing_every_call_is_refused_in_one_line(h5):
    ex = lstmviz.open(h5)
    text, neuron, activation = ex.text, ex["layer0.c.1"], ex["layer0.c"]
    ex.close()
    ex.close()  # twice is fine
    assert ex.closed and repr(ex) == f"<Extraction {h5} (closed)>"
    expected = f"tiny.h5: the extraction was closed; open it again with lstmviz.open({str(h5)!r})"
    for call in (lambda: text[0:5], lambda: neuron[0:5], lambda: activation[0:5, 1], lambda: ex["layer0.c"],
                 lambda: len(ex), lambda: ex.text, lambda: ex.neurons, lambda: ex.predictions(0, 5),
                 lambda: ex.summaries(), lambda: ex.search("quote"), lambda: ex.show("layer0.c.1", 0, 5),
                 lambda: ex.serve(), lambda: ex.attrs):
        with pytest.raises(ExtractionClosed) as e:
            call()
        assert str(e.value) == expected and isinstance(e.value, ValueError)


# --- reads ----------------------------------------------------------------------------------------


@pytest.fixture()
def reads(monkeypatch):
    """Every read of an activation dataset as (path, rows read), through h5py's two ways of reading."""
    import h5py

    seen = []

    def rows(ds, selection) -> int:
        first = selection[0] if isinstance(selection, tuple) and selection else selection
        if isinstance(first, slice):
            return len(range(*first.indices(ds.shape[0])))
        if isinstance(first, int | np.integer):
            return 1
        return ds.shape[0]  # (), Ellipsis, a list: count it as the whole

    def note(ds, selection):
        if ds.name.startswith("/layer"):
            seen.append((ds.name, rows(ds, selection)))

    getitem, read_direct = h5py.Dataset.__getitem__, h5py.Dataset.read_direct

    def counted_getitem(self, args, new_dtype=None):
        note(self, args)
        return getitem(self, args, new_dtype)

    def counted_read_direct(self, dest, source_sel=None, dest_sel=None):
        note(self, source_sel if source_sel is not None else ())
        return read_direct(self, dest, source_sel, dest_sel)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counted_getitem)
    monkeypatch.setattr(h5py.Dataset, "read_direct", counted_read_direct)
    return seen


def test_views_figures_and_tables_read_only_the_window_asked_for(ex, reads):
    ex["layer1.c"][200:260]
    ex["layer1.c"][200:260, [3, 4]]
    ex["layer1.c.3"][200:260]
    ex["layer1.c.3"][200]
    ex.show(["layer1.c.3", "layer0.h.2"], 200, 60, strips=True, raw_c=True).to_svg()
    ex.predictions(0, 100)
    ex.summaries()
    assert reads and all(n <= 60 for _, n in reads), reads
    assert {name for name, _ in reads} == {"/layer1/c", "/layer0/h"}


def test_search_streams_blocks_and_never_reads_a_whole_activation(tmp_path, reads):
    from lstmviz.search.scoring import BLOCK_ROWS

    long = (TEXT * 8)[: 2 * BLOCK_ROWS + 1000]
    with lstmviz.open(build(tmp_path / "long.h5", long, n_layer=1, n_hidden=8, gates=False)) as ex:
        reads.clear()
        ex.search("quote", cache=False, device="cpu")
        ex.search_all(cache=False, device="cpu")
        ex["layer0.c.1"][len(long) - 10 :]
    assert reads and max(n for _, n in reads) <= BLOCK_ROWS < len(long)
