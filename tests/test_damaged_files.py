"""Damaged but openable extraction files: every reader says what is wrong in one line.

A bad disk, a foreign writer or hand editing with h5py can leave a file that opens but holds
datasets of the wrong shape or type, impossible values, or a header that contradicts itself. The
commands (``info``, ``export``, ``search``) and the dashboard's data functions must then name the
problem and the fix instead of crashing or drawing nonsense, and ``validate`` must list it.
"""

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model, one_thread

from app import data
from app.callbacks.panels import profile_view, saturation_view
from app.callbacks.search import example_reply
from app.catalog import Catalog, cached_states
from app.control import values_reply, window_reply
from lstmviz.cli import cli
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel
from lstmviz.store.validate import validate

TOKENS = VOCAB.encode(TEXT[:3000])
T, H = len(TOKENS), 16
SPAN = "2030:2043"  # a quotation over which one unit of layer1.h switches on (checked on the good file)
DAMAGED = "the file is damaged"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    with one_thread():
        loaded = LoadedModel(make_model(2, H, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
        return extract(loaded, TOKENS, tmp_path_factory.mktemp("damage") / "good.h5", Options(gates=True))


def damaged(good: Path, tmp_path: Path, change) -> Path:
    """A copy of the good file, changed with h5py as a hand edit or a foreign writer would."""
    path = tmp_path / "damaged.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def put(dataset: str, where, value):
    """A change writing ``value`` at ``where`` of a dataset."""
    def change(f):
        f[dataset][where] = value
    return change


def swap(dataset: str, replacement):
    """A change replacing a dataset by another (None: deleting it)."""
    def change(f):
        del f[dataset]
        if replacement is not None:
            f[dataset] = replacement
    return change


def edit_attr(key: str, edit):
    """A change of one JSON root attribute, through ``edit(value) -> new value``."""
    def change(f):
        f.attrs[key] = json.dumps(edit(json.loads(f.attrs[key])))
    return change


def cli_says(*args) -> str | None:
    """None when the command worked, else its one-line error (a traceback fails the test)."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code == 0:
        return None
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    message = result.stderr.split("Error: ", 1)[1]
    assert message.strip().count("\n") == 0, result.stderr
    return message.strip()


def view_of(catalog: Catalog, **change) -> dict:
    """The dashboard's view of the catalog's one file, as its callbacks receive it."""
    return {"file": catalog.entries[0].key, "pos": 0, "length": 200, "mode": "grid", "neuron": "layer0.h.3",
            "palette": "blog", "raw_c": False, **change}


def says(path: Path, tmp_path: Path, reader: str) -> str | None:
    """What one reader of ``path`` says: None when it worked, else its one-line message."""
    out = tmp_path / "snippet"
    commands = {
        "info": ["info", path],
        "export": ["export", path, "-n", "layer0.h.3", "--start", 0, "--length", 200, "--strips", "-o",
                   f"{out}.html"],
        "svg": ["export", path, "-n", "layer0.h.3", "--start", 0, "--length", 200, "--strips", "-o",
                f"{out}.svg"],
        "raw_c": ["export", path, "-n", "layer0.c.3", "--start", 0, "--length", 200, "--raw-c", "-o",
                  f"{out}.c.html"],
        "search": ["search", path, "--hypothesis", "quote", "--no-cache"],
        "all": ["search", path, "--all", "--no-cache"],
        "span": ["search", path, "--span", SPAN],
    }
    if reader in commands:
        return cli_says(*commands[reader])
    catalog = Catalog.scan([path])
    if reader == "example":
        view = view_of(catalog, neuron="layer1.h.3")
        panel, _ = example_reply(catalog, view, SPAN, run=True, shown_for=None)
        return panel[0].children if getattr(panel[0], "className", None) == "lv-notice" else None
    entry = catalog.entries[0]
    if entry.error is not None:
        return entry.error
    if reader in ("window", "values", "values_c"):
        view = view_of(catalog, neuron="layer0.c.3", raw_c=True) if reader == "values_c" else view_of(catalog)
        payload, note = (window_reply if reader == "window" else values_reply)(catalog, view)
        return None if payload is not None else str(note)
    states = cached_states(path)
    neuron = {"profile": "layer0.h.3", "profile_top": "layer1.h.3"}.get(reader)
    first = (profile_view(states, neuron) if neuron else saturation_view(states, entry.key))[0]
    return first.children if getattr(first, "className", None) == "lv-notice" else None


def test_the_good_file_passes_every_reader(good, tmp_path):
    assert validate(good) == []
    for reader in ("info", "export", "svg", "raw_c", "search", "span", "window", "values", "values_c",
                   "profile", "profile_top", "saturation", "example"):
        assert says(good, tmp_path, reader) is None, reader
    catalog = Catalog.scan([good])
    end, _ = window_reply(catalog, view_of(catalog, pos=T - 50, length=50))
    assert end["p_next"][-1] is None  # NaN at the text's end is no damage: nothing follows


@pytest.mark.parametrize(("dataset", "replacement", "readers", "said"), [
    ("layer0/h", np.zeros((100, H), "f2"), ["export", "svg", "search", "values", "profile"],
     f"dataset /layer0/h has shape (100, {H}), expected ({T}, {H})"),
    ("layer0/h", np.zeros((T, 4), "f2"), ["export", "search", "values"],
     f"dataset /layer0/h has shape ({T}, 4), expected ({T}, {H})"),
    ("layer0/h", np.full((T, H), "x", dtype=h5py.string_dtype()), ["export", "search", "values"],
     "dataset /layer0/h has dtype object, expected a float type"),
    ("layer0/c", np.zeros((T, H), "i4"), ["raw_c", "search", "values_c"],
     "dataset /layer0/c has dtype int32, expected a float type"),
    ("tokens", np.zeros(T, "f4"), ["info", "export", "search", "window", "example"],
     "dataset /tokens has dtype float32, expected an integer type"),
    ("tokens", np.zeros((T, 2), "i4"), ["info", "export", "search", "window", "example"],
     f"dataset /tokens has shape ({T}, 2), expected ({T},)"),
    ("predictions/top_ids", np.zeros((100, 5), "i4"), ["export", "window"],
     f"dataset /predictions/top_ids has shape (100, 5), expected ({T}, 5)"),
    ("predictions/top_probs", np.zeros((T, 3), "f4"), ["export", "svg", "window"],
     f"dataset /predictions/top_probs has shape ({T}, 3), expected ({T}, 5)"),
    ("predictions/p_next", np.zeros(100, "f4"), ["export", "window"],
     f"dataset /predictions/p_next has shape (100,), expected ({T},)"),
    ("predictions/top_probs", None, ["export", "window"], "cannot open /predictions/top_probs"),
    ("tokens", None, ["export", "search", "window"], "cannot open /tokens"),
    ("decoder/weight", np.zeros((len(VOCAB), 4), "f4"), ["profile_top"],
     f"dataset /decoder/weight has shape ({len(VOCAB)}, 4), expected ({len(VOCAB)}, {H})"),
])
def test_a_dataset_of_the_wrong_shape_or_type_is_named_by_every_reader(good, tmp_path, dataset, replacement,
                                                                        readers, said):
    path = damaged(good, tmp_path, swap(dataset, replacement))
    for reader in readers:
        message = says(path, tmp_path, reader)
        assert message is not None and said in message and DAMAGED in message, (reader, message)
    missing = f"dataset /{dataset} is missing"
    assert (missing if replacement is None else said) in validate(path)


def test_a_group_where_a_dataset_belongs_is_named(good, tmp_path):
    path = damaged(good, tmp_path, lambda f: (f.__delitem__("layer0/h"), f.create_group("layer0/h")))
    for reader in ("export", "search", "values"):
        assert f"{DAMAGED}: /layer0/h is not a dataset" in says(path, tmp_path, reader), reader
    assert "dataset /layer0/h is missing" in validate(path)


@pytest.mark.parametrize("n_tokens", [T + 1000, T - 1000, 0, 2**40])
def test_n_tokens_that_disagrees_with_the_tokens_is_refused_on_opening(good, tmp_path, n_tokens):
    path = damaged(good, tmp_path, lambda f: f.attrs.__setitem__("n_tokens", n_tokens))
    said = f"the 'n_tokens' attribute says {n_tokens} positions, but /tokens holds {T}"
    for reader in ("info", "export", "search", "window"):
        assert said in says(path, tmp_path, reader), reader
    assert f"dataset /tokens has shape ({T},), expected ({n_tokens},)" in validate(path)


@pytest.mark.parametrize(("change", "said"), [
    (edit_attr("vocab", lambda v: {**v, "symbols": [v["symbols"][1]] + v["symbols"][1:]}), "more than once"),
    (edit_attr("vocab", lambda v: {**v, "symbols": [7] + v["symbols"][1:]}),
     "'symbols' is a list of strings"),
    (edit_attr("vocab", lambda v: {**v, "symbols": v["symbols"][::-1]}),
     "dataset /vocab does not match the 'vocab' attribute"),
    (edit_attr("names", lambda n: [*n, "layer2.h"]), "layer2.h names layer 2, but the model has 2 layer(s)"),
    (edit_attr("names", lambda n: [*n, n[0]]), "layer0.h is listed 2 times in the 'names' attribute"),
    (edit_attr("names", lambda n: [*n, "bogus"]),
     "'bogus' in the 'names' attribute is not an activation name"),
    (edit_attr("names", lambda n: []), "layer0.h is missing from the 'names' attribute"),
    (edit_attr("names", lambda n: "layer0.h"), "expected a JSON list of activation names"),
    (edit_attr("model_config", lambda c: {**c, "n_hidden": 0}), "n_hidden = 0, not a positive whole number"),
    (edit_attr("model_config", lambda c: {**c, "vocab_size": 7}),
     f"vocab_size = 7, but the 'vocab' attribute holds {len(VOCAB)} symbols"),
])
def test_a_header_that_contradicts_itself_is_refused_on_opening(good, tmp_path, change, said):
    path = damaged(good, tmp_path, change)
    for reader in ("info", "export", "window"):
        message = says(path, tmp_path, reader)
        assert message is not None and said in message and str(path) in message, (reader, message)
    assert any(said in problem for problem in validate(path)), validate(path)


@pytest.mark.parametrize(("dataset", "value", "readers"), [
    ("layer0/h", np.nan, ["search", "all"]),
    ("layer0/c", np.inf, ["search", "all"]),
    ("layer1/gates/f", np.nan, ["search", "all"]),
    ("layer1/h", -np.inf, ["search", "all", "span"]),
])
def test_a_non_finite_activation_stops_the_search_and_exports_but_shows_as_missing(good, tmp_path, dataset,
                                                                                    value, readers):
    path = damaged(good, tmp_path, put(dataset, (2500, 3), value))
    name = dataset.replace("/", ".")
    for reader in readers:
        message = says(path, tmp_path, reader)
        assert f"{DAMAGED}: {name} holds {value} at position 2500, unit 3" in message, (reader, message)
    assert says(path, tmp_path, "export") is None  # a span without the damage is still drawn
    snippet = cli_says("export", path, "-n", f"{name}.3", "--start", 2400, "--length", 200, "-o",
                       tmp_path / "x.html")
    assert f"{DAMAGED}: {name}.3 holds the impossible value {value} at position 2500" in snippet
    catalog = Catalog.scan([path])
    payload, _ = values_reply(catalog, view_of(catalog, pos=2400, neuron=f"{name}.3"))
    assert payload["values"][100] is None and payload["idx"][100] == -1  # no value, no colour
    assert f"{name}: 1 value(s) are NaN or infinite (first at position 2500, unit 3)" in validate(path)


def test_an_impossible_h_is_refused_in_an_export(good, tmp_path):
    path = damaged(good, tmp_path, put("layer0/h", (50, 3), 60000.0))
    assert "layer0.h.3 holds the impossible value 60000.0 at position 50" in says(path, tmp_path, "export")
    assert "layer0.h: 1 value(s) lie outside [-1, 1], impossible for h" in validate(path)


@pytest.mark.parametrize(("dataset", "where", "value"), [
    ("predictions/top_probs", (100, 0), 7.0), ("predictions/top_probs", (100, 2), np.nan),
    ("predictions/top_probs", (100, 1), -3.0), ("predictions/p_next", 100, 7.0),
    ("predictions/p_next", 100, np.nan), ("predictions/loss_bits", 100, np.inf),
    ("predictions/loss_nats", 100, -1.0),
])
def test_impossible_predictions_are_refused_where_they_would_be_shown(good, tmp_path, dataset, where, value):
    path = damaged(good, tmp_path, put(dataset, where, value))
    said = f"{DAMAGED}: /{dataset} holds the impossible value {np.float32(value)} at position 100"
    for reader in ("export", "window"):
        assert said in says(path, tmp_path, reader), reader
    assert says(path, tmp_path, "raw_c") is None  # an export without strips reads no predictions
    assert f"/{dataset} holds 1 impossible values" in validate(path)


@pytest.mark.parametrize(("change", "reader", "said"), [
    (put("summaries/layer0/h/mean", 3, np.nan), "profile", "summary 'mean' of layer0.h holds NaN"),
    (put("summaries/layer0/h/std", 3, -1.0), "profile", "summary 'std' of layer0.h holds negative values"),
    (put("summaries/layer0/h/hist_lo", 3, np.nan), "profile", "summary 'hist_lo' of layer0.h holds NaN"),
    (put("summaries/layer0/h/hist_lo", 3, 5.0), "profile",
     "summary 'hist_lo' of layer0.h lies above 'hist_hi'"),
    (put("summaries/layer0/h/hist", (3, 0), -5), "profile",
     f"summary 'hist' of layer0.h holds counts that do not add up to the {T} positions"),
    (put("summaries/layer0/h/top_pos", (3, 0), 10**9), "profile",
     "summary 'top_pos' of layer0.h holds positions outside the text"),
    (put("summaries/layer0/h/top_val", (3, 0), np.nan), "profile",
     "summary 'top_val' of layer0.h holds NaN or infinite values"),
    (swap("summaries/layer0/h/top_pos", None), "profile", "summary 'top_pos' of layer0.h is missing"),
    (swap("summaries/layer0/h/mean", np.zeros(4)), "profile",
     f"summary 'mean' of layer0.h has shape (4,), expected ({H},)"),
    (put("summaries/layer1/gates/f/sat_hi", 3, 7.0), "saturation",
     "summary 'sat_hi' of layer1.gates.f holds fractions outside [0, 1]"),
    (put("summaries/layer1/gates/o/sat_lo", 3, np.nan), "saturation",
     "summary 'sat_lo' of layer1.gates.o holds NaN or infinite values"),
])
def test_damaged_summaries_are_named_by_the_panels_that_show_them(good, tmp_path, change, reader, said):
    path = damaged(good, tmp_path, change)
    message = says(path, tmp_path, reader)
    assert message is not None and said in message, message
    assert says(path, tmp_path, "window") is None and says(path, tmp_path, "values") is None
    assert any(problem.startswith(said) for problem in validate(path)), validate(path)


def test_raw_c_keeps_its_scale_when_the_summary_is_damaged(good, tmp_path):
    with h5py.File(good, "r") as f:
        column = f["layer0/c"][:, 3]
    # ± the larger of the 1st and 99th percentiles, to within two of the 2,048 histogram bins
    robust = float(np.abs(np.percentile(column, [1, 99])).max())
    close = 2 * float(np.ptp(column)) / 2048

    def change(f):
        f["summaries/layer0/c/min"][3] = np.nan
        f["layer0/c"][2500, 3] = np.nan  # outside the span shown, but inside the scanned column

    path = damaged(good, tmp_path, change)
    assert says(path, tmp_path, "raw_c") is None
    lo, hi = re.search(r"colours over (\S+) to (\S+)\)", (tmp_path / "snippet.c.html").read_text()).groups()
    assert float(hi) == -float(lo) and float(hi) == pytest.approx(robust, abs=close)
    catalog = Catalog.scan([path])
    payload, _ = values_reply(catalog, view_of(catalog, neuron="layer0.c.3", raw_c=True))
    assert payload["hi"] == pytest.approx(robust, abs=close) and payload["lo"] == -payload["hi"]


@pytest.mark.parametrize(("change", "said"), [
    (put("summaries/layer0/h/rank_lo", 3, np.nan), "summary 'rank_lo' of layer0.h holds NaN or infinite"),
    (put("summaries/layer0/h/rank_width", 3, np.inf), "summary 'rank_width' of layer0.h holds NaN"),
    (put("summaries/layer0/c/rank_hist", (3, 5), -7), "summary 'rank_hist' of layer0.c holds counts that do"),
    (swap("summaries/layer1/c/rank_hist", None), "summary 'rank_hist' of layer1.c is missing while"),
])
def test_a_search_recounts_damaged_rank_histograms(good, tmp_path, change, said):
    def without_rank_histograms(f):
        names = []
        f["summaries"].visit(lambda n: names.append(n) if n.rsplit("/", 1)[-1].startswith("rank_") else None)
        for name in names:
            del f["summaries"][name]

    (tmp_path / "recounted").mkdir()
    before_1_2 = damaged(good, tmp_path / "recounted", without_rank_histograms)
    expected = CliRunner().invoke(cli, ["search", str(before_1_2), "--hypothesis", "quote", "--no-cache"])
    path = damaged(good, tmp_path, change)
    result = CliRunner().invoke(cli, ["search", str(path), "--hypothesis", "quote", "--no-cache"])
    assert result.exit_code == 0 and result.stdout == expected.stdout, result.output
    assert any(problem.startswith(said) for problem in validate(path)), validate(path)


@pytest.mark.parametrize(("change", "said"), [
    (put("decoder/weight", (slice(None), 3), np.nan), "/decoder/weight holds NaN or infinite values"),
    (swap("decoder/weight", None), "cannot open /decoder/weight"),
])
def test_a_damaged_decoder_is_named_in_the_profile(good, tmp_path, change, said):
    path = damaged(good, tmp_path, change)
    assert said in says(path, tmp_path, "profile_top")
    assert says(path, tmp_path, "profile") is None  # only the top layer's h has pushes
    assert any(p.startswith("dataset /decoder/weight") for p in validate(path))


def test_find_keeps_positions_with_a_symbol_longer_than_one_character(good, tmp_path):
    unused = next(i for i in range(len(VOCAB)) if i not in set(TOKENS.tolist()))

    def with_pad(f):  # as a foreign writer keeping a special token in its vocabulary writes it
        symbols = [*VOCAB.symbols[:unused], "<pad>", *VOCAB.symbols[unused + 1:]]
        edit_attr("vocab", lambda v: {**v, "symbols": symbols})(f)
        swap("vocab", np.array(symbols, dtype=h5py.string_dtype()))(f)

    path = damaged(good, tmp_path, with_pad)
    assert validate(path) == []
    assert data.find(cached_states(path), "module", 0) == (TEXT[:T].find("module", 1), False)


def test_a_symbol_longer_than_one_character_keeps_hypotheses_in_line(good, tmp_path):
    from lstmviz.search.hypotheses import symbol_string

    e = VOCAB.symbols.index("e")

    def with_unk(f):  # a checkpoint's vocabulary may spell a symbol out, as "<unk>"
        symbols = [*VOCAB.symbols[:e], "<unk>", *VOCAB.symbols[e + 1:]]
        edit_attr("vocab", lambda v: {**v, "symbols": symbols})(f)
        swap("vocab", np.array(symbols, dtype=h5py.string_dtype()))(f)

    path = damaged(good, tmp_path, with_unk)
    assert symbol_string(cached_states(path)) == TEXT[:T].replace("e", "\ufffd")  # one per position
    assert says(path, tmp_path, "search") is None


def test_a_failed_search_closes_its_progress_bar_before_the_error(good, tmp_path, monkeypatch):
    from lstmviz.errors import StoreError
    from lstmviz.search import scoring as search_scoring
    from lstmviz.search.hypotheses import HYPOTHESES
    from lstmviz.search.rank import score_units

    bars = []

    class Bar:  # stands for tqdm: the error line must not land on an open bar's line
        def __init__(self, **_):
            self.closed = False
            bars.append(self)

        def update(self, n):
            pass

        def close(self):
            self.closed = True

    monkeypatch.setattr(search_scoring, "progress_bar", Bar)
    path = damaged(good, tmp_path, put("layer1/c", (2500, 3), np.nan))
    with pytest.raises(StoreError, match=DAMAGED):
        score_units(cached_states(path), [HYPOTHESES["quote"]], progress=True, cache=False)
    assert bars and all(bar.closed for bar in bars)


def test_search_by_example_in_the_dashboard_explains_a_missing_text(good, tmp_path):
    from app.callbacks.search import example_reply

    path = damaged(good, tmp_path, swap("tokens", None))  # the units are found; their places' text is not
    catalog = Catalog.scan([path])
    view = view_of(catalog, neuron="layer1.h.3")
    content, _ = example_reply(catalog, view, SPAN, run=True, shown_for=None)
    assert content[0].className == "lv-notice" and "cannot open /tokens" in content[0].children


def test_info_still_describes_a_file_whose_summaries_are_damaged(good, tmp_path):
    path = damaged(good, tmp_path, put("summaries/layer0/h/mean", 3, np.nan))
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert "positions:   3,000" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("summaries:"))
    assert "cannot be read: the file is damaged: summary 'mean' of layer0.h holds NaN" in line
    assert says(path, tmp_path, "profile") is not None  # the readers that need them still refuse
