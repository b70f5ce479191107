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
A second planted model (:func:`planted_code_model`) has cells for the language hypotheses, built
from detectors (:class:`Wiring`): a Python docstring cell, a LaTeX math cell and a LaTeX
environment-depth counter, run over CPython's textwrap.py and a LaTeX rendering of SciPy's docs.
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
LATEX = (DATA / "scipy_orthogonal.tex.txt").read_text(encoding="utf-8")
VOCAB = Vocab.from_text(AUSTEN + PYTHON)
CODE_VOCAB = Vocab.from_text(PYTHON + LATEX)

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
class Wiring:
    """The weights of a one-layer one-hot LSTM, set a unit at a time (tests only).

    A planted unit has o = 1, so h = tanh(c). Its gates are ``K * score``, a score being a sum of
    terms: a symbol (1 when it is the current symbol) or another unit (its h one step earlier). A
    detector unit writes c = ±1 every step, so its h is ±tanh(1) = ±0.76: "on" or "off". The
    thresholds below leave every score well away from 0 (0.24 or more, times 20 or 100), so the
    gates saturate; a latch's gates are scaled by 100 so that one that never fires stays exactly 0.
    """

    K = 20.0

    def __init__(self, vocab: Vocab, n_hidden: int, seed: int = 0):
        self.vocab, self.H = vocab, n_hidden
        torch.manual_seed(seed)
        V = len(vocab)
        self.w_ih = torch.randn(4 * n_hidden, V) * 0.5
        self.w_hh = torch.randn(4 * n_hidden, n_hidden) * 0.5
        self.bias = torch.zeros(4 * n_hidden)
        self.ch = {s: i for i, s in enumerate(vocab.symbols)}
        self.used = 0

    def unit(self) -> int:
        """A new planted unit: every weight zero, o = 1."""
        u = self.used
        self.used += 1
        for gate in range(4):
            self.w_ih[gate * self.H + u] = 0
            self.w_hh[gate * self.H + u] = 0
        self.bias[3 * self.H + u] = BIG
        return u

    def gate(self, u: int, gate: int, terms: dict, const: float, scale: float = K) -> None:
        """Gate ``gate`` (0 i, 1 f, 2 g) of unit ``u`` = scale * (sum of terms + const)."""
        row = gate * self.H + u
        for key, w in terms.items():
            if isinstance(key, str):
                self.w_ih[row, self.ch[key]] += scale * w
            else:
                self.w_hh[row, key] += scale * w
        self.bias[row] += scale * const

    def detector(self, symbol: str, after: int | None = None) -> int:
        """On right after reading ``symbol`` (when unit ``after`` was on one step earlier), else off."""
        u = self.unit()
        self.gate(u, 0, {}, BIG, 1)
        self.gate(u, 1, {}, -BIG, 1)
        if after is None:
            self.gate(u, 2, {symbol: 1}, -0.5)
        else:
            self.gate(u, 2, {symbol: 1, after: 1}, -1.38)
        return u

    def latch(self, event: tuple[dict, float], value: tuple[dict, float], scale: float = K) -> int:
        """Keeps its c except where ``event`` scores above 0; there it writes tanh(``value``)."""
        u = self.unit()
        self.gate(u, 0, *event, 5 * self.K)
        self.gate(u, 1, {k: -w for k, w in event[0].items()}, -event[1], 5 * self.K)
        self.gate(u, 2, *value, scale)
        return u

    def model(self) -> CharLSTM:
        model = CharLSTM(LSTMConfig(vocab_size=len(self.vocab), n_layer=1, n_hidden=self.H,
                                    n_embd=None)).eval()
        with torch.no_grad():
            model.lstm.weight_ih_l0.copy_(self.w_ih)
            model.lstm.weight_hh_l0.copy_(self.w_hh)
            model.lstm.bias_ih_l0.copy_(self.bias)
            model.lstm.bias_hh_l0.zero_()
        return model


CODE_UNITS = 24


def planted_code_model(vocab: Vocab = CODE_VOCAB, seed: int = 0) -> tuple[CharLSTM, dict[str, int]]:
    r"""A one-layer one-hot LSTM with cells for ``docstring``, ``math`` and ``depth_env``.

    * docstring: a toggle at the third of three ``"`` in a row (in textwrap.py every such string
      is a docstring, and no docstring is quoted otherwise). Two detectors count the quotes.
    * math: a toggle at a ``$`` not after a backslash, set on at the ``}`` of ``\begin{e…}`` and
      off at the ``}`` of ``\end{e…}`` (in the SciPy text the only environment whose name starts
      with e is equation*). Detectors spell ``\begin{`` and ``\end{``; latches hold "inside the
      name of a begin" (INB), "… of an end" (INE) and "the name starts with e" (NE).
    * depth_env: c += 0.1 at the ``}`` that closes a begin's name, -= 0.1 at one closing an end's:
      c = 0.1 * depth.

    Returns the model and the planted units by hypothesis name; the other units are random.
    """
    w = Wiring(vocab, CODE_UNITS, seed)
    q1 = w.detector('"')
    q2 = w.detector('"', after=q1)
    # A toggle, as QUOTE's: g = -sign(h_prev) (the bias makes the first one, from c = 0, open).
    doc = w.latch(({'"': 1, q2: 1}, -1.38), ({w.used: -10.0}, 1.0), 1)
    backslash = w.detector("\\")
    spelt = {}
    for word in ("begin", "end"):
        chain = backslash
        for symbol in word:
            chain = w.detector(symbol, after=chain)
        spelt[word] = chain  # on at the last letter of \begin, \end
    begin, end = (w.detector("{", after=spelt[word]) for word in ("begin", "end"))  # on at their {
    inb = w.latch(({"}": 3, "{": 1, spelt["begin"]: 1}, -1.38), ({"{": 1, "}": -1}, 0))
    ine = w.latch(({"}": 3, "{": 1, spelt["end"]: 1}, -1.38), ({"{": 1, "}": -1}, 0))
    ne = w.latch(({"}": 3, "e": 1, begin: 1, end: 1}, -0.5), ({"e": 1, "}": -1}, 0))
    math_cell = w.latch(({"$": 2.76, "}": 1.0, backslash: -1, ne: 1}, -2.0),
                        ({inb: 20.0, ine: -20.0, w.used: -10.0}, 1.0), 1)  # w.used: its own h, a toggle
    depth = w.unit()
    w.gate(depth, 1, {}, BIG, 1)  # keep
    w.gate(depth, 0, {"}": 1, inb: 1, ine: 1}, -0.5, 5 * w.K)
    w.gate(depth, 2, {inb: 1, ine: -1}, 0.0, math.atanh(0.1) / (2 * math.tanh(1.0)))
    return w.model(), {"docstring": doc, "math": math_cell, "depth_env": depth}


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
def code_file(text: str) -> Path:
    """The planted code model over ``python`` (textwrap.py) or ``latex`` (SciPy docs); never modify it."""
    model, _ = planted_code_model()
    path = Path(_SHARED.name) / f"code_{text}.h5"
    return extract_text(model, {"python": PYTHON, "latex": LATEX}[text], path, vocab=CODE_VOCAB)


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
