"""Where a cell's value comes from: what each earlier character wrote into it, exactly.

An LSTM's cell state is linear in what each step writes: ``c_t = f_t·c_{t-1} + i_t·g_t`` (torch
gate order i, f, g, o), so, unrolled back to the position ``b`` before a window,

    c_t = (f_{b+1}⋯f_t)·c_b + Σ_{b<s≤t} (f_{s+1}⋯f_t)·i_s·g_s

Each term of the sum is what the character at ``s`` wrote into the cell, scaled by how much every
later forget gate kept of it: an exact attribution, with no gradient and no baseline. The first
term, the *remainder*, is everything older than the window (the stored state at ``b``, carried
through the window's forget gates); at the text's start it is 0, the LSTM's initial state.

Products of forget gates are sums of ``log f`` (suffix sums, never differences, so a forget gate of
exactly 0 gives a product of exactly 0), so long spans neither underflow nor lose precision. The
gates come from the file when it holds them in float32, else from the model run again
(:mod:`lstmviz.intervene.replay`). See docs/provenance.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lstmviz.errors import OptionError, SpanError, UnknownActivation
from lstmviz.intervene.model_source import model_for
from lstmviz.intervene.replay import block_starts, replay, replay_device, stored_gates, stored_gates_exact
from lstmviz.model.loading import LoadedModel
from lstmviz.model.runner import UnrolledLSTM
from lstmviz.names import Neuron
from lstmviz.store.reader import States

DEFAULT_BACK = 2000  # characters looked back by default: past most units' memory (docs/provenance.md)
SHARES = (0.5, 0.9)  # of the absolute contribution, whose look-back a report gives


def decompose(i: np.ndarray, f: np.ndarray, g: np.ndarray, c_before: np.ndarray | float,
              carried: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Take ``c`` at the last of n steps apart into what each step wrote, and the remainder.

    Args:
        i: the input gate at the n steps, (n,) for one unit or (n, H) for several.
        f: the forget gate, likewise.
        g: the cell input g, likewise.
        c_before: the cell state before the first step, () or (H,).
        carried: what each step added beside ``f·c + i·g``, shaped as ``i``, or None for nothing:
            the rounding an extraction carried into its blocks (:func:`block_carries`).

    Returns:
        ``(contributions, remainder)`` in float64: contributions (n,) or (n, H), the share of each
        step in c at the last one, and the remainder () or (H,), ``c_before`` carried through all n
        forget gates, with anything ``carried`` carried through those after it. They add up to the
        c the recurrence gives.

    >>> ones = np.ones(3)  # c: 8 -> 8*1 + 1 = 9 -> 9*0.5 + 1 = 5.5 -> 5.5*1 + 1 = 6.5
    >>> contributions, remainder = decompose(ones, np.array([1.0, 0.5, 1.0]), ones, 8.0)
    >>> contributions.tolist(), float(remainder)
    ([0.5, 1.0, 1.0], 4.0)
    """
    i, f, g = (np.asarray(x, dtype=np.float64) for x in (i, f, g))
    with np.errstate(divide="ignore"):  # log 0 = -inf: a forget gate of 0 keeps nothing before it
        log_f = np.log(f)
    kept = np.cumsum(log_f[::-1], axis=0)[::-1]  # kept[s] = log(f_s ⋯ f_n), summed from the end
    after = np.concatenate([kept[1:], np.zeros_like(kept[:1])])  # log(f_{s+1} ⋯ f_n); 0 for the last
    contributions = np.exp(after) * i * g
    remainder = np.exp(kept[0]) * np.asarray(c_before, dtype=np.float64)
    if carried is not None:
        remainder = remainder + (np.exp(after) * carried).sum(axis=0)
    return contributions, remainder


def block_carries(states: States, c: np.ndarray, i: np.ndarray, f: np.ndarray, g: np.ndarray,
                  start: int) -> np.ndarray:
    """The rounding the extraction carried into each of its blocks, at positions [start, start + n).

    The extraction runs the recurrence of each block from the state ``nn.LSTM`` hands on
    (:func:`~lstmviz.intervene.replay.block_starts`), whose float32 c differs a little from the
    stored one (solved in float64), and each stream of ``--streams`` from its burn-in state. At a
    block's first position s the stored c therefore differs from ``f_s·c_{s-1} + i_s·g_s`` computed
    from the stored ``c_{s-1}``; that difference, 0 elsewhere, is returned, to be carried into the
    remainder (:func:`decompose`). Without it, cells of the
    bundled model that remember for thousands of characters missed the stored c by up to 3.9e-5 of
    their absolute contribution; with it by 2.2e-7 (``benchmarks/provenance.py``).

    Args:
        states: the extraction.
        c: the stored c at [start - 1, start + n) (float64; at start = 0, a leading row of zeros).
        i: the gates at [start, start + n), (n,) or (n, H); ``f`` and ``g`` likewise.
        f: see ``i``.
        g: see ``i``.
        start: the first position.
    """
    carried = np.zeros(np.shape(i))
    firsts = block_starts(states, start, start + len(carried)) - start
    carried[firsts] = c[firsts + 1] - (f[firsts] * c[firsts] + i[firsts].astype(np.float64) * g[firsts])
    return carried


