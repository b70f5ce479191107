"""The gates c is made of, i, f and g in float32, recomputed exactly as the extraction computed them.

Taking a cell state apart (:mod:`lstmviz.intervene.provenance`, :mod:`lstmviz.intervene.horizon`)
needs the very gates that made it. A file stores them only with ``--gates``, and by default in
float16, whose rounding (up to 2⁻¹² on each gate) does not reproduce c: on the bundled model one
step ``f·c + i·g`` from stored float16 gates missed the stored c by more than 1e-5 of its absolute
contributions at over 90 % of positions, and by up to all of it. Only a ``--gates --dtype float32``
file holds the gates as computed (:func:`stored_gates_exact`).

Otherwise the model runs again. Starting from the state the file stores at some position does not
work either: h is stored in float16, and its rounding moves the gates of units that remember for
long; on the bundled model, with 0 to 1,000 characters of burn-in, the recomputed c still missed
the stored one by up to 1e-4 of its absolute contributions (``benchmarks/provenance.py``). So
:func:`replay` runs from the text's start, in the extraction's blocks, through the same products
(those of a file with or without gates differ in the last bit) and the same split of threads: on
the kind of device the extraction ran on, every recomputed c equals the stored one bit for bit.
Only blocks that are needed are completed; the others run through the fast ``nn.LSTM`` recurrence
alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lstmviz.devices import resolve_device
from lstmviz.extraction.extract import EXTRACT_DEVICES, block_rows
from lstmviz.extraction.two_stage import run_ahead, thread_split
from lstmviz.kinds import CELL_GATES
from lstmviz.model.runner import Hidden, State, UnrolledLSTM
from lstmviz.names import act_name
from lstmviz.progress import progress_bar
from lstmviz.store.reader import States
from lstmviz.store.spec import CHUNK_ROWS, text_attr


@dataclass
class CellBlock:
    """The gates and cell state of every layer at positions [start, start + n), as float32 on the device.

    ``gates[layer]`` is (i, f, g), each (n, H); ``c[layer]`` is (n, H).
    """

    start: int
    gates: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    c: list[torch.Tensor]

    @property
    def stop(self) -> int:
        """One past the block's last position."""
        return self.start + self.c[0].shape[0]


def stored_gates_exact(states: States) -> bool:
    """Whether the file holds the gates as the extraction computed them: ``--gates --dtype float32``."""
    return states.has_gates and text_attr(states.file.attrs, "dtype") == "float32"


def stored_gates(states: States, layer: int, start: int, stop: int, unit: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """i, f and g of one layer at [start, stop) as the file stores them: (n, H), or (n,) for one unit."""
    i, f, g = (states.window(act_name(layer, gate), start, stop, unit) for gate in CELL_GATES)
    return i, f, g


def extraction_rows(states: States, streams: int = 1) -> int:
    """Characters per block (of each stream) of the extraction that wrote the file.

    What :func:`~lstmviz.extraction.extract.block_rows` gave on the extraction's device: the CPU's
    budget is fixed; a GPU's, a quarter of its memory, holds whole chunks of any model that fits it.
    """
    made_on = text_attr(states.file.attrs, "device") or "cpu"
    if not made_on.startswith("cpu"):
        return CHUNK_ROWS
    return block_rows(states.config, len(states.names), streams, torch.device("cpu"))


def block_starts(states: States, start: int, stop: int) -> np.ndarray:
    """The positions in [start, stop), 0 left out, where the extraction began a block from a state handed on.

    Each stream (one, unless ``--streams``) is read in blocks of :func:`extraction_rows`; a block
    starts from ``nn.LSTM``'s final state of the one before, and a stream from its burn-in state,
    neither of which is the stored c of the position before.
    """
    attrs = states.attrs
    streams = int(attrs.get("streams", 1))
    length = int(attrs.get("stream_length", states.n_tokens)) if streams > 1 else states.n_tokens
    rows = extraction_rows(states, streams)
    found = [np.arange(base + -(-max(start - base, 0) // rows) * rows, min(stop, base + length), rows)
             for base in range(start // length * length, stop, length)]
    firsts = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return firsts[firsts > 0]


def replay_device(states: States, device: str = "auto") -> torch.device:
    """Where to replay: ``auto`` is the kind of device the extraction ran on when there is one here.

    CPU and GPU kernels round differently, so the stored c is reproduced bit for bit only on the
    kind of device that computed it (its ``device`` attribute).
    """
    if device != "auto":
        return resolve_device(device, supported=EXTRACT_DEVICES)
    made_on = (text_attr(states.file.attrs, "device") or "cpu").split(" ")[0]
    if made_on.startswith("cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def replay(
    states: States,
    run: UnrolledLSTM,
    stop: int | None = None,
    *,
    wanted: Callable[[int, int], bool] | None = None,
    progress: bool = False,
    handed: dict[int, State] | None = None,
) -> Iterator[CellBlock]:
    """The gates and c of every layer, block by block from the text's start up to ``stop``.

    Args:
        states: the extraction; its tokens are read, and its ``gates`` flag picks the products.
        run: the extraction's model (:func:`lstmviz.intervene.model_source.model_for`), on the
            device to replay on.
        stop: one past the last position needed (default: the text's end).
        wanted: ``wanted(a, b)`` says whether block [a, b) is needed; the others are only read
            through (default: all are needed).
        progress: a progress bar on stderr.
        handed: the states handed on at block starts by earlier replays of the same file and model,
            kept by a caller that replays often (the dashboard): the replay starts from the latest
            one at or before the first block wanted instead of the text's start, and adds those it
            hands on. Every block starts from the very state it would have had, so the result is
            the same bit for bit.

    Yields:
        One :class:`CellBlock` per block wanted, in order; the last may end past ``stop``.
    """
    stop = states.n_tokens if stop is None else stop
    rows = extraction_rows(states)
    spans = [(a, min(a + rows, states.n_tokens)) for a in range(0, stop, rows)]
    with_gates = states.has_gates
    first, state = 0, None
    if handed:
        needed = next((a for a, b in spans if wanted is None or wanted(a, b)), stop)
        first = max((a for a in handed if a <= needed), default=0)
        state = handed.get(first)
        spans = [span for span in spans if span[0] >= first]

    def step(span: tuple[int, int], state):
        ids = torch.from_numpy(states.tokens(*span).astype(np.int64))[None]
        hidden = run.hidden(ids, state)
        if handed is not None:
            handed[span[1]] = hidden.final
        return hidden, hidden.final

    ahead = run_ahead(step, spans, state, thread_split(run.device, run.model.config.n_hidden))
    bar = progress_bar(total=stop - first, unit="char", unit_scale=True, desc="replay", enabled=progress)
    with bar, contextlib.closing(ahead):
        for span, hidden in zip(spans, ahead, strict=True):
            if wanted is None or wanted(*span):
                yield _completed(run, hidden, span[0], with_gates)
            bar.update(span[1] - span[0])


def _completed(run: UnrolledLSTM, hidden: Hidden, start: int, with_gates: bool) -> CellBlock:
    out = run.complete(hidden, gates=with_gates, cell_gates=True)
    layers = range(len(run.layers))
    gates = [tuple(out.acts[act_name(layer, gate)][0] for gate in CELL_GATES) for layer in layers]
    return CellBlock(start, gates, [out.acts[act_name(layer, "c")][0] for layer in layers])
