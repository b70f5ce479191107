"""Small real extraction files for the dashboard tests (tests/test_app_*.py, test_browser_dashboard.py)."""

import inspect
import json
from pathlib import Path

import h5py
import torch

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab

# Real prose-and-code text that is always present: the start of the stdlib's inspect module.
TEXT = inspect.getsource(inspect)[:6000]
# Multi-byte characters for byte-level vocabularies.
UNICODE_TEXT = "Café — naïve “quotes” and 日本語, then plain ASCII again.\n" * 40
ATTRS = {"text_path": "inspect.py", "text_sha256": "b" * 64}


def build(path: Path, text: str = TEXT, *, byte_level: bool = False, gates: bool = True,
          n_layer: int = 2, n_hidden: int = 16) -> Path:
    """Extract a seeded tiny CharLSTM over ``text`` with the real extractor."""
    vocab = Vocab.from_text(text, byte_level=byte_level)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=n_layer, n_hidden=n_hidden, n_embd=8)).eval()
    with torch.no_grad():  # larger weights spread activations over the colour scale
        for p in model.lstm.parameters():
            p.mul_(4.0)
    loaded = LoadedModel(model, vocab, "lstmviz", Path("tiny.pt"), "sha")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 16-unit model gains nothing from threads, and they spin on a busy machine
    try:
        return extract(loaded, vocab.encode(text), path, Options(gates=gates), attrs=ATTRS)
    finally:
        torch.set_num_threads(threads)


def with_attrs(src: Path, dst: Path, **attrs) -> Path:
    """A copy of an extraction with some root attributes changed (e.g. another format version)."""
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
    return dst


def truncated(src: Path, dst: Path) -> Path:
    """The first half of an extraction's bytes, as an interrupted copy leaves it."""
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def names_of(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["names"])
