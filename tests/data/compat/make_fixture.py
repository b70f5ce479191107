"""Write the compat fixture of the current format version: ``python tests/data/compat/make_fixture.py``.

A seeded 2-layer, 4-unit model with gates over 224 characters, as the files of earlier versions;
the file is named for the version (``v1_3.h5``) and committed, never rewritten once released.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab
from lstmviz.store.spec import VERSION

TEXT = '"Quoted," she said (twice).\n' * 8


def main() -> Path:
    """Extract the fixture into this folder and return its path."""
    vocab = Vocab.from_text(TEXT)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=2, n_hidden=4, n_embd=4)).eval()
    loaded = LoadedModel(model, vocab, "lstmviz", Path("tiny.pt"), "0" * 64)
    out = Path(__file__).parent / f"v{VERSION.replace('.', '_')}.h5"
    return extract(loaded, vocab.encode(TEXT), out, Options(gates=True))


if __name__ == "__main__":
    print(main())
