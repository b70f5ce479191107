"""Turning a text into training batches and a fixed validation sample, the char-rnn way.

Batches are contiguous: the text is cut into B streams and each step takes the next T symbols of
every stream, so ``(h, c)`` carries from step to step exactly as extraction and sampling later run
the model. Validation reads a fixed set of long windows with state carried, in bits per character.

References: https://github.com/karpathy/char-rnn (``CharSplitLMMinibatchLoader``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lstmviz.errors import OptionError, TextError
from lstmviz.model.charlstm import CharLSTM

_LN2 = math.log(2.0)
_VAL_SEGMENT = 5_000  # characters per validation stream: long enough that the cold start fades
_VAL_STREAMS = 32


def split_validation(text: str, fraction: float) -> tuple[str, str]:
    r"""Hold out the last ``fraction`` of the text, cut at a line start so no line is split.

    >>> split_validation("one\ntwo\nthree\nfour\n", 0.3)
    ('one\ntwo\nthree\n', 'four\n')
    """
    if not 0 < fraction < 1:
        raise OptionError(f"--val-fraction must be between 0 and 1 (got {fraction}); e.g. 0.1")
    cut = int(len(text) * (1 - fraction))
    if cut > 0 and text[cut - 1] != "\n":  # not yet at a line start
        slack = max(1, int(len(text) * fraction / 2))  # move the cut at most this far
        after = text.find("\n", cut, cut + slack)
        before = text.rfind("\n", max(0, cut - slack), cut)
        if after != -1 and after + 1 < len(text):
            cut = after + 1
        elif before != -1:
            cut = before + 1
    return text[:cut], text[cut:]


class StreamBatches:
    """char-rnn's loader: B streams through the text, T steps at a time, (h, c) carried along.

    Each epoch shifts the streams by a seeded random offset below T, so windows do not repeat
    exactly. Every epoch has the same number of steps, which makes ``step`` alone enough to resume.

    >>> b = StreamBatches(torch.arange(1000), batch_size=4, seq_len=10, seed=0)
    >>> x, y, fresh = b.batch(0)
    >>> tuple(x.shape), bool((y == x + 1).all()), fresh
    ((4, 10), True, True)
    """

    def __init__(self, tokens: torch.Tensor, batch_size: int, seq_len: int, seed: int):
        n = len(tokens)
        if n < seq_len + 1:
            raise TextError(
                f"the training text has {n} characters, too few for --seq-len {seq_len} "
                f"(needs at least {seq_len + 1}); use a smaller --seq-len, e.g. {max(1, n // 2)}")
        self.tokens, self.seq_len, self.seed = tokens, seq_len, seed
        self.max_shift = min(seq_len - 1, n - 1 - seq_len)
        usable = n - 1 - self.max_shift
        self.batch_size = min(batch_size, usable // seq_len)
        self.stream_len = usable // self.batch_size
        self.steps_per_epoch = self.stream_len // seq_len

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Inputs and targets (B, T) for a global step, and whether the state must start fresh."""
        epoch, k = divmod(step, self.steps_per_epoch)
        shift = int(np.random.default_rng([self.seed, epoch]).integers(0, self.max_shift + 1))
        size = self.batch_size * self.stream_len
        t0, t1 = k * self.seq_len, (k + 1) * self.seq_len
        x = self.tokens[shift:shift + size].view(self.batch_size, -1)[:, t0:t1]  # (B, T)
        y = self.tokens[shift + 1:shift + 1 + size].view(self.batch_size, -1)[:, t0:t1]  # (B, T)
        return x.contiguous(), y.contiguous(), k == 0


def validation_windows(n: int, max_chars: int) -> tuple[np.ndarray, int]:
    """Start offsets and length of the fixed validation streams: all of it, or evenly spread.

    Up to 32 streams of about 5,000 symbols; when the text is longer than ``max_chars`` the
    streams are spread evenly over it instead of taking only its beginning.

    >>> validation_windows(12_000, 100_000)
    (array([   0, 6000]), 6000)
    """
    used = min(n, max(2, max_chars))
    streams = int(np.clip(used // _VAL_SEGMENT, 1, _VAL_STREAMS))
    length = used // streams
    return np.linspace(0, n - length, streams).round().astype(np.int64), length


@torch.no_grad()
def evaluate(model: CharLSTM, tokens: torch.Tensor, *, max_chars: int = 100_000,
             device: torch.device | str = "cpu", chunk: int = 256) -> float:
    """Validation loss in bits per character over :func:`validation_windows`, state carried.

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=4, n_layer=1, n_hidden=8))
    >>> 0 < evaluate(m, torch.randint(0, 4, (300,))) < 4
    True
    """
    starts, length = validation_windows(len(tokens), max_chars)
    data = torch.stack([tokens[s:s + length] for s in starts.tolist()]).to(device)  # (S, L)
    was_training = model.training
    model.eval()
    state, total, count = None, 0.0, 0
    for i in range(0, length - 1, chunk):
        x = data[:, i:min(i + chunk, length - 1)]  # (S, t)
        y = data[:, i + 1:i + 1 + x.shape[1]]  # (S, t)
        logits, state = model(x, state)  # (S, t, V)
        total += nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count / _LN2
