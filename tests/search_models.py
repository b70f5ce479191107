"""LSTMs with hand-set weights whose cells are known, and real extractions of them (search tests).

One-hot input (``n_embd=None``) makes every column of ``weight_ih`` one character, so each planted
unit is a few numbers. Gate rows follow torch: i, f, g, o. All planted units have o = 1, so
h = tanh(c).

* QUOTE (unit 0): c = +1 inside double quotes, -1 outside. At ``"`` the cell forgets (f = 0) and
  writes g = -sign(h_prev) (through a strong recurrent weight on its own h), so it toggles; at a
  blank line (a newline while NEWLINE is on) it writes -1, as the ``quote`` hypothesis closes
  quotes at paragraph breaks.
* NEWLINE (unit 1): c = 1 when the last symbol that is not a space or tab was a newline.
* PAREN (unit 2): c += 0.1 at ``(`` and -= 0.1 at ``)``, kept otherwise: c = 0.1 * depth.
* COLUMN (unit 3): c += 0.01 per symbol, reset to 0 at a newline: c = 0.01 * column.
* Units 4 and up: small random weights, so there are ordinary units to rank against.

:func:`quote_reading_model` adds a decoder that reads the quote cell alone, for causal tests.
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab

DATA = Path(__file__).parent / "data"
AUSTEN = (DATA / "austen_quotes.txt").read_text(encoding="utf-8")
PYTHON = (DATA / "textwrap_excerpt.py.txt").read_text(encoding="utf-8")
VOCAB = Vocab.from_text(AUSTEN + PYTHON)

QUOTE, NEWLINE, PAREN, COLUMN = 0, 1, 2, 3
N_HIDDEN = 8
BIG = 40.0


def planted_model(vocab: Vocab = VOCAB, seed: int = 0, n_hidden: int = N_HIDDEN) -> CharLSTM:
    """A one-layer one-hot LSTM with the planted units above (and random ones up to ``n_hidden``)."""
    V, H = len(vocab), n_hidden
    torch.manual_seed(seed)
    model = CharLSTM(LSTMConfig(vocab_size=V, n_layer=1, n_hidden=H, n_embd=None)).eval()
    w_ih = torch.randn(4 * H, V) * 0.5
    w_hh = torch.randn(4 * H, H) * 0.5
    bias = torch.zeros(4 * H)
    IN, FORGET, CELL, OUT = (slice(k * H, (k + 1) * H) for k in range(4))
    ch = {s: i for i, s in enumerate(vocab.symbols)}

    def row(gate: slice, unit: int) -> int:
        return gate.start + unit

    for unit in (QUOTE, NEWLINE, PAREN, COLUMN):  # planted rows start from zero
        for gate in (IN, FORGET, CELL, OUT):
            w_ih[row(gate, unit)] = 0
            w_hh[row(gate, unit)] = 0
        bias[row(OUT, unit)] = BIG  # o = 1

    on_nl = 25.0 / math.tanh(1.0)  # NEWLINE's h is tanh(1) when on
    # QUOTE: keep (f=1, i=0) unless '"' (toggle) or newline-after-blank-line (reset to -1).
    bias[row(FORGET, QUOTE)], bias[row(IN, QUOTE)] = BIG, -BIG
    w_ih[row(FORGET, QUOTE), ch['"']], w_ih[row(IN, QUOTE), ch['"']] = -2 * BIG, 2 * BIG
    w_ih[row(FORGET, QUOTE), ch["\n"]], w_ih[row(IN, QUOTE), ch["\n"]] = -25.0, 25.0
    w_hh[row(FORGET, QUOTE), NEWLINE], w_hh[row(IN, QUOTE), NEWLINE] = -on_nl, on_nl
    w_hh[row(CELL, QUOTE), QUOTE] = -10.0  # g = -sign(h_prev): the toggle
    bias[row(CELL, QUOTE)] = 1.0  # from c = 0 at the start, the first '"' opens
    w_ih[row(CELL, QUOTE), ch["\n"]] = -20.0  # the reset writes -1
    # NEWLINE: forget everything except across spaces and tabs; write 1 at '\n'.
    bias[row(FORGET, NEWLINE)], bias[row(IN, NEWLINE)] = -BIG, BIG
    for blank in (" ", "\t"):
        if blank in ch:
            w_ih[row(FORGET, NEWLINE), ch[blank]], w_ih[row(IN, NEWLINE), ch[blank]] = 2 * BIG, -2 * BIG
    w_ih[row(CELL, NEWLINE), ch["\n"]] = BIG
    # PAREN: keep; add +-0.1 at brackets.
    bias[row(FORGET, PAREN)], bias[row(IN, PAREN)] = BIG, -BIG
    for sym, sign in (("(", 1.0), (")", -1.0)):
        w_ih[row(IN, PAREN), ch[sym]] = 2 * BIG
        w_ih[row(CELL, PAREN), ch[sym]] = sign * math.atanh(0.1)
    # COLUMN: keep and add 0.01 every step; at '\n' forget and add nothing.
    bias[row(FORGET, COLUMN)], bias[row(IN, COLUMN)], bias[row(CELL, COLUMN)] = BIG, BIG, math.atanh(0.01)
    w_ih[row(FORGET, COLUMN), ch["\n"]] = -2 * BIG
    w_ih[row(CELL, COLUMN), ch["\n"]] = -math.atanh(0.01)

    with torch.no_grad():
        model.lstm.weight_ih_l0.copy_(w_ih)
        model.lstm.weight_hh_l0.copy_(w_hh)
        model.lstm.bias_ih_l0.copy_(bias)
        model.lstm.bias_hh_l0.zero_()
    return model


def quote_reading_model(n_hidden: int, weight: float) -> CharLSTM:
    """The planted model whose decoder reads the quote cell alone: logit('"') = weight * h_QUOTE, others 0."""
    model = planted_model(n_hidden=n_hidden)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
        model.decoder.weight[VOCAB.symbols.index('"'), QUOTE] = weight
    return model


def random_model(vocab: Vocab = VOCAB, seed: int = 0, n_layer: int = 1) -> CharLSTM:
    """The same shape with torch's default random initialisation: no planted cells."""
    torch.manual_seed(seed)
    return CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=n_layer, n_hidden=N_HIDDEN,
                               n_embd=None)).eval()


def extract_text(model: CharLSTM, text: str, path: Path, *, vocab: Vocab = VOCAB,
                 gates: bool = False) -> Path:
    """Run the real extractor over ``text`` into ``path``."""
    loaded = LoadedModel(model, vocab, "lstmviz", Path("planted.pt"), "0" * 64)
    return extract(loaded, vocab.encode(text), path, Options(gates=gates))


_SHARED = tempfile.TemporaryDirectory(prefix="lstmviz-search-tests-")  # removed at exit
TEXTS = {"austen": AUSTEN, "python": PYTHON}


@functools.cache
def shared_file(model: str, text: str, n_layer: int = 1) -> Path:
    """One extraction (with gates) per (model, text) for every search test module; never modify it.

    ``model`` is "planted" or "random" (seed 3). Tests that change a file work on a copy.
    """
    net = planted_model() if model == "planted" else random_model(seed=3, n_layer=n_layer)
    return extract_text(net, TEXTS[text], Path(_SHARED.name) / f"{model}{n_layer}_{text}.h5", gates=True)


def column_values(text: str) -> np.ndarray:
    """Column as the planted unit counts it, for checking the planting itself."""
    out, col = [], 0
    for ch in text:
        col = 0 if ch == "\n" else col + 1
        out.append(col)
    return np.array(out, dtype=np.float32)
