"""`lstmviz.extract` and `lstmviz.load_model`: the command line's extraction, from Python."""

import gc
import hashlib
import tempfile

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from extraction_files import TEXT, make_model, write_checkpoint, write_text

import lstmviz
from lstmviz.cli import cli
from lstmviz.errors import OptionError, TextError, VocabError
from lstmviz.model.loading import LoadedModel

PIECE = TEXT[:1500]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", make_model(2, 8, 8))


@pytest.fixture(scope="module")
def cli_file(checkpoint, tmp_path_factory):
    """What `lstmviz extract` writes for PIECE."""
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "cli.h5"
    text = write_text(folder / "piece.txt", PIECE)
    args = ["extract", str(checkpoint), str(text), "-o", str(out), "--device", "cpu", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def temporary_root(tmp_path, monkeypatch):
    """Where temporary extractions go, watched by the test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def same_datasets(a, b, names) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for name in names:
            np.testing.assert_array_equal(fa[name][()], fb[name][()])


def test_load_model_is_the_librarys(checkpoint):
    loaded = lstmviz.load_model(str(checkpoint))
    assert isinstance(loaded, LoadedModel) and loaded.layout == "lstmviz" and loaded.path == checkpoint


def test_a_string_extracts_to_a_temporary_file_removed_on_closing(checkpoint, cli_file, temporary_root):
    model = lstmviz.load_model(checkpoint)
    ex = lstmviz.extract(model, PIECE, device="cpu")
    path = ex.path
    assert path.parent.parent == temporary_root and path.name == "tiny__text.h5"
    assert len(ex) == len(PIECE) and ex.text[:] == PIECE
    same_datasets(path, cli_file, ["/tokens", "/layer0/c", "/layer1/h", "/predictions/top_ids"])
    attrs = ex.attrs
    assert "text_path" not in attrs and attrs["text_chars"] == len(PIECE)
    assert attrs["text_sha256"] == hashlib.sha256(PIECE.encode()).hexdigest()
    with h5py.File(cli_file, "r") as f:
        assert attrs["text_sha256"] == f.attrs["text_sha256"] and attrs["unknown"] == f.attrs["unknown"]
    ex.close()
    assert list(temporary_root.iterdir()) == []


def test_a_forgotten_temporary_extraction_is_removed_when_collected(checkpoint, temporary_root):
    ex = lstmviz.extract(str(checkpoint), PIECE[:300], device="cpu")
    ex["layer0.c.1"][0:10]
    assert len(list(temporary_root.iterdir())) == 1
    del ex
    gc.collect()
    assert list(temporary_root.iterdir()) == []


def test_a_text_file_extracts_to_out_as_the_cli_does(checkpoint, cli_file, tmp_path, temporary_root):
    text = write_text(tmp_path / "piece.txt", PIECE)
    with lstmviz.extract(str(checkpoint), text, tmp_path / "kept.h5", device="cpu", gates=True,
                         dtype="float32") as ex:
        assert ex.path == tmp_path / "kept.h5" and ex.attrs["text_path"] == "piece.txt"
        assert ex.names == [f"layer{k}.{kind}" for k in (0, 1) for kind in ("h", "c", "gates.i", "gates.f",
                                                                           "gates.g", "gates.o")]
        assert ex["layer1.h"][0:5].dtype == np.float32 and ex.attrs["dtype"] == "float32"
    same_datasets(tmp_path / "kept.h5", cli_file, ["/tokens", "/layer0/c", "/layer1/c"])
    assert (tmp_path / "kept.h5").exists() and list(temporary_root.iterdir()) == []
    with pytest.raises(OptionError, match=r"kept.h5 already exists; pass --force to replace it"):
        lstmviz.extract(str(checkpoint), text, tmp_path / "kept.h5", device="cpu")
    lstmviz.extract(str(checkpoint), text, tmp_path / "kept.h5", device="cpu", force=True).close()


def test_a_string_that_names_a_file_is_refused(checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_text(tmp_path / "val.txt", PIECE)
    with pytest.raises(OptionError) as e:
        lstmviz.extract(checkpoint, "val.txt", device="cpu")
    assert str(e.value) == ("'val.txt' names a file, but a str is read as the text itself; pass "
                            "pathlib.Path('val.txt') to extract over the file")


def test_failures_leave_no_temporary_behind(checkpoint, temporary_root):
    with pytest.raises(VocabError, match=r"^the text has 1 character\(s\) the model's vocabulary lacks: '☃'"):
        lstmviz.extract(checkpoint, PIECE + "\u2603 snow", device="cpu", unknown="error")
    with pytest.raises(TextError) as e:
        lstmviz.extract(checkpoint, "a", device="cpu")
    assert str(e.value) == ("the text has 1 usable character(s); at least 2 are needed (each position is "
                            "scored on the character after it)")
    with pytest.raises(TextError, match=r"^the text holds a lone surrogate U\+D800 at index 3, which is "):
        lstmviz.extract(checkpoint, "abc\ud800", device="cpu")
    with pytest.raises(OptionError, match=r"^--unknown 'maybe' is not understood"):
        lstmviz.extract(checkpoint, PIECE, device="cpu", unknown="maybe")
    assert list(temporary_root.iterdir()) == []


def test_unknown_characters_follow_the_policy(checkpoint):
    with lstmviz.extract(checkpoint, PIECE[:200] + "\u2603", device="cpu", unknown="replace: ") as ex:
        assert len(ex) == 201 and ex.text[200] == " " and ex.attrs["unknown_count"] == 1
    with lstmviz.extract(checkpoint, PIECE[:200] + "\u2603", device="cpu", unknown="skip") as ex:
        assert len(ex) == 200