def look_back(contributions: np.ndarray, remainder: float, share: float) -> int | None:
    """The fewest last steps whose contributions hold ``share`` of the absolute contribution, or None.

    The absolute contribution is ``Σ|contributions| + |remainder|``; None means that the steps of
    the window do not hold that share (the remainder, older than the window, holds the rest).

    >>> look_back(np.array([0.1, 0.1, 0.8]), 0.0, 0.9), look_back(np.array([1.0]), 3.0, 0.5)
    (2, None)
    """
    magnitude = np.abs(contributions[::-1])  # the last step first
    total = magnitude.sum() + abs(remainder)
    if total == 0:
        return 1 if len(magnitude) else None
    held = np.cumsum(magnitude)
    k = int(np.searchsorted(held, share * total))  # the first count of steps that reaches the share
    return k + 1 if k < len(magnitude) else None


@dataclass(frozen=True)
class Provenance:
    """Where one cell state comes from: each position's contribution in a window, and the remainder.

    Attributes:
        neuron: the cell taken apart (``layer1.c.117``; for an h unit, its c).
        asked: the neuron asked about, an h or c unit.
        position: where its value is taken apart.
        start: the window's first position; the window ends at ``position``.
        value: the stored c at ``position``.
        contributions: (position - start + 1,) float64, what each position of the window wrote
            into c, as it stands at ``position``.
        remainder: the stored c at ``start - 1`` carried through the window's forget gates (0 at
            the text's start), with the rounding the extraction carried into the blocks it began
            inside the window (:func:`block_carries`).
        source: where the gates came from, in words.
    """

    neuron: Neuron
    asked: Neuron
    position: int
    start: int
    value: float
    contributions: np.ndarray
    remainder: float
    source: str

    @property
    def positions(self) -> np.ndarray:
        """The window's positions, each with its entry of ``contributions``."""
        return np.arange(self.start, self.position + 1)

    @property
    def total(self) -> float:
        """Contributions plus remainder: the value the gates give, to float64 rounding."""
        return float(self.contributions.sum() + self.remainder)

    @property
    def absolute(self) -> float:
        """The absolute contribution, ``Σ|contributions| + |remainder|``: never less than ``|value|``."""
        return float(np.abs(self.contributions).sum() + abs(self.remainder))

    @property
    def discrepancy(self) -> float:
        """The stored value minus :attr:`total`: float32 rounding when the gates are the extraction's.

        c is stored in float32, so the remainder starts from a rounded value. Next to
        :attr:`absolute` the discrepancy stays near float32's precision (2.2e-7 at most on the
        bundled model, docs/provenance.md); next to ``|value|`` it grows where large contributions
        cancel.
        """
        return self.value - self.total

    def look_back(self, share: float) -> int | None:
        """Characters back (``position`` itself the first) that hold ``share`` of the absolute contribution.

        None where the window does not hold it.
        """
        return look_back(self.contributions, self.remainder, share)

    def strongest(self, n: int) -> np.ndarray:
        """The positions of the ``n`` largest contributions by magnitude, largest (then latest) first."""
        order = np.lexsort((-self.positions, -np.abs(self.contributions)))[:n]
        return self.positions[order]


def cell_of(states: States, neuron: Neuron | str) -> tuple[Neuron, Neuron]:
    """(the c unit to take apart, the neuron as asked): an h unit stands for its c; a gate is refused."""
    asked = neuron if isinstance(neuron, Neuron) else Neuron.parse(str(neuron))
    cell = Neuron(asked.layer, "c", asked.unit)
    if asked.kind not in ("h", "c"):
        raise UnknownActivation(f"{asked} is a gate; provenance takes apart a cell state: give {cell} "
                                f"(or its h, {Neuron(asked.layer, 'h', asked.unit)})")
    return states.neuron(cell), states.neuron(asked)


