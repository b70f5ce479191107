"""The dashboard finds each file's model as ``lstmviz intervene`` does, or says how to give it."""

import shutil

import pytest
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model

from app.cli import serve
from app.models import Models
from lstmviz.errors import CheckpointError
from lstmviz.extraction.extract import extract_file
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.store.reader import open_states


@pytest.fixture
def made(tmp_path):
    model_path = tmp_path / "m.pt"
    save_checkpoint(model_path, make_model(1, 8, 4), VOCAB)
    text = tmp_path / "t.txt"
    text.write_text(TEXT[:300])
    return model_path, extract_file(model_path, text, tmp_path / "x.h5")


def test_the_recorded_model_is_found_and_loaded_once(made):
    model_path, out = made
    models = Models()
    with open_states(out) as states:
        first = models.model(states)
        assert first.path.resolve() == model_path.resolve()
        assert models.model(states) is first


def test_a_moved_model_is_taken_from_those_given_by_its_sha256(made, tmp_path):
    model_path, out = made
    moved = tmp_path / "elsewhere" / "m.pt"
    moved.parent.mkdir()
    shutil.move(model_path, moved)
    other = tmp_path / "other.pt"
    save_checkpoint(other, make_model(1, 8, 4, seed=1), VOCAB)
    with open_states(out) as states:
        with pytest.raises(CheckpointError, match=r"which is not at .*; give it with --model PATH \(restart "
                                                  r"the dashboard as `lstmviz serve x.h5 --model PATH`\)$"):
            Models().model(states)
        assert Models([other, moved]).model(states).path == moved
        with pytest.raises(CheckpointError, match=r"^.*other.pt: its sha256 .* differs"):
            Models([other]).model(states)


def test_serve_names_the_option_in_its_help():
    shown = CliRunner().invoke(serve, ["--help"]).output
    assert "--model" in shown and "--trust-pickle" in shown
