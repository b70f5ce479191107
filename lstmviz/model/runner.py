"""Every h, c and gate of a stacked LSTM, numerically equal to ``torch.nn.LSTM``.

``nn.LSTM`` returns only the top layer's h per step, so each layer is run as its own one-layer
``nn.LSTM`` (the fast cuDNN/oneDNN kernel) for h. Knowing every h, the gates of all steps follow from
two batched matrix products with the same weights, and c from the linear recurrence
``c_t = f_t * c_{t-1} + i_t * g_t``, solved in float64 by a two-sweep parallel scan, so a Python
loop never runs per character. Equations and gate order (i, f, g, o) follow the ``torch.nn.LSTM``
documentation; :func:`reference_steps` is the readable per-step definition the fast path is tested
against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lstmviz.devices import full_float32
from lstmviz.kinds import CELL_GATES, GATES
from lstmviz.model.charlstm import CharLSTM
from lstmviz.names import act_name

State = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: (h, c), each (B, H)

# Gate pre-activations computed at once. On CPU about 8 MB of float32 (H = 512): small pieces stay
# in cache and below the allocator's mmap threshold, worth a factor of several. On a GPU, large
# pieces keep the number of kernel launches down.
_PIECE_ELEMENTS = {"cpu": 1 << 21, "cuda": 1 << 26}


@dataclass
class Activations:
    """One block's activations: ``acts[name]`` is (B, T, H); ``logits`` is (B, T, V)."""

    acts: dict[str, torch.Tensor]
    logits: torch.Tensor


@dataclass
class Hidden:
    """A block's h of every layer (B, T, H), with the state it started from and the state after."""

    tokens: torch.Tensor
    start: State
    h: list[torch.Tensor]
    final: State


