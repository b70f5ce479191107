"""Run a char-LSTM over a whole text and stream every activation and prediction into HDF5.

The text is read as one continuous stream, exactly as the model would read it: blocks of
``CHUNK_ROWS`` multiples pass state from one to the next, so memory stays bounded while the result
equals a single pass of ``nn.LSTM`` over the whole text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from lstmviz.loading import LoadedModel
from lstmviz.names import GATES, act_name
from lstmviz.store import CHUNK_ROWS, TOP_K, Predictions, StatesWriter
from lstmviz.unrolled import UnrolledLSTM

BLOCK_ROWS = 4 * CHUNK_ROWS


def activation_names(n_layer: int, gates: bool) -> list[str]:
    """Names stored for a model, in file order: per layer h, c, then the gates.

    >>> activation_names(1, True)
    ['layer0.h', 'layer0.c', 'layer0.gates.i', 'layer0.gates.f', 'layer0.gates.g', 'layer0.gates.o']
    """
    names = []
    for layer in range(n_layer):
        names += [act_name("h", layer), act_name("c", layer)]
        if gates:
            names += [act_name("gates", layer, g) for g in GATES]
    return names


def predictions_of(logits: torch.Tensor, next_tokens: torch.Tensor) -> Predictions:
    """Top-5 and true-next-symbol statistics for logits (T, V); ``next_tokens`` (T,) uses -1 at the end."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (T, V)
    top_logp, top_ids = logp.topk(TOP_K, dim=-1)
    has_next = next_tokens >= 0
    nll = -logp.gather(1, next_tokens.clamp(min=0)[:, None])[:, 0]  # (T,)
    nll = torch.where(has_next, nll, torch.full_like(nll, math.nan))
    return Predictions(
        top_ids=top_ids.int().cpu().numpy(),
        top_probs=top_logp.exp().cpu().numpy(),
        p_next=torch.exp(-nll).cpu().numpy(),
        loss_nats=nll.cpu().numpy(),
        loss_bits=(nll / math.log(2)).cpu().numpy(),
    )


def extract(
    loaded: LoadedModel,
    tokens: np.ndarray,
    out_path: str | Path,
    *,
    gates: bool = False,
    dtype: str = "float16",
    device: str = "cpu",
    attrs: dict | None = None,
) -> Path:
    """Write the extraction of ``tokens`` (T,) to ``out_path``; returns the path once complete."""
    cfg = loaded.model.config
    names = activation_names(cfg.n_layer, gates)
    run = UnrolledLSTM(loaded.model, device)
    writer = StatesWriter(out_path, n_tokens=len(tokens), config=cfg, vocab=loaded.vocab,
                          names=names, dtype=dtype, attrs=attrs)
    try:
        state = None
        all_tokens = torch.as_tensor(tokens, dtype=torch.long)
        for start in range(0, len(tokens), BLOCK_ROWS):
            block = all_tokens[start : start + BLOCK_ROWS]
            out, state = run(block[None], state, gates=gates)
            nxt = all_tokens[start + 1 : start + 1 + len(block)]
            nxt = torch.cat([nxt, torch.full((len(block) - len(nxt),), -1, dtype=torch.long)])
            writer.write(
                start,
                block.numpy().astype(np.int32),
                {n: out.acts[n][0].cpu().numpy() for n in names},
                predictions_of(out.logits[0], nxt.to(out.logits.device)),
            )
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
