"""A CharLSTM run step by step from any state, with units edited inside the recurrence.

An edit holds one unit at a value (or multiplies it by a factor) at every step of a range. It acts
right after the step's update of that unit, so the edited value is what the rest of the network
sees: the same layer's next step, the layers above and the decoder. Per layer and step, in the
order of ``torch.nn.LSTM``'s equations::

    i, f, g, o = gates(x_t, h_{t-1})      <- edits of a gate unit act here
    c_t = f * c_{t-1} + i * g             <- edits of c act here, so h_t = o * tanh(edited c_t)
    h_t = o * tanh(c_t)                   <- edits of h act here; c_t keeps its value

Streams: one run carries a batch of B streams over the same tokens, each with its own edits (an
empty list is the unedited model). A stream whose edits all lie in layers above l computes exactly
what the unedited stream computes in layers 0..l, so those layers are computed once for all such
streams: a batch of one ablated unit per stream costs, below each unit's layer, no more than one
stream.

Every stream starts from the same state: zeros, or the h and c every layer had after a position
of an extraction (:func:`stored_state`), so a span can be rerun without rerunning the text before
it. :func:`run_span` does that for positions [a, b) of a file. Arithmetic is float32, the
equations those of ``torch.nn.LSTMCell`` (tests compare the two, edits included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lstmviz.devices import full_float32
from lstmviz.errors import OptionError, StoreError, UnknownActivation
from lstmviz.kinds import GATES
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.runner import State
from lstmviz.names import Neuron, act_name
from lstmviz.store.reader import States

EDITABLE = ("h", "c", *GATES)  # kinds of unit an edit can hold: all a step computes


@dataclass(frozen=True)
class Edit:
    """One unit held at ``value`` (or scaled by it) at the steps [start, stop) of a run.

    Steps count from the run's first token (0). ``stop`` None means to the end of the run.

    >>> Edit(Neuron(1, "c", 7), 0.0)
    Edit(neuron=Neuron(layer=1, kind='c', unit=7), value=0.0, scale=False, start=0, stop=None)
    """

    neuron: Neuron
    value: float
    scale: bool = False  # multiply the unit's value by ``value`` instead of replacing it
    start: int = 0
    stop: int | None = None

    def __post_init__(self) -> None:
        if self.neuron.kind not in EDITABLE:
            raise UnknownActivation(f"{self.neuron} cannot be edited; edit h, c or a gate")
        if not math.isfinite(self.value):
            raise OptionError(f"{self.neuron}: an edit's value must be a finite number, not {self.value}")

    def active(self, step: int) -> bool:
        """Whether the edit acts at ``step`` of the run."""
        return self.start <= step and (self.stop is None or step < self.stop)


@dataclass
class Trace:
    """What a run computed, per stream.

    Attributes:
        h: per layer, (B, T, H); empty when the run did not record activations.
        c: per layer, (B, T, H); empty likewise.
        gates: ``layer{L}.gates.{i,f,g,o}`` -> (B, T, H), when asked for.
        logits: (B, T, V), the decoder's output after each token.
        final: per layer (h, c), each (B, H): the state after the last token.
    """

    h: list[torch.Tensor]
    c: list[torch.Tensor]
    gates: dict[str, torch.Tensor]
    logits: torch.Tensor
    final: State


@dataclass(frozen=True)
class _Group:
    """Edits of one layer that act together: one target (a gate, c or h), one step range, one op."""

    target: str  # a key of EDITABLE
    scale: bool
    start: int
    stop: int | None
    rows: torch.Tensor  # (n,) internal rows (streams)
    cols: torch.Tensor  # (n,) columns: the unit, offset into the gate block for gates
    values: torch.Tensor  # (n,)

    def active(self, step: int) -> bool:
        return self.start <= step and (self.stop is None or step < self.stop)

    def apply(self, x: torch.Tensor) -> None:
        """Hold or scale the group's units of ``x`` (rows, columns) in place."""
        index = (self.rows, self.cols)
        x.index_put_(index, x[index] * self.values if self.scale else self.values)


