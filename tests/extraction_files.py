"""Seeded tiny char-LSTMs, real checkpoints and texts, and torch.nn.LSTM references (extractor tests)."""

import contextlib
import inspect
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lstmviz.kinds import GATES
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab
from lstmviz.names import act_name

# Real text that is always present: Python source with prose, code, quotes and indentation.
TEXT = (inspect.getsource(inspect) * 2)[:10_000]
VOCAB = Vocab.from_text(inspect.getsource(inspect))


@contextlib.contextmanager
def torch_threads(n: int):
    """Run torch on ``n`` threads inside, as it ran before afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread():
    """Run tiny models on one thread: per-step work is too small to share, and a busy machine makes
    threads wait on each other at every step."""
    return torch_threads(1)


def make_model(n_layer: int = 2, n_hidden: int = 32, n_embd: int | None = 16, *, seed: int = 0,
               vocab: Vocab = VOCAB, scale: float = 2.0) -> CharLSTM:
    """A seeded CharLSTM with weights scaled up so its units saturate and remember, like trained ones."""
    torch.manual_seed(seed)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=n_layer, n_hidden=n_hidden, n_embd=n_embd))
    with torch.no_grad():
        for p in model.lstm.parameters():
            p.mul_(scale)
    return model.eval()


def write_checkpoint(path: Path, model: CharLSTM | None = None, vocab: Vocab = VOCAB) -> Path:
    """A real checkpoint file written by torch through lstmviz's own writer."""
    save_checkpoint(path, model if model is not None else make_model(), vocab, {"note": "test"})
    return path


def write_text(path: Path, text: str = TEXT) -> Path:
    """A UTF-8 text file with exactly these characters (no newline translation)."""
    path.write_bytes(text.encode("utf-8"))
    return path


@torch.no_grad()
def stepped(model: CharLSTM, tokens: np.ndarray, state=None) -> dict[str, np.ndarray]:
    """Every layer's h and c per step, from ``model.lstm`` (nn.LSTM) fed one step at a time.

    nn.LSTM returns the state of every layer after each call, so stepping it gives per-step c,
    which no other torch API exposes.
    """
    x = model.inputs(torch.as_tensor(np.asarray(tokens), dtype=torch.long)[None])  # (1, T, E)
    L = model.config.n_layer
    hs, cs = [], []
    for t in range(x.shape[1]):
        _, state = model.lstm(x[:, t : t + 1], state)
        hs.append(state[0][:, 0].clone())
        cs.append(state[1][:, 0].clone())
    h, c = torch.stack(hs, 1), torch.stack(cs, 1)  # (L, T, H)
    out = {}
    for layer in range(L):
        out[act_name(layer, "h")] = h[layer].numpy()
        out[act_name(layer, "c")] = c[layer].numpy()
    return out


@torch.no_grad()
def gates_from_torch(model: CharLSTM, tokens: np.ndarray, ref: dict[str, np.ndarray]) -> dict:
    """i, f, g, o of every layer from nn.LSTM's own weights and the stepped h (torch's equations)."""
    x = model.inputs(torch.as_tensor(np.asarray(tokens), dtype=torch.long)[None])[0]
    out = {}
    for layer in range(model.config.n_layer):
        h = torch.from_numpy(ref[act_name(layer, "h")])
        h_prev = torch.cat([torch.zeros(1, h.shape[1]), h[:-1]])
        lstm = model.lstm
        w = {k: getattr(lstm, f"{k}_l{layer}") for k in ("weight_ih", "bias_ih", "weight_hh", "bias_hh")}
        z = F.linear(x, w["weight_ih"], w["bias_ih"]) + F.linear(h_prev, w["weight_hh"], w["bias_hh"])
        i, f, g, o = z.chunk(4, dim=1)
        for gate, value in zip(GATES, (i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()), strict=True):
            out[act_name(layer, gate)] = value.numpy()
        x = h
    return out


def plant_counter(model: CharLSTM, unit: int = 0) -> CharLSTM:
    """Make one unit of layer 0 count characters: f = i = g = 1 always, so c_t = t + 1 exactly.

    Trained models grow such cells (|c| in the thousands); this one passes float16's 65,504 after
    65,504 characters.
    """
    H = model.config.n_hidden
    lstm = model.lstm
    with torch.no_grad():
        for gate in (0, 1, 2):  # i, f, g rows: no input or recurrent weight, a huge bias
            row = gate * H + unit
            lstm.weight_ih_l0[row] = 0.0
            lstm.weight_hh_l0[row] = 0.0
            lstm.bias_ih_l0[row] = 50.0
            lstm.bias_hh_l0[row] = 0.0
    return model
