"""An extraction finds its model again, and refuses any other."""

import shutil

import pytest
from extraction_files import TEXT, VOCAB, make_model

from lstmviz.errors import CheckpointError
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.model_source import ModelMismatch, model_for
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.store.reader import open_states


@pytest.fixture
def made(tmp_path):
    model_path = tmp_path / "m.pt"
    save_checkpoint(model_path, make_model(1, 8, 4), VOCAB)
    text = tmp_path / "t.txt"
    text.write_text(TEXT[:500])
    out = extract_file(model_path, text, tmp_path / "x.h5")
    return model_path, out


def test_the_recorded_model_is_found_and_is_the_same_model(made):
    model_path, out = made
    with open_states(out) as states:
        loaded = model_for(states)
    assert loaded.path.resolve() == model_path.resolve()
    assert loaded.vocab.symbols == VOCAB.symbols


def test_a_moved_model_is_found_with_model_or_beside_the_file(made, tmp_path):
    model_path, out = made
    moved = tmp_path / "elsewhere" / "m.pt"
    moved.parent.mkdir()
    shutil.move(model_path, moved)
    with open_states(out) as states:
        with pytest.raises(CheckpointError, match=r"x.h5 was extracted with 'm.pt', which is not at .*; "
                                                  r"give it with --model PATH"):
            model_for(states)
        assert model_for(states, moved).path == moved


def test_another_model_is_refused_by_its_sha256(made, tmp_path):
    _, out = made
    other = tmp_path / "other.pt"
    save_checkpoint(other, make_model(1, 8, 4, seed=1), VOCAB)
    with open_states(out) as states, pytest.raises(ModelMismatch) as e:
        model_for(states, other)
    assert str(e.value).startswith(f"{other}: its sha256 ")
    assert str(e.value).endswith("the model x.h5 was extracted with; give that model with --model PATH")
