"""`validate` finds every problem of a damaged extraction file, in plain words."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model, one_thread

from lstmviz.cli import cli
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel
from lstmviz.store.validate import validate

TOKENS = VOCAB.encode(TEXT[:5000])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    with one_thread():
        loaded = LoadedModel(make_model(2, 16, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
        return extract(loaded, TOKENS, tmp_path_factory.mktemp("validate") / "good.h5", Options(gates=True))


def damaged(good, tmp_path, change):
    path = tmp_path / "damaged.h5"
    path.write_bytes(good.read_bytes())
    with h5py.File(path, "a") as f:
        change(f)
    return path


def test_a_good_file_has_no_problems(good):
    assert validate(good) == []
    result = CliRunner().invoke(cli, ["validate", str(good)])
    assert result.exit_code == 0 and result.output == f"{good}: valid\n"


def test_every_problem_is_reported_at_once(good, tmp_path):
    def change(f):
        f.attrs["complete"] = False
        f.attrs["encoding-version"] = "3.1"
        del f["layer1/gates/o"]
        del f["predictions/p_next"]
        f["layer0/h"][100, 3] = np.nan
        f["layer0/h"][200, 4] = np.inf
        f["layer1/c"][7, 0] = -np.inf
        f["tokens"][50] = len(VOCAB) + 5
        f["layer0/gates/f"][0, 0] = 1.5
        del f["summaries/layer0/c/hist"]

    problems = validate(damaged(good, tmp_path, change))
    assert problems == [
        "format version '3.1' is not 1.x, which this lstmviz reads",
        "the file is incomplete (the 'complete' flag is false): the extraction was interrupted",
        f"1 token id(s) lie outside the vocabulary of {len(VOCAB)} (first at position 50)",
        "dataset /predictions/p_next is missing",
        "layer0.h: 2 value(s) are NaN or infinite (first at position 100, unit 3)",
        "summary 'hist' of layer0.c is missing",
        "layer0.gates.f: 1 value(s) lie outside [0, 1], impossible for gates.f",
        "layer1.c: 1 value(s) are NaN or infinite (first at position 7, unit 0)",
        "dataset /layer1/gates/o is missing",
    ]
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "damaged.h5")])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].endswith("damaged.h5: 9 problem(s)")
    assert result.output.splitlines()[1] == "  - format version '3.1' is not 1.x, which this lstmviz reads"


def test_shapes_names_and_attributes(good, tmp_path):
    def change(f):
        del f["layer0/h"]
        f["layer0/h"] = np.zeros((10, 16), dtype="f2")
        del f.attrs["vocab"]
        f.attrs["names"] = '["layer0.h", "layer0.c", "layer1.h", "layer1.gates.i", "layer5.c", "bogus"]'
        del f["predictions/top_ids"]
        f["predictions/top_ids"] = np.zeros((len(TOKENS), 5), dtype="f4")

    problems = validate(damaged(good, tmp_path, change))
    assert "root attribute 'vocab' is missing" in problems
    assert f"dataset /layer0/h has shape (10, 16), expected ({len(TOKENS)}, 16)" in problems
    assert "dataset /predictions/top_ids has dtype float32, expected an integer type" in problems
    assert "layer5.c names layer 5, but the model has 2 layer(s)" in problems
    assert "'bogus' in the 'names' attribute is not an activation name" in problems
    assert "layer1.c is missing from the 'names' attribute" in problems
    assert "layer 1 stores only some of its gates; expected all of i, f, g, o" in problems


def test_foreign_and_unreadable_files(good, tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.zeros(3)
    assert validate(plain) == ["not an lstmviz extraction: encoding-type is None, expected 'lstmviz-states'"]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[:5000])
    assert validate(cut) == [f"{cut}: not a readable HDF5 file (truncated or damaged); "
                             "run `lstmviz extract` again"]


def test_rank_histograms_must_be_whole_and_well_shaped(good, tmp_path):
    def change(f):
        del f["summaries/layer0/h/rank_lo"]
        del f["summaries/layer1/c/rank_hist"]
        f["summaries/layer1/c/rank_hist"] = np.zeros((16, 7), dtype="i8")
        f["summaries/layer0/c/rank_width"][0] = 0.0

    problems = validate(damaged(good, tmp_path, change))
    assert "summary 'rank_lo' of layer0.h is missing while 'rank_hist' is there" in problems
    assert "summary 'rank_hist' of layer1.c has shape (16, 7), expected (16, 2048)" in problems
    assert "summary 'rank_width' of layer0.c has bins that are not positive" in problems


def test_files_from_before_rank_histograms_are_valid(good, tmp_path):
    def change(f):
        names = []
        f["summaries"].visit(lambda n: names.append(n) if n.rsplit("/", 1)[-1].startswith("rank_") else None)
        assert names  # the fixture is a 1.2 file with rank histograms to remove
        for name in names:
            del f["summaries"][name]

    assert validate(damaged(good, tmp_path, change)) == []


def test_a_string_that_says_false_is_not_complete(good, tmp_path):
    from lstmviz.errors import StoreError
    from lstmviz.store.reader import open_states

    path = damaged(good, tmp_path, lambda f: f.attrs.__setitem__("complete", "false"))
    assert "the file is incomplete (the 'complete' flag is 'false', not a boolean): the extraction was " \
           "interrupted" in validate(path)
    with pytest.raises(StoreError, match="the extraction is incomplete"):
        open_states(path)


def test_fixed_length_header_strings_from_other_writers_are_read(good, tmp_path):
    from lstmviz.store.reader import open_states

    def change(f):
        f.attrs["encoding-type"] = np.bytes_(b"lstmviz-states")  # as C or MATLAB writers store them
        f.attrs["encoding-version"] = np.bytes_(b"1.2")

    path = damaged(good, tmp_path, change)
    assert validate(path) == []
    with open_states(path) as s:
        assert s.n_tokens == len(TOKENS)


def test_a_missing_decoder_and_an_unreadable_summary_are_found(good, tmp_path):
    def change(f):
        del f["decoder"]
        rank = f["summaries/layer0/h/rank_hist"]
        at = rank.id.get_chunk_info(0).byte_offset
        f.flush()
        f.attrs["corrupt_at"] = at

    path = damaged(good, tmp_path, change)
    with h5py.File(path, "r") as f:
        at = int(f.attrs["corrupt_at"])
    with open(path, "r+b") as raw:  # garbage in the middle of the compressed chunk
        raw.seek(at + 16)
        raw.write(b"\xff" * 64)
    problems = validate(path)
    assert "dataset /decoder/weight is missing" in problems
    assert any(p.startswith("dataset /summaries/layer0/h/rank_hist cannot be read (") and
               p.endswith("the file is damaged") for p in problems), problems


@pytest.mark.parametrize("dataset", ["tokens", "predictions/top_ids"])
def test_commands_reading_a_damaged_symbol_id_say_so_in_one_line(good, tmp_path, dataset):
    from app.catalog import Catalog
    from app.control import window_reply
    from app.state import View

    def change(f):
        f[dataset][40] = 999  # a read of position 40 would pick a symbol that does not exist

    path = damaged(good, tmp_path, change)
    said = f"the file is damaged: /{dataset} holds the symbol id 999 at position 40"
    commands = [["export", str(path), "-n", "layer0.h.1", "--start", "0", "--length", "80", "--strips",
                 "-o", str(tmp_path / "s.html")]]
    if dataset == "tokens":  # the search reads the text, not the guesses
        commands.append(["search", str(path), "--hypothesis", "column"])
    for args in commands:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and said in result.output, result.output
        assert result.output.strip().count("\n") == 0
    assert not (tmp_path / "s.html").exists()
    catalog = Catalog.scan([path])
    view = View(catalog.default().key, "layer0.h.1", pos=0, length=100).to_dict()
    payload, note = window_reply(catalog, view)
    assert payload is None and said in str(note)