class UnrolledLSTM:
    """Runs a :class:`CharLSTM` over token blocks, exposing every activation and carrying state.

    >>> from lstmviz.model.config import LSTMConfig
    >>> m = CharLSTM(LSTMConfig(vocab_size=4, n_layer=2, n_hidden=3))
    >>> run = UnrolledLSTM(m)
    >>> out, state = run(torch.zeros(1, 5, dtype=torch.long))
    >>> sorted(out.acts)
    ['layer0.c', 'layer0.h', 'layer1.c', 'layer1.h']
    """

    def __init__(self, model: CharLSTM, device: str | torch.device = "cpu"):
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        cfg = model.config
        self.layers: list[nn.LSTM] = []
        self._weights: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for layer in range(cfg.n_layer):
            in_size = cfg.input_size if layer == 0 else cfg.n_hidden
            single = nn.LSTM(in_size, cfg.n_hidden, 1, bias=cfg.lstm_bias, batch_first=True)
            with torch.no_grad():
                for part in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if cfg.lstm_bias else ()):
                    getattr(single, f"{part}_l0").copy_(getattr(model.lstm, f"{part}_l{layer}"))
            single = single.eval().to(self.device)
            self.layers.append(single)
            with torch.no_grad():
                bias = (single.bias_ih_l0 + single.bias_hh_l0) if cfg.lstm_bias else \
                    torch.zeros(4 * cfg.n_hidden, device=self.device)
                # Transposed once so every block's products are plain (rows, in) @ (in, 4H).
                self._weights.append((single.weight_ih_l0.T.contiguous(),
                                      single.weight_hh_l0.T.contiguous(), bias))
        with torch.no_grad():
            # The first layer's input is a function of the token alone (embedding or one-hot), so
            # its share of the gate pre-activations is a (V, 4H) table: a lookup per character.
            w_ih, _, bias = self._weights[0]
            inputs = model.embed.weight if model.embed is not None else torch.eye(cfg.vocab_size)
            self._token_table = torch.addmm(bias, inputs.to(self.device), w_ih)  # (V, 4H)

    def zero_state(self, batch: int) -> State:
        """All-zero (h, c) per layer, as ``nn.LSTM`` starts."""
        H = self.model.config.n_hidden
        z = torch.zeros(batch, H, device=self.device)
        return [(z, z) for _ in self.layers]

    @torch.no_grad()
    @full_float32()
    def final_state(self, tokens: torch.Tensor, state: State | None = None) -> State:
        """The state after reading token ids (B, T), computing nothing else (for burn-in)."""
        tokens = tokens.to(self.device)
        state = state or self.zero_state(tokens.shape[0])
        h0 = torch.stack([h for h, _ in state]).contiguous()  # (L, B, H)
        c0 = torch.stack([c for _, c in state]).contiguous()
        _, (hn, cn) = self.model.lstm(self.model.inputs(tokens), (h0, c0))
        return [(hn[layer], cn[layer]) for layer in range(len(self.layers))]

    @torch.no_grad()
    @full_float32()
    def __call__(
        self, tokens: torch.Tensor, state: State | None = None, *, gates: bool = False
    ) -> tuple[Activations, State]:
        """Activations for token ids (B, T) and the state to pass to the next block."""
        hidden = self.hidden(tokens, state)
        return self.complete(hidden, gates=gates), hidden.final

    @torch.no_grad()
    @full_float32()
    def hidden(self, tokens: torch.Tensor, state: State | None = None) -> Hidden:
        """The sequential part of a block: every layer's h, from the fast ``nn.LSTM`` kernel.

        The rest (:meth:`complete`) is batched arithmetic that needs only this, so the next block's
        ``hidden`` can run while this block is completed.
        """
        tokens = tokens.to(self.device)
        state = state or self.zero_state(tokens.shape[0])
        x = self.model.inputs(tokens)  # (B, T, E)
        hs: list[torch.Tensor] = []
        final: State = []
        for lstm, (h0, c0) in zip(self.layers, state, strict=True):
            x, (hn, cn) = lstm(x, (h0[None].contiguous(), c0[None].contiguous()))  # (B, T, H)
            hs.append(x)
            final.append((hn[0], cn[0]))
        return Hidden(tokens, state, hs, final)

    @torch.no_grad()
    @full_float32()
    def complete(self, hidden: Hidden, *, gates: bool = False, cell_gates: bool = False) -> Activations:
        """Every activation of a block whose h :meth:`hidden` computed: c, gates, logits.

        ``cell_gates`` adds i, f and g without ``gates``: the gates c is made of, from the very
        products that made c (which differ from those of ``gates`` in the last float32 bit), so
        that c can be taken apart exactly (:mod:`lstmviz.intervene.provenance`).
        """
        c, gate_vals = self._cells(hidden, gates, cell_gates)
        acts: dict[str, torch.Tensor] = {}
        for layer, h in enumerate(hidden.h):
            acts[act_name(layer, "h")] = h
            acts[act_name(layer, "c")] = c[layer]
            for gate, value in gate_vals.items():
                acts[act_name(layer, gate)] = value[layer]
        return Activations(acts, self.model.decoder(hidden.h[-1]))

    def _cells(self, hidden: Hidden, gates: bool, cell_gates: bool = False
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Every layer's cell state (L, B, T, H), and the gates asked for, piece by piece.

        With every h known, the layers no longer depend on each other: their gates come from
        separate products, and one recurrence solve serves all layers at once. Without ``gates``
        only the i, f and g rows of the weights are used: c does not need o; ``cell_gates`` keeps
        those three.
        """
        L = len(self.layers)
        B, T, H = hidden.h[0].shape
        n_gates = 4 if gates else 3
        c = hidden.h[0].new_empty(L, B, T, H)
        kept = GATES if gates else CELL_GATES if cell_gates else ()
        out = {g: torch.empty_like(c) for g in kept}
        rows = max(1, _PIECE_ELEMENTS.get(self.device.type, 1 << 21) // (L * B * n_gates * H))
        c_prev = torch.stack([c0 for _, c0 in hidden.start])  # (L, B, H)
        for a in range(0, T, rows):
            b = min(T, a + rows)
            z = hidden.h[0].new_empty(L, B, b - a, n_gates * H)
            for layer, (w_ih, w_hh, bias) in enumerate(self._weights):
                h, (h0, _) = hidden.h[layer], hidden.start[layer]
                h_prev = h[:, a - 1 : b - 1] if a else torch.cat([h0[:, None], h[:, : b - 1]], dim=1)
                zl = z[layer].view(-1, n_gates * H)
                if layer == 0:
                    ids = hidden.tokens[:, a:b].reshape(-1)
                    torch.index_select(self._token_table[:, : n_gates * H], 0, ids, out=zl)
                else:
                    x = hidden.h[layer - 1][:, a:b].reshape(-1, H)
                    torch.addmm(bias[: n_gates * H], x, w_ih[:, : n_gates * H], out=zl)
                zl.addmm_(h_prev.reshape(-1, H), w_hh[:, : n_gates * H])
            z[..., : 2 * H].sigmoid_()  # i, f
            z[..., 2 * H : 3 * H].tanh_()  # g
            if gates:
                z[..., 3 * H :].sigmoid_()  # o
            for k, g in enumerate(kept):
                out[g][:, :, a:b] = z[..., k * H : (k + 1) * H]
            i, f, g = (z[..., k * H : (k + 1) * H].reshape(L * B, b - a, H) for k in range(3))
            _cell_states(f, i, g, c_prev.view(L * B, H), out=c[:, :, a:b].view(L * B, b - a, H))
            c_prev = c[:, :, b - 1]
        return c, out


def _cell_states(
    f: torch.Tensor, i: torch.Tensor, g: torch.Tensor, c0: torch.Tensor, *, out: torch.Tensor
) -> None:
    """Solve ``c_t = f_t * c_{t-1} + i_t * g_t`` for all t of (B, T, H) into ``out``, in float64.

    The T steps are cut into N pieces of K. Sweep one runs the recurrence within every piece at once
    from c = 0, keeping only each piece's end value and product of f; a short sequential pass over
    the N piece ends gives the exact c entering each piece; sweep two re-runs the plain recurrence in
    every piece from that start. That is about 3*sqrt(T) vector steps in all. No step subtracts
    large partial results, so there is no cancellation, and float64 keeps the rounding far below
    float32's.
    """
    B, T, H = f.shape
    K = max(1, math.isqrt(max(1, T // 3)))
    N = -(-T // K)
    f64 = torch.ones(B, N * K, H, dtype=torch.float64, device=f.device)
    u64 = torch.zeros_like(f64)
    f64[:, :T] = f
    torch.mul(i, g, out=u64[:, :T])
    f64, u64 = f64.view(B, N, K, H), u64.view(B, N, K, H)
    end = torch.zeros_like(u64[:, :, 0])  # (B, N, H): c at each piece's end, started from 0
    prod = torch.ones_like(end)  # product of f over each piece
    for k in range(K):
        torch.addcmul(u64[:, :, k], f64[:, :, k], end, out=end)
        prod.mul_(f64[:, :, k])
    starts = torch.empty(B, N + 1, H, dtype=torch.float64, device=f.device)  # c entering each piece
    starts[:, 0] = c0
    for n in range(N):
        torch.addcmul(end[:, n], prod[:, n], starts[:, n], out=starts[:, n + 1])
    run = starts[:, :N]
    for k in range(K):  # sweep two writes c over u64 in place: u_k is read just before c_k lands
        run = torch.addcmul(u64[:, :, k], f64[:, :, k], run, out=u64[:, :, k])
    out.copy_(u64.view(B, N * K, H)[:, :T])


@torch.no_grad()
def reference_steps(model: CharLSTM, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """The readable per-step definition: one ``z = [x, h] @ W.T + b`` per layer per step.

    Slow; kept as the specification the fast path must equal.
    """
    model.eval()
    cfg = model.config
    x_all = model.inputs(tokens)  # (B, T, E)
    B, T, _ = x_all.shape
    out: dict[str, list[torch.Tensor]] = {}
    hs = [torch.zeros(B, cfg.n_hidden) for _ in range(cfg.n_layer)]
    cs = [torch.zeros(B, cfg.n_hidden) for _ in range(cfg.n_layer)]
    for t in range(T):
        x = x_all[:, t]
        for layer in range(cfg.n_layer):
            lstm = model.lstm
            W = torch.cat([getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")], 1)
            z = torch.cat([x, hs[layer]], dim=1) @ W.T  # (B, 4H)
            if cfg.lstm_bias:
                z = z + getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
            i, f, g, o = z.chunk(4, dim=1)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            cs[layer] = f * cs[layer] + i * g
            hs[layer] = o * cs[layer].tanh()
            for name, value in (("h", hs[layer]), ("c", cs[layer])):
                out.setdefault(act_name(layer, name), []).append(value)
            for gate, value in zip(GATES, (i, f, g, o), strict=True):
                out.setdefault(act_name(layer, gate), []).append(value)
            x = hs[layer]
    return {name: torch.stack(values, dim=1) for name, values in out.items()}
