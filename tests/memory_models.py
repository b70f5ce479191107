"""An LSTM with hand-set weights whose memory is known exactly, for the provenance and horizon tests.

One-hot input and one layer, as in tests/search_models.py; gate rows follow torch (i, f, g, o) and
every planted unit has o = 1, so h = tanh(c).

* COUNTER (unit 0): every character writes exactly 1 (i = f = 1, g = tanh(40) = 1 in float32); a
  newline forgets everything (f ≈ 4e-18) and writes 0. So c is the column, and each character since
  the last newline contributes exactly 1.
* PARITY (unit 1): an opening double quote (met outside quotes, where c = 0 and h = 0) forgets
  everything and writes +1; a closing one (inside, where c = 1 and h = tanh 1) keeps it and writes
  -1; every other character keeps everything and writes nothing (i ≈ 4e-18). After a closing quote
  c is back at 0, as +1 from the opening quote and -1 from the closing one.
* FORGETFUL (unit 2): forgets at once (f ≈ 4e-18) and writes tanh of a random number per character:
  c_t comes from character t alone.
* Units 3 and up: small random weights, ordinary units.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from search_models import AUSTEN, PYTHON, VOCAB

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import load_model
from lstmviz.model.vocab import Vocab

COUNTER, PARITY, FORGETFUL = 0, 1, 2
N_HIDDEN = 8
BIG = 40.0
TEXT = AUSTEN + PYTHON


def memory_model(vocab: Vocab = VOCAB, seed: int = 0) -> CharLSTM:
    """The one-layer one-hot LSTM with the planted units above."""
    V, H = len(vocab), N_HIDDEN
    torch.manual_seed(seed)
    model = CharLSTM(LSTMConfig(vocab_size=V, n_layer=1, n_hidden=H, n_embd=None)).eval()
    w_ih = torch.randn(4 * H, V) * 0.5
    w_hh = torch.randn(4 * H, H) * 0.5
    bias = torch.zeros(4 * H)
    IN, FORGET, CELL, OUT = (k * H for k in range(4))
    ch = {s: i for i, s in enumerate(vocab.symbols)}
    for unit in (COUNTER, PARITY, FORGETFUL):
        for gate in (IN, FORGET, CELL, OUT):
            w_ih[gate + unit] = 0
            w_hh[gate + unit] = 0
        bias[OUT + unit] = BIG
    bias[IN + COUNTER], bias[FORGET + COUNTER], bias[CELL + COUNTER] = BIG, BIG, BIG
    w_ih[FORGET + COUNTER, ch["\n"]], w_ih[CELL + COUNTER, ch["\n"]] = -2 * BIG, -BIG
    bias[IN + PARITY], bias[FORGET + PARITY], bias[CELL + PARITY] = -BIG, BIG, BIG
    w_ih[IN + PARITY, ch['"']] = 2 * BIG
    w_ih[FORGET + PARITY, ch['"']] = -2 * BIG  # f = 0 at an opening quote ...
    w_hh[FORGET + PARITY, PARITY] = 2 * BIG / math.tanh(1.0)  # ... and 1 at a closing one
    w_hh[CELL + PARITY, PARITY] = -2 * BIG / math.tanh(1.0)  # g = +1 at h = 0, -1 at h = tanh(1)
    bias[IN + FORGETFUL], bias[FORGET + FORGETFUL] = BIG, -BIG
    w_ih[CELL + FORGETFUL] = torch.randn(V)
    with torch.no_grad():
        model.lstm.weight_ih_l0.copy_(w_ih)
        model.lstm.weight_hh_l0.copy_(w_hh)
        model.lstm.bias_ih_l0.copy_(bias)
        model.lstm.bias_hh_l0.zero_()
    return model


def extract_memory(folder: Path, *, text: str = TEXT, gates: bool = False, dtype: str = "float16",
                   name: str = "memory") -> Path:
    """A real checkpoint of :func:`memory_model` in ``folder``, and its extraction over ``text``."""
    checkpoint = folder / f"{name}.pt"
    if not checkpoint.exists():
        save_checkpoint(checkpoint, memory_model(), VOCAB, {"note": "planted memory cells"})
    loaded = load_model(checkpoint)
    return extract(loaded, VOCAB.encode(text), folder / f"{name}_{'gates' if gates else 'plain'}_{dtype}.h5",
                   Options(gates=gates, dtype=dtype))


def columns(text: str) -> np.ndarray:
    """Characters since the last newline, the character itself counted; 0 at a newline."""
    out, col = [], 0
    for ch in text:
        col = 0 if ch == "\n" else col + 1
        out.append(col)
    return np.array(out)
