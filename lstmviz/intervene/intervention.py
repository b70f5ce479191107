"""What the model predicts when units are edited over a span: ``lstmviz intervene``.

The span [a, b) is rerun twice from the state the extraction stored at a - 1, in one batch: once
as it is and once with the edits (:mod:`lstmviz.intervene.edited_run`). Every difference is edited
minus unedited rerun, never edited minus stored: the stored h is rounded to float16, so a rerun
from it differs from the file by about that rounding (measured on every run and reported as
``rerun_error``), and the difference of two reruns from the same state cancels it.

After the span the runs go on, unedited both, until the effect has died out: the largest change of
any symbol's probability stays below ``tolerance`` for ``settle`` positions in a row (or ``after``
positions have passed, or the text ends).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lstmviz.intervene.edited_run import Edit, EditedRunner, stored_state
from lstmviz.intervene.edits import EditSpec, resolve
from lstmviz.model.charlstm import CharLSTM
from lstmviz.names import act_name
from lstmviz.store.reader import States
from lstmviz.store.spec import top_k

SETTLE = 50  # quiet positions in a row that end the aftermath
AFTER = 2000  # positions after the span, at most
TOLERANCE = 1e-4  # largest |Δp| of any symbol that counts as no effect
BLOCK = 512  # positions rerun at once


@dataclass
class Intervention:
    """The edited and unedited predictions at every position from the span's start to the effect's end.

    Arrays have one entry per position ``positions`` (a, a+1, …, end-1). Probabilities and losses
    concern the true next symbol, and are NaN at the text's last position, which none follows.

    Attributes:
        file: the extraction's name.
        edits: each edit as written, with the value it stands for (``layer2.c.89=mean (-0.412)``).
        start, stop: the span [start, stop) the edits act on.
        settled: whether the effect died out (else the aftermath limit or the text's end came first).
        positions: (n,) positions.
        symbols, next_symbols: the symbol at each position, and the one after it ("" at the end).
        top_ids, top_probs: (n, K) the edited run's guesses, most likely first; ``base_top_ids``
            and ``base_top_probs`` the unedited rerun's.
        p_next, base_p_next: (n,) probability of the true next symbol, edited and unedited.
        max_dp: (n,) the largest change of any symbol's probability.
        units: each edited unit -> (edited, unedited) values, (n,) each.
        rerun_error: how far the unedited rerun lies from the stored values: the largest
            |difference| of h and of c over every layer and unit, and of the loss in bits.
        vocab: the symbols, for reading ids.
    """

    file: str
    edits: list[str]
    start: int
    stop: int
    settled: bool
    positions: np.ndarray
    symbols: list[str]
    next_symbols: list[str]
    top_ids: np.ndarray
    top_probs: np.ndarray
    base_top_ids: np.ndarray
    base_top_probs: np.ndarray
    p_next: np.ndarray
    base_p_next: np.ndarray
    max_dp: np.ndarray
    units: dict[str, tuple[np.ndarray, np.ndarray]]
    rerun_error: dict[str, float]
    vocab: Sequence[str] = field(repr=False, default=())

    @property
    def end(self) -> int:
        """One past the last position reported."""
        return int(self.positions[-1]) + 1 if len(self.positions) else self.start

    @property
    def loss_bits(self) -> np.ndarray:
        """-log2 of the true next symbol's probability, edited."""
        return -np.log2(self.p_next)

    @property
    def base_loss_bits(self) -> np.ndarray:
        """-log2 of the true next symbol's probability, unedited."""
        return -np.log2(self.base_p_next)

    @property
    def delta_bits(self) -> np.ndarray:
        """Edited minus unedited loss, in bits: positive where the edit made the model worse."""
        return self.loss_bits - self.base_loss_bits

    @property
    def in_span(self) -> np.ndarray:
        """Which positions lie in the span (the rest are the aftermath)."""
        return self.positions < self.stop

    @property
    def top1_changed(self) -> np.ndarray:
        """The positions where the edited run's first guess differs from the unedited one's."""
        return self.positions[self.top_ids[:, 0] != self.base_top_ids[:, 0]]

    def totals(self) -> dict:
        """Δbits summed over the span and over the aftermath, per character too, and top-1 changes."""
        delta = np.nan_to_num(self.delta_bits)
        span, after = self.in_span, ~self.in_span
        return {
            "delta_bits_span": float(delta[span].sum()),
            "delta_bits_after": float(delta[after].sum()),
            "bits_per_char_span": float(delta[span].mean()) if span.any() else 0.0,
            "span_chars": int(span.sum()),
            "after_chars": int(after.sum()),
            "top1_changed": [int(p) for p in self.top1_changed],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per position: the symbols, both top-1 guesses, p and loss, Δbits, the edited units."""
        sym = np.asarray(self.vocab, dtype=object)
        df = pd.DataFrame({
            "position": self.positions,
            "symbol": self.symbols,
            "next": self.next_symbols,
            "in_span": self.in_span,
            "top5": [list(sym[row]) for row in self.top_ids],
            "top5_probs": [list(map(float, row)) for row in self.top_probs],
            "base_top5": [list(sym[row]) for row in self.base_top_ids],
            "p_next": self.p_next,
            "base_p_next": self.base_p_next,
            "loss_bits": self.loss_bits,
            "base_loss_bits": self.base_loss_bits,
            "delta_bits": self.delta_bits,
            "max_dp": self.max_dp,
            "top1_changed": self.top_ids[:, 0] != self.base_top_ids[:, 0],
        })
        for neuron, (edited, base) in self.units.items():
            df[neuron] = edited
            df[f"{neuron} unedited"] = base
        return df

    def to_dict(self) -> dict:
        """Everything, JSON-ready (NaN as None)."""
        rows = self.to_frame().astype(object).where(lambda d: d.notna(), None)
        return {
            "file": self.file, "edits": self.edits, "span": [self.start, self.stop], "end": self.end,
            "settled": self.settled, **self.totals(), "rerun_error": self.rerun_error,
            "positions": rows.to_dict(orient="records"),
        }


def intervene(states: States, model: CharLSTM, edits: Sequence[EditSpec | Edit], start: int, stop: int,
              *, settle: int = SETTLE, after: int = AFTER, tolerance: float = TOLERANCE,
              device: str | torch.device = "cpu") -> Intervention:
    """Edit units over positions [start, stop) of an extraction and compare with the unedited rerun.

    Args:
        states: the open extraction.
        model: the model it was made with (:func:`~lstmviz.intervene.model_source.model_for`).
        edits: as written (:class:`EditSpec`, resolved here against the file) or numeric
            (:class:`Edit`, whose steps count from ``start``).
        start: the span's first position.
        stop: one past its last.
        settle: quiet positions in a row after the span that end the run.
        after: positions after the span at most.
        tolerance: the largest change of any symbol's probability that counts as quiet.
        device: where to run.

    Raises:
        SpanError: the span is not within the text.
        UnknownActivation, ModelMismatch, OptionError: an edit that cannot apply (see
            :func:`lstmviz.intervene.edits.resolve`).

    >>> # with open_states(f) as s: intervene(s, model_for(s).model, [EditSpec.parse("layer2.c.89=zero")],
    >>> #                                     1200, 1260).totals()
    """
    start, stop = states.span(start, stop)
    resolved = [e if isinstance(e, Edit) else resolve(e, states, start=0, stop=stop - start) for e in edits]
    written = [_written(e, r) for e, r in zip(edits, resolved, strict=True)]
    gates = any(e.neuron.kind.startswith("gates.") for e in resolved)
    runner = EditedRunner(model, [[], resolved], stored_state(states, start - 1), device)
    limit = min(states.n_tokens, stop + after)
    tokens = states.tokens(start, min(states.n_tokens, limit + 1)).astype(np.int64)
    blocks, quiet, settled_at, pos = [], 0, None, start
    while pos < limit and settled_at is None:
        b = min(limit, pos + BLOCK) if pos >= stop else min(stop, pos + BLOCK)
        block = _Block.run(runner, states, tokens, start, pos, b, resolved, gates)
        blocks.append(block)
        for k, dp in enumerate(block.max_dp):
            at = pos + k
            if at < stop:
                continue
            quiet = quiet + 1 if dp < tolerance else 0
            if quiet == settle:
                settled_at = at - settle + 1
                break
        pos = b
    end = settled_at if settled_at is not None else pos
    joined = _Block.join(blocks, end - start)
    sym = states.vocab.symbols
    ids = tokens[: end - start + 1]
    return Intervention(
        file=states.path.name, edits=written, start=start, stop=stop, settled=settled_at is not None,
        positions=np.arange(start, end), symbols=[sym[i] for i in ids[: end - start]],
        next_symbols=[sym[i] for i in ids[1 : end - start + 1]] + [""] * (end - start + 1 - len(ids)),
        top_ids=joined["top_ids"], top_probs=joined["top_probs"], base_top_ids=joined["base_top_ids"],
        base_top_probs=joined["base_top_probs"], p_next=joined["p_next"], base_p_next=joined["base_p_next"],
        max_dp=joined["max_dp"],
        units={str(e.neuron): (joined[f"{e.neuron} edited"], joined[f"{e.neuron} base"]) for e in resolved},
        rerun_error={k: max(b.errors[k] for b in blocks) for k in ("h", "c", "loss_bits")},
        vocab=sym,
    )


def _written(spec: EditSpec | Edit, edit: Edit) -> str:
    """An edit as written, with the number it stands for where the spec does not say it."""
    if isinstance(spec, Edit):
        return f"{edit.neuron}={'scale' if edit.scale else 'set'}:{edit.value:g}"
    return str(spec) if spec.op in ("set", "scale", "zero") else f"{spec} ({edit.value:.6g})"


@dataclass
class _Block:
    """The two runs' results over positions [a, b)."""

    arrays: dict[str, np.ndarray]
    errors: dict[str, float]

    @property
    def max_dp(self) -> np.ndarray:
        return self.arrays["max_dp"]

    @classmethod
    def run(cls, runner: EditedRunner, states: States, tokens: np.ndarray, start: int, a: int, b: int,
            edits: Sequence[Edit], gates: bool) -> _Block:
        trace = runner.run(torch.from_numpy(tokens[a - start : b - start]), gates=gates)
        probs = torch.softmax(trace.logits.float(), dim=-1)  # (2, n, V)
        k = top_k(probs.shape[-1])
        top_p, top_i = probs.topk(k, dim=-1)
        nxt = torch.from_numpy(tokens[a - start + 1 : b - start + 1])
        p_next = torch.full((2, b - a), math.nan)
        p_next[:, : len(nxt)] = probs[:, : len(nxt)].gather(2, nxt.expand(2, -1)[..., None])[..., 0]
        arrays = {
            "top_ids": top_i[1].numpy(), "top_probs": top_p[1].numpy(),
            "base_top_ids": top_i[0].numpy(), "base_top_probs": top_p[0].numpy(),
            "p_next": p_next[1].numpy(), "base_p_next": p_next[0].numpy(),
            "max_dp": (probs[1] - probs[0]).abs().amax(dim=-1).numpy(),
        }
        for e in edits:
            n = e.neuron
            values = trace.gates[n.name] if n.kind.startswith("gates.") else getattr(trace, n.kind)[n.layer]
            arrays[f"{n} edited"] = values[1, :, n.unit].numpy()
            arrays[f"{n} base"] = values[0, :, n.unit].numpy()
        errors = {"h": 0.0, "c": 0.0}
        for layer in range(states.n_layer):
            for kind in ("h", "c"):
                stored = states.window(act_name(layer, kind), a, b)
                rerun = getattr(trace, kind)[layer][0].numpy()
                errors[kind] = max(errors[kind], float(np.abs(rerun - stored).max()))
        stored_loss = states.predictions(a, b).loss_bits
        rerun_loss = -np.log2(arrays["base_p_next"])
        errors["loss_bits"] = float(np.nanmax(np.abs(rerun_loss - stored_loss), initial=0.0))
        return cls(arrays, errors)

    @staticmethod
    def join(blocks: Sequence[_Block], n: int) -> dict[str, np.ndarray]:
        """The blocks' arrays end to end, cut to ``n`` positions."""
        return {key: np.concatenate([b.arrays[key] for b in blocks])[:n] for key in blocks[0].arrays}
