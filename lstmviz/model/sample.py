"""Generating text from a CharLSTM one symbol at a time, at a chosen temperature.

The logits are divided by the temperature before the softmax. Below 1 this sharpens the
distribution, so the text becomes likely but repetitive (near 0 it keeps repeating the model's
favourite phrase). Above 1 it flattens it, giving more variety and more mistakes. This is the
trade-off Karpathy shows in "The Unreasonable Effectiveness of Recurrent Neural Networks" (2015).
Draws use a CPU ``torch.Generator``, so a seed gives the same text on any device. Each step is
one symbol, far too little work to share between CPU threads: ``lstmviz sample`` runs CPU
generation on one thread (``torch.set_num_threads(1)``), several times faster on busy cores.
"""

from __future__ import annotations

import codecs
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import torch

from lstmviz.errors import OptionError, VocabError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.vocab import Vocab, describe_missing

log = logging.getLogger(__name__)

START_SYMBOL = "\n"  # without a prime, generation starts as if at the beginning of a line

# Reads token ids (1, T) from a state (None before the first call) and returns logits (1, T, V) and
# the state after them; the state is the step's own business.
Step = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def generate(model: CharLSTM, vocab: Vocab, n: int, *, temperature: float = 1.0,
             prime: str = "", top_k: int | None = None, seed: int | None = None,
             device: torch.device | str = "cpu", step: Step | None = None) -> Iterator[str]:
    r"""Yield ``n`` sampled symbols as text, continuing ``prime`` (which is not repeated).

    Arguments are checked here, before the first symbol is asked for. In a byte-level model a
    symbol is a UTF-8 byte, and the pieces yielded are whole characters once complete.

    Args:
        model: the network; it is put in eval mode on ``device``.
        vocab: its vocabulary.
        n: how many symbols to generate.
        temperature: > 0; low is conservative and repetitive, high is diverse and error-prone.
        prime: text the model reads first, so the sample continues it.
        top_k: draw only among the k most likely symbols.
        seed: makes the sample reproducible.
        device: where the model runs.
        step: what reads symbols and gives the next logits; the model itself by default.
            Steering passes one that holds units at values (:mod:`lstmviz.intervene.steering`).

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=3, n_layer=1, n_hidden=8))
    >>> len("".join(generate(m, Vocab(("a", "b", "\n")), 20, seed=1)))
    20
    """
    if not temperature > 0:
        raise OptionError(f"temperature must be above 0 (got {temperature}); try 0.5 for safe "
                          "text, 1.0 for the model's own distribution")
    if top_k is not None and top_k < 1:
        raise OptionError(f"--top-k must be at least 1 (got {top_k}), or left out")
    if n < 0:
        raise OptionError(f"the length must be 0 or more (got {n})")
    lacking = vocab.missing(prime)
    if lacking:
        raise VocabError(describe_missing(lacking, "the prime", "remove them from --prime"))
    folded = Counter(c for c in vocab.symbols_of(prime) if c not in vocab.symbols)
    if folded:
        shown = ", ".join(f"{c!r}×{k}" for c, k in folded.most_common(5))
        log.warning("the prime has %d character(s) the vocabulary lacks (%s); the model reads its "
                    "unknown symbol %r in their place", sum(folded.values()), shown, vocab.unknown)
    return _generate(model, vocab, n, temperature, prime, top_k, seed, torch.device(device), step or model)


@torch.no_grad()
def _generate(model: CharLSTM, vocab: Vocab, n: int, temperature: float, prime: str,
              top_k: int | None, seed: int | None, device: torch.device, step: Step) -> Iterator[str]:
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    model.eval().to(device)
    if prime:
        ids = vocab.encode(prime).tolist()
    elif START_SYMBOL in vocab.symbols:
        ids = [vocab.symbols.index(START_SYMBOL)]
    else:
        ids = [int(torch.randint(len(vocab), (1,), generator=generator))]
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace") if vocab.byte_level else None
    logits, state = step(torch.tensor([ids], device=device), None)  # (1, T, V)
    for i in range(n):
        scores = logits[0, -1].float().cpu()  # (V,)
        # Shifted so the best is 0 before dividing: a tiny temperature then gives -inf to the
        # others (the most likely symbol, always) instead of inf - inf = nan.
        scores = (scores - scores.max()) / temperature
        if top_k is not None and top_k < len(scores):
            cutoff = torch.topk(scores, top_k).values[-1]
            scores = scores.masked_fill(scores < cutoff, -torch.inf)
        token = int(torch.multinomial(torch.softmax(scores, dim=0), 1, generator=generator))
        symbol = vocab.symbols[token]
        piece = decoder.decode(symbol.encode("latin-1")) if decoder else symbol
        if piece:
            yield piece
        if i + 1 < n:
            logits, state = step(torch.tensor([[token]], device=device), state)
    if decoder:
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


def sample(model: CharLSTM, vocab: Vocab, n: int, **options) -> str:
    """:func:`generate` joined into one string; takes the same keyword options.

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=2, n_layer=1, n_hidden=4))
    >>> sample(m, Vocab(("a", "b")), 5, seed=0) == sample(m, Vocab(("a", "b")), 5, seed=0)
    True
    """
    return "".join(generate(model, vocab, n, **options))
