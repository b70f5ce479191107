"""A text that starts with a byte-order mark: the mark is left out, with a note, in every command."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from extraction_files import TEXT, make_model, write_checkpoint

from lstmviz.model.encoding import Encoder, UnknownPolicy, text_pieces
from lstmviz.model.loading import load_model
from lstmviz.model.train import TrainConfig, train
from lstmviz.model.vocab import Vocab
from lstmviz.store.reader import open_states
from lstmviz.textio import read_text

ROOT = Path(__file__).resolve().parents[1]
BODY = TEXT[:3000]
NOTE = "{}: starts with a byte-order mark (U+FEFF), which is not text; it was left out"


def with_bom(path: Path) -> Path:
    path.write_bytes(b"\xef\xbb\xbf" + BODY.encode())
    return path


def test_extraction_leaves_the_mark_out_and_says_so(tmp_path):
    model = write_checkpoint(tmp_path / "m.pt", make_model(1, 16, 8))
    text, out = with_bom(tmp_path / "t.txt"), tmp_path / "o.h5"
    command = [sys.executable, "-m", "lstmviz", "extract", str(model), str(text), "-o", str(out), "-q"]
    run = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"{NOTE.format(text)}\n"
    with open_states(out) as states:
        assert states.n_tokens == len(BODY) and states.attrs["unknown_count"] == 0
        assert states.vocab.decode(states.tokens(0, 20)) == BODY[:20]


def test_pieces_leave_the_mark_out_however_the_file_is_cut(tmp_path):
    text = with_bom(tmp_path / "t.txt")
    for piece_bytes in (1, 2, 3, 4, 1 << 20):
        assert "".join(t for _, t in text_pieces(text, piece_bytes)) == BODY, piece_bytes
    encoder = Encoder(Vocab.from_text(BODY), UnknownPolicy.parse("error"))
    assert encoder.encode(next(text_pieces(text))[1])[1] == {}  # nothing unknown


def test_training_leaves_the_mark_out_of_the_vocabulary(tmp_path, caplog):
    text = with_bom(tmp_path / "t.txt")
    with caplog.at_level(logging.WARNING):
        assert read_text(text) == BODY
    assert caplog.messages == [NOTE.format(text)]
    train(text, tmp_path / "m.pt", TrainConfig(n_layer=1, n_hidden=8, seq_len=20, batch_size=4, steps=2),
          progress=False)
    assert "\ufeff" not in load_model(tmp_path / "m.pt").vocab.symbols
