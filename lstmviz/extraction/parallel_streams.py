"""Reading a text as several streams side by side: the plan, the burn-in, the measured deviation.

One stream is exact but sequential; N streams keep a GPU busy. Each stream after the first starts
``burn_in`` characters before its own text from a zero state, so its state has settled by the time
it gets there. Settled is not exact, so the distance from the exact pass is measured on a sample
and stored with the file (see ``docs/extraction.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lstmviz.kinds import KINDS
from lstmviz.model.runner import Activations, State, UnrolledLSTM
from lstmviz.names import parse_name
from lstmviz.store.spec import CHUNK_ROWS, SEGMENT
from lstmviz.store.writer import StatesWriter

DEVIATION_BOUNDARIES = 8  # sample boundaries measured
DEVIATION_SPAN = 1024  # characters compared after each

ReadTokens = Callable[[int, int], np.ndarray]


def plan_streams(n_tokens: int, streams: int) -> tuple[int, int]:
    """(streams actually used, characters per stream): stream lengths are whole chunks.

    >>> plan_streams(100_000, 1), plan_streams(100_000, 8), plan_streams(10_000, 8)
    ((1, 100000), (7, 16384), (3, 4096))
    """
    if streams <= 1:
        return 1, n_tokens
    length = -(-n_tokens // streams)
    length = -(-length // CHUNK_ROWS) * CHUNK_ROWS
    return -(-n_tokens // length), length


def token_rows(read: ReadTokens, n_tokens: int, spans: list[tuple[int, int]], width: int,
               shift: int = 0) -> np.ndarray:
    """Token ids (B, width) of each span (moved by ``shift``); -1 beyond a span or the text."""
    out = np.full((len(spans), width), -1, dtype=np.int64)
    for s, (a, b) in enumerate(spans):
        a, b = min(a + shift, n_tokens), min(b + shift, n_tokens)
        if b > a:
            out[s, : b - a] = read(a, b)
    return out


def burn_in(run: UnrolledLSTM, read: ReadTokens, n_tokens: int, starts: list[int], K: int,
            rows: int) -> State:
    """State of each stream after reading the K characters before its start.

    A stream whose burn-in would begin before the text starts from zero at position 0 instead,
    exactly like the single pass (so stream 0 starts from zero). So no burn-in need be longer than
    the last start: a larger K reads the same characters, and would only allocate and pad more.
    """
    K = min(K, max(starts))
    pads = [max(0, K - st) for st in starts]
    ids = token_rows(read, n_tokens, [(st - K + p, st) for st, p in zip(starts, pads, strict=True)], K)
    for s, p in enumerate(pads):  # right-align each stream's burn-in text
        ids[s] = np.roll(ids[s], p)
    state = run.zero_state(len(starts))
    done = 0
    for boundary in sorted(set(pads)) + [K]:
        for a in range(done, boundary, rows):
            piece = torch.from_numpy(ids[:, a : min(boundary, a + rows)]).clamp(min=0)
            state = run.final_state(piece, state)
        done = max(done, boundary)
        reset = torch.tensor([p == boundary for p in pads], device=run.device)[:, None]
        state = [(h.masked_fill(reset, 0.0), c.masked_fill(reset, 0.0)) for h, c in state]
    return state


def measure_deviation(run: UnrolledLSTM, writer: StatesWriter, *, n_tokens: int, stream_length: int,
                      K: int, rows: int, dtype: str) -> dict[str, Any]:
    """How far burned-in streams stray from the exact single pass, measured on a sample.

    Stream 0 starts at the text's start, so it is exact: sample boundaries spread over its
    stretch, each read by a stream started K characters early from a zero state, are compared over
    the span after the boundary with what the file holds there (in the file's precision). Where
    stream 0 is too short for that, the exact values of the text's first few thousand characters
    are computed afresh instead.
    """
    end = min(stream_length, n_tokens)
    span = min(DEVIATION_SPAN, end - K - 1)
    exact = None
    if span >= 1:
        bounds = np.linspace(K + 1, end - span, DEVIATION_BOUNDARIES)
    else:
        span = min(DEVIATION_SPAN, n_tokens - K - 1)
        if span < 1:
            return {"streams_deviation_h_max": 0.0, "streams_deviation_h_mean": 0.0,
                    "streams_deviation_c_max": 0.0, "streams_deviation_top1_agree": 1.0,
                    "streams_deviation_sample": "none: every stream's burn-in reaches the text's start"}
        bounds = np.linspace(K + 1, min(n_tokens - span, K + DEVIATION_BOUNDARIES * SEGMENT),
                             DEVIATION_BOUNDARIES)
        ids = writer.read_tokens(0, int(bounds[-1]) + span).astype(np.int64)
        exact = _run_blocks(run, torch.from_numpy(ids)[None], rows)
    bounds = sorted({int(p) for p in bounds})
    state = burn_in(run, writer.read_tokens, n_tokens, bounds, K, rows)
    ids = torch.from_numpy(np.stack([writer.read_tokens(p, p + span) for p in bounds]))
    approx, _ = run(ids.long(), state)
    dh, dc, agree, mean_h = [], [], [], []
    for s, p in enumerate(bounds):
        for name in approx.acts:
            kind = parse_name(name)[1]
            got = approx.acts[name][s]
            if exact is not None:
                want = exact.acts[name][0, p : p + span]
            else:
                want = torch.from_numpy(writer.read_rows(name, p, p + span).astype(np.float32))
                if KINDS[kind].storage_dtype(dtype) == "float16":
                    got = got.half().float()  # compare what the file would hold
            diff = (got - want.to(got.device)).abs()
            (dc if kind == "c" else dh).append(diff.max().item())
            if kind == "h":
                mean_h.append(diff.mean().item())
        top_a = approx.logits[s].argmax(-1).cpu()
        if exact is not None:
            top_e = exact.logits[0, p : p + span].argmax(-1).cpu()
        else:
            top_e = torch.from_numpy(writer.read_top_ids(p, p + span)[:, 0].astype(np.int64))
        agree.append((top_a == top_e).float().mean().item())
    return {
        "streams_deviation_h_max": max(dh),
        "streams_deviation_h_mean": float(np.mean(mean_h)),
        "streams_deviation_c_max": max(dc),
        "streams_deviation_top1_agree": float(np.mean(agree)),
        "streams_deviation_sample": (f"{len(bounds)} boundaries in positions {bounds[0]:,}-"
                                     f"{bounds[-1]:,}, {span} characters after each, burn-in {K}"),
    }


def _run_blocks(run: UnrolledLSTM, ids: torch.Tensor, rows: int) -> Activations:
    """Run (1, T) ids block by block from a zero state; the joined activations (short samples only)."""
    parts, state = [], None
    for a in range(0, ids.shape[1], rows):
        out, state = run(ids[:, a : a + rows], state)
        parts.append(out)
    acts = {n: torch.cat([p.acts[n] for p in parts], dim=1) for n in parts[0].acts}
    return Activations(acts, torch.cat([p.logits for p in parts], dim=1))
