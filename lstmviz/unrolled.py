"""Every h, c and gate of a stacked LSTM, numerically equal to ``torch.nn.LSTM``.

``nn.LSTM`` returns only the top layer's h per step, so each layer is run as its own one-layer
``nn.LSTM`` (the fast cuDNN/oneDNN kernel) for h. Knowing every h, the gates of all steps follow from
two batched matrix products with the same weights, and c from the linear recurrence
``c_t = f_t * c_{t-1} + i_t * g_t``, solved blockwise in float64 so a Python loop never runs per
character. Equations and gate order (i, f, g, o) follow the ``torch.nn.LSTM`` documentation;
:func:`reference_steps` is the readable per-step definition the fast path is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lstmviz.model import CharLSTM
from lstmviz.names import GATES, act_name

State = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: (h, c), each (B, H)


@dataclass
class Activations:
    """One block's activations: ``acts[name]`` is (B, T, H); ``logits`` is (B, T, V)."""

    acts: dict[str, torch.Tensor]
    logits: torch.Tensor


class UnrolledLSTM:
    """Runs a :class:`CharLSTM` over token blocks, exposing every activation and carrying state.

    >>> from lstmviz.model import LSTMConfig
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
        for layer in range(cfg.n_layer):
            in_size = cfg.input_size if layer == 0 else cfg.n_hidden
            single = nn.LSTM(in_size, cfg.n_hidden, 1, bias=cfg.lstm_bias, batch_first=True)
            with torch.no_grad():
                for part in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if cfg.lstm_bias else ()):
                    getattr(single, f"{part}_l0").copy_(getattr(model.lstm, f"{part}_l{layer}"))
            self.layers.append(single.eval().to(self.device))

    def zero_state(self, batch: int) -> State:
        """All-zero (h, c) per layer, as ``nn.LSTM`` starts."""
        H = self.model.config.n_hidden
        z = torch.zeros(batch, H, device=self.device)
        return [(z, z) for _ in self.layers]

    @torch.no_grad()
    def __call__(
        self, tokens: torch.Tensor, state: State | None = None, *, gates: bool = False
    ) -> tuple[Activations, State]:
        """Activations for token ids (B, T) and the state to pass to the next block."""
        tokens = tokens.to(self.device)
        B = tokens.shape[0]
        state = state or self.zero_state(B)
        x = self.model.inputs(tokens)  # (B, T, E)
        acts: dict[str, torch.Tensor] = {}
        new_state: State = []
        for layer, (lstm, (h0, c0)) in enumerate(zip(self.layers, state, strict=True)):
            h, (hn, cn) = lstm(x, (h0[None].contiguous(), c0[None].contiguous()))  # (B, T, H)
            gate_vals = _gates(lstm, x, torch.cat([h0[:, None], h[:, :-1]], dim=1))
            i, f, g, o = gate_vals
            c = _cell_states(f, i * g, c0)  # (B, T, H)
            acts[act_name("h", layer)] = h
            acts[act_name("c", layer)] = c
            if gates:
                for gate, value in zip(GATES, gate_vals, strict=True):
                    acts[act_name("gates", layer, gate)] = value
            new_state.append((hn[0], cn[0]))
            x = h
        return Activations(acts, self.model.decoder(x)), new_state


def _gates(lstm: nn.LSTM, x: torch.Tensor, h_prev: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """i, f, g, o for every step at once, from the inputs and the previous h of each step."""
    z = x @ lstm.weight_ih_l0.T + h_prev @ lstm.weight_hh_l0.T  # (B, T, 4H)
    if lstm.bias:
        z = z + (lstm.bias_ih_l0 + lstm.bias_hh_l0)
    i, f, g, o = z.chunk(4, dim=-1)
    return i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()


def _cell_states(f: torch.Tensor, u: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """Solve ``c_t = f_t * c_{t-1} + u_t`` for all t, in float64, in ~2*sqrt(T) vector steps.

    The T steps are cut into N pieces of K: a scan within every piece at once (from c = 0, keeping
    the running product of f), a short scan over the N piece ends, then one fix-up
    ``c = local + prod_f * c_start``. Float64 keeps the fix-up free of cancellation error.
    """
    B, T, H = f.shape
    K = max(1, math.isqrt(T))
    N = -(-T // K)
    pad = N * K - T
    f64 = nn.functional.pad(f.double(), (0, 0, 0, pad), value=1.0).view(B, N, K, H)
    u64 = nn.functional.pad(u.double(), (0, 0, 0, pad)).view(B, N, K, H)
    local = torch.empty_like(u64)  # c within each piece, started from 0
    prod = torch.empty_like(f64)  # running product of f within each piece
    run_c = torch.zeros_like(u64[:, :, 0])
    run_p = torch.ones_like(f64[:, :, 0])
    for k in range(K):
        run_c = f64[:, :, k] * run_c + u64[:, :, k]
        run_p = run_p * f64[:, :, k]
        local[:, :, k] = run_c
        prod[:, :, k] = run_p
    starts = torch.empty_like(u64[:, :, 0])  # (B, N, H): c before each piece
    c_prev = c0.double()
    for n in range(N):
        starts[:, n] = c_prev
        c_prev = local[:, n, -1] + prod[:, n, -1] * c_prev
    c = local + prod * starts[:, :, None]
    return c.view(B, N * K, H)[:, :T].to(f.dtype)


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
                out.setdefault(act_name(name, layer), []).append(value)
            for gate, value in zip(GATES, (i, f, g, o), strict=True):
                out.setdefault(act_name("gates", layer, gate), []).append(value)
            x = hs[layer]
    return {name: torch.stack(values, dim=1) for name, values in out.items()}