def check_position(states: States, position: int) -> int:
    """``position``, once checked to be in the text."""
    if not 0 <= position < states.n_tokens:
        raise SpanError(f"position {position} is not in the text of {states.path.name} "
                        f"(0..{states.n_tokens - 1}); give --at between 0 and {states.n_tokens - 1}")
    return position


def check_back(back: int) -> int:
    """``back``, once checked to be a look-back of at least one character."""
    if back < 1:
        raise OptionError(f"--back {back}: look back at least 1 character (the position's own)")
    return back


def window_start(position: int, back: int) -> int:
    """The first position of ``back`` characters that end at ``position``, cut at the text's start.

    >>> window_start(5000, 2000), window_start(300, 2000)
    (3001, 0)
    """
    return max(0, position - check_back(back) + 1)


def cell_gates(states: States, layer: int, start: int, stop: int, *, loaded: LoadedModel | None = None,
               device: str = "auto", progress: bool = False, handed: dict | None = None
               ) -> tuple[tuple[np.ndarray, ...], str]:
    """i, f and g of one layer at [start, stop), (n, H) float32 each, and where they came from.

    From the file when it holds them in float32; otherwise the model (``loaded``, or the one the
    file records, :func:`~lstmviz.intervene.model_source.model_for`) is replayed from the text's
    start (:func:`~lstmviz.intervene.replay.replay`), or from the latest of the states ``handed``
    on by earlier replays that comes before ``start``.
    """
    states.span(start, stop)
    if stored_gates_exact(states):
        return stored_gates(states, layer, start, stop), "stored float32 gates"
    loaded = loaded if loaded is not None else model_for(states)
    run = UnrolledLSTM(loaded.model, replay_device(states, device))
    parts: list[list[np.ndarray]] = [[], [], []]
    for block in replay(states, run, stop, wanted=lambda a, b: b > start, progress=progress, handed=handed):
        a, b = max(start, block.start) - block.start, min(stop, block.stop) - block.start
        for part, gate in zip(parts, block.gates[layer], strict=True):
            part.append(gate[a:b].cpu().numpy())
    gates = tuple(np.concatenate(part) for part in parts)
    return gates, f"recomputed in float32 by {Path(loaded.path).name} on {run.device.type}"


@torch.no_grad()
def provenance(states: States, neuron: Neuron | str, position: int, back: int = DEFAULT_BACK, *,
               loaded: LoadedModel | None = None, device: str = "auto", progress: bool = False,
               gates: tuple[tuple[np.ndarray, ...], str] | None = None) -> Provenance:
    """Take the cell state of ``neuron`` at ``position`` apart over the ``back`` characters up to it.

    Args:
        states: the extraction.
        neuron: a c unit, or an h unit (whose c is taken apart), e.g. ``"layer2.c.89"``.
        position: where.
        back: characters in the window, ``position`` itself included.
        loaded: the model, when the file's gates must be recomputed (default: the one the file
            records, found by :func:`~lstmviz.intervene.model_source.model_for`).
        device: where to recompute: ``auto`` (the kind the extraction ran on, when there is one),
            ``cpu`` or ``cuda``.
        progress: a progress bar on stderr while the model runs again.
        gates: the layer's i, f and g over the window and where they came from, as
            :func:`cell_gates` gives them for ``[window_start(position, back), position + 1)``; a
            caller taking apart several units of one window (the dashboard, stepping through
            units) reads or recomputes them once. Default: :func:`cell_gates`.

    Raises:
        UnknownActivation: not a neuron of the file, or a gate.
        SpanError: ``position`` is not in the text.
        OptionError: ``back`` < 1.
        ModelMismatch: the model found or given is not the file's.

    >>> # with open_states("val.h5") as s: provenance(s, "layer2.c.89", 12345).look_back(0.9)
    """
    cell, asked = cell_of(states, neuron)
    check_position(states, position)
    start = window_start(position, back)
    if gates is None:
        gates = cell_gates(states, cell.layer, start, position + 1, loaded=loaded, device=device,
                           progress=progress)
    (i, f, g), source = gates
    c = states.window(cell.name, max(0, start - 1), position + 1, cell.unit).astype(np.float64)
    if start == 0:
        c = np.concatenate([[0.0], c])  # the LSTM starts from c = 0
    i, f, g = (x[:, cell.unit].astype(np.float64) for x in (i, f, g))
    carried = block_carries(states, c, i, f, g, start)
    contributions, remainder = decompose(i, f, g, c[0], carried)
    return Provenance(cell, asked, position, start, float(c[-1]), contributions, float(remainder), source)