class EditedRunner:
    """Runs a model over tokens block by block, carrying every stream's state from block to block.

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=4, n_layer=2, n_hidden=3))
    >>> run = EditedRunner(m, [[], [Edit(Neuron(1, "c", 0), 0.0)]])
    >>> trace = run.run(torch.tensor([0, 1, 2]))
    >>> tuple(trace.logits.shape), trace.c[1][1, :, 0].tolist()
    ((2, 3, 4), [0.0, 0.0, 0.0])
    >>> bool((trace.h[0][0] == trace.h[0][1]).all())  # below the edited layer the streams agree
    True
    """

    def __init__(self, model: CharLSTM, edits: Sequence[Sequence[Edit]] = ((),),
                 start: State | None = None, device: str | torch.device = "cpu"):
        """Prepare B = len(edits) streams.

        Args:
            model: the network; its weights are copied, it is not moved or changed.
            edits: one list of edits per stream; an empty list is the unedited model.
            start: the state every stream starts from, per layer (h, c) each (1, H) or (H,);
                zeros when None.
            device: where to run.
        """
        cfg = model.config
        self.config = cfg
        self.device = torch.device(device)
        self.n_streams = len(edits)
        H, L = cfg.n_hidden, cfg.n_layer
        for stream in edits:
            for edit in stream:
                n = edit.neuron
                if n.layer >= L or n.unit >= H:
                    raise UnknownActivation(f"{n} is not in this model ({L} layer(s) of {H} units); "
                                            f"layers count 0..{L - 1}, units 0..{H - 1}")
        # Internal rows: 0 is the unedited stream; edited streams follow, lowest edited layer first,
        # so the rows live at layer l (edited at or below l) are a prefix that grows with l.
        lowest = [min((e.neuron.layer for e in stream), default=L) for stream in edits]
        order = sorted((s for s in range(self.n_streams) if lowest[s] < L), key=lambda s: lowest[s])
        row = {s: k + 1 for k, s in enumerate(order)}
        self._live = [1 + sum(lowest[s] <= layer for s in order) for layer in range(L)]
        # stream -> its row at each layer (0, the unedited row, below its lowest edited layer)
        self._rows = [torch.tensor([row[s] if lowest[s] <= layer else 0 for s in range(self.n_streams)],
                                   device=self.device) for layer in range(L)]
        self._groups = [self._grouped(edits, row, layer) for layer in range(L)]
        self._weights(model)
        if start is None:
            start = [(torch.zeros(H), torch.zeros(H)) for _ in range(L)]
        self.state = [tuple(x.reshape(1, H).to(self.device, torch.float32).expand(n, H).clone() for x in hc)
                      for n, hc in zip(self._live, start, strict=True)]
        self.step = 0  # tokens read so far: the step number of the next token

    def _grouped(self, edits: Sequence[Sequence[Edit]], row: dict[int, int], layer: int) -> list[_Group]:
        H = self.config.n_hidden
        found: dict[tuple, list[tuple[int, int, float]]] = {}
        for s, stream in enumerate(edits):
            for e in stream:
                if e.neuron.layer != layer:
                    continue
                kind = e.neuron.kind
                col = e.neuron.unit + (GATES.index(kind) * H if kind in GATES else 0)
                found.setdefault((kind, e.scale, e.start, e.stop), []).append((row[s], col, e.value))
        groups = []
        for (kind, scale, start, stop), items in found.items():
            rows, cols, values = zip(*items, strict=True)
            groups.append(_Group(kind, scale, start, stop, torch.tensor(rows, device=self.device),
                                 torch.tensor(cols, device=self.device),
                                 torch.tensor(values, dtype=torch.float32, device=self.device)))
        return groups

    @torch.no_grad()
    def _weights(self, model: CharLSTM) -> None:
        cfg, lstm = self.config, model.lstm
        self._w_ih, self._w_hh, self._bias = [], [], []
        for layer in range(cfg.n_layer):
            w_ih = getattr(lstm, f"weight_ih_l{layer}").detach().float()
            w_hh = getattr(lstm, f"weight_hh_l{layer}").detach().float()
            bias = torch.zeros(4 * cfg.n_hidden)
            if cfg.lstm_bias:
                bias = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).float()
            # Transposed once, so every product is (rows, in) @ (in, 4H).
            self._w_ih.append(w_ih.T.contiguous().to(self.device))
            self._w_hh.append(w_hh.T.contiguous().to(self.device))
            self._bias.append(bias.to(self.device))
        inputs = model.embed.weight.detach().float() if model.embed is not None else torch.eye(cfg.vocab_size)
        # The first layer's input depends on the token alone: its gate inputs are a (V, 4H) table.
        self._table = torch.addmm(self._bias[0], inputs.to(self.device), self._w_ih[0])
        decoder = model.decoder
        self._w_dec = decoder.weight.detach().float().T.contiguous().to(self.device)  # (H, V)
        self._b_dec = (decoder.bias.detach().float() if decoder.bias is not None
                       else torch.zeros(cfg.vocab_size)).to(self.device)

    @torch.no_grad()
    @full_float32()
    def run(self, tokens: torch.Tensor, *, record: bool = True, gates: bool = False) -> Trace:
        """Read token ids (T,) in every stream, continuing from the state the last call left.

        Args:
            tokens: (T,) token ids, the same for every stream.
            record: return every layer's h and c (else only the logits and the final state,
                which saves memory when only predictions matter).
            gates: return the gates too.
        """
        tokens = torch.as_tensor(tokens, device=self.device).reshape(-1)
        T, H = len(tokens), self.config.n_hidden
        hs: list[torch.Tensor] = []
        cs: list[torch.Tensor] = []
        gate_vals: dict[str, torch.Tensor] = {}
        x = None
        for layer in range(self.config.n_layer):
            n = self._live[layer]
            if layer == 0:
                xp = self._table[tokens][:, None]  # (T, 1, 4H): the same for every row, broadcast
            else:
                xp = torch.addmm(self._bias[layer], x.reshape(-1, H), self._w_ih[layer]).view(T, -1, 4 * H)
                if 1 < xp.shape[1] < n:  # rows edited first here read the unedited row of the layer below
                    xp = torch.cat([xp, xp[:, :1].expand(T, n - xp.shape[1], 4 * H)], dim=1)
                # one row below (the unedited one) serves every row here by broadcasting
            x, c_out, z_out = self._layer(layer, xp, record, gates)  # (T, n, H) each; z (T, n, 4H)
            if record:
                hs.append(self._streams(x, layer))
                cs.append(self._streams(c_out, layer))
            if gates:
                for k, gate in enumerate(GATES):
                    gate_vals[act_name(layer, gate)] = self._streams(z_out[..., k * H : (k + 1) * H], layer)
        logits = torch.addmm(self._b_dec, x.reshape(-1, H), self._w_dec).view(T, x.shape[1], -1)
        self.step += T
        return Trace(hs, cs, gate_vals, self._streams(logits, len(self._live) - 1), self.final)

    def _layer(self, layer: int, xp: torch.Tensor, record: bool, gates: bool
               ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """One layer over the block, step by step: h (T, n, H), and c and the gates when asked."""
        T, H, n = xp.shape[0], self.config.n_hidden, self._live[layer]
        w_hh, groups = self._w_hh[layer], self._groups[layer]
        h, c = self.state[layer]
        h_out = h.new_empty(T, n, H)
        c_out = h.new_empty(T, n, H) if record else None
        z_out = h.new_empty(T, n, 4 * H) if gates else None
        for k in range(T):
            step = self.step + k
            active = [g for g in groups if g.active(step)] if groups else ()
            z = torch.addmm(xp[k], h, w_hh)  # (n, 4H): gate pre-activations, torch order i, f, g, o
            z[:, : 2 * H].sigmoid_()
            z[:, 2 * H : 3 * H].tanh_()
            z[:, 3 * H :].sigmoid_()
            for g in active:
                if g.target in GATES:
                    g.apply(z)
            i, f, g_, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            c = torch.addcmul(f * c, i, g_)
            for g in active:
                if g.target == "c":
                    g.apply(c)
            h = o * torch.tanh(c)
            for g in active:
                if g.target == "h":
                    g.apply(h)
            h_out[k] = h
            if c_out is not None:
                c_out[k] = c
            if z_out is not None:
                z_out[k] = z
        self.state[layer] = (h, c)
        return h_out, c_out, z_out

    def _streams(self, rows: torch.Tensor, layer: int) -> torch.Tensor:
        """Internal rows (T, n, ·) of a layer as one entry per stream: (B, T, ·)."""
        return rows.index_select(1, self._rows[layer]).transpose(0, 1)

    @property
    def final(self) -> State:
        """Every stream's state now, per layer (h, c) each (B, H)."""
        return [(h.index_select(0, rows), c.index_select(0, rows))
                for (h, c), rows in zip(self.state, self._rows, strict=True)]


def run_edited(model: CharLSTM, tokens: torch.Tensor, edits: Sequence[Sequence[Edit]] = ((),),
               start: State | None = None, *, gates: bool = False,
               device: str | torch.device = "cpu") -> Trace:
    """Run token ids (T,) once in each stream of ``edits``, from ``start`` (zeros when None).

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=4, n_layer=1, n_hidden=3))
    >>> t = run_edited(m, torch.tensor([1, 2]), [[Edit(Neuron(0, "h", 2), 0.5)]])
    >>> t.h[0][0, :, 2].tolist()
    [0.5, 0.5]
    """
    return EditedRunner(model, edits, start, device).run(tokens, gates=gates)


def stored_state(states: States, position: int) -> State:
    """The state every layer had after reading ``position``, as the extraction stored it.

    Position -1 (before the text) is the zero state the extraction started from. h is read as
    stored (float16 by default), so a run from it differs from the stored values by that rounding;
    compare runs with each other, not with the file (see ``docs/interventions.md``).
    """
    H = states.n_hidden
    if position == -1:
        return [(torch.zeros(1, H), torch.zeros(1, H)) for _ in range(states.n_layer)]
    states.span(position, position + 1)
    state = []
    for layer in range(states.n_layer):
        pair = []
        for kind in ("h", "c"):
            values = states.window(act_name(layer, kind), position, position + 1)  # (1, H)
            if not np.isfinite(values).all():  # a damaged file: a run from it would be NaN throughout
                raise StoreError(f"{states.path.name} holds no usable state at position {position} "
                                 f"({act_name(layer, kind)} is not finite there), which a rerun from "
                                 f"{position + 1} starts from; start the span elsewhere, or extract the "
                                 "text again with lstmviz extract")
            pair.append(torch.from_numpy(values))
        state.append(tuple(pair))
    return state


def run_span(states: States, model: CharLSTM, start: int, stop: int,
             edits: Sequence[Sequence[Edit]] = ((),), *, gates: bool = False,
             device: str | torch.device = "cpu") -> Trace:
    """Rerun positions [start, stop) of an extraction from its stored state at ``start - 1``.

    Step 0 of the run (and of each edit's range) is position ``start``. ``model`` must be the one
    the file was made with (:func:`lstmviz.intervene.model_source.model_for` finds and checks it).

    >>> # with open_states("cache/m__val.h5") as s: run_span(s, model_for(s).model, 1200, 1260)
    """
    start, stop = states.span(start, stop)
    tokens = torch.from_numpy(states.tokens(start, stop).astype("int64"))
    return run_edited(model, tokens, edits, stored_state(states, start - 1), gates=gates, device=device)
