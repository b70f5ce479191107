"""Finding the embedding, LSTM and decoder of a char-LSTM in any module's state dict.

Training scripts name their parts freely (``rnn``, ``encoder``, ``lstm_layers``; ``fc``, ``out``,
``head``) and wrap them (``module.`` from DataParallel, ``_orig_mod.`` from ``torch.compile``), so
parts are found by the parameter names torch itself gives and by shapes, never by one fixed prefix:

- the recurrent module owns ``weight_ih_l0`` and ``weight_hh_l0``; ``weight_hh`` has ``g * H``
  rows for ``H`` columns, with ``g`` = 4 for an LSTM, 3 for a GRU and 1 for a vanilla RNN;
- the decoder is a ``weight`` of shape (V, H), with an optional ``bias`` (V,);
- the input is an embedding ``weight`` of shape (V, E) with no bias, E being the LSTM's input
  size, or one-hot when E == V and no embedding exists.

Every tensor must find its place. One left over means the network has a part :class:`CharLSTM`
lacks (a LayerNorm, a second Linear), and a model rebuilt without it would show wrong activations.
Dropout has no parameters, so models with dropout anywhere load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from lstmviz.errors import CheckpointError, UnsupportedModelError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig

_RNN_PARAM = re.compile(r"^(weight|bias)_(ih|hh|hr)(_l(?P<layer>\d+))?(?P<rev>_reverse)?$")
_GATE_KINDS = {4: "LSTM", 3: "GRU", 1: "RNN"}
_DECODER_WORDS = ("decoder", "fc", "out", "head", "logit", "proj", "linear", "classifier", "dense")
_EMBED_WORDS = ("emb", "encoder", "wte", "tok", "lookup", "char", "input")


@dataclass(frozen=True)
class _Linear:
    """A ``weight`` (2-D) with the ``bias`` beside it, if any: a Linear or an Embedding."""

    prefix: str
    weight: torch.Tensor
    bias: torch.Tensor | None

    def keys(self) -> set[str]:
        names = {_join(self.prefix, "weight")}
        return names | ({_join(self.prefix, "bias")} if self.bias is not None else set())


@dataclass(frozen=True)
class _Recurrent:
    """One recurrent module's parameters, keyed by torch's own names (``weight_ih_l0`` …)."""

    prefix: str
    params: dict[str, torch.Tensor]

    @property
    def is_cell(self) -> bool:
        return "weight_hh" in self.params

    @property
    def hidden_size(self) -> int:
        if "weight_hr_l0" in self.params:
            return self.params["weight_hr_l0"].shape[1]
        return self._hh.shape[1]

    @property
    def _hh(self) -> torch.Tensor:
        return self.params["weight_hh" if self.is_cell else "weight_hh_l0"]

    def describe(self) -> str:
        """'a bidirectional LSTM', 'a GRU', 'an LSTM with proj_size=16', 'an LSTMCell'."""
        kind = _GATE_KINDS.get(self._hh.shape[0] // self.hidden_size, "recurrent module")
        words = []
        if any(k.endswith("_reverse") for k in self.params):
            words.append("bidirectional")
        words.append(kind + ("Cell" if self.is_cell else ""))
        if "weight_hr_l0" in self.params:
            words.append(f"with proj_size={self.params['weight_hr_l0'].shape[0]}")
        text = " ".join(words)
        return ("an " if text[0] in "AEIOUaeiou" or text.startswith(("LSTM", "RNN")) else "a ") + text

    def is_plain_lstm(self) -> bool:
        return self.describe() == "an LSTM"


@dataclass(frozen=True)
class Rebuilt:
    """A :class:`CharLSTM` rebuilt from foreign weights, and where each part was found."""

    model: CharLSTM
    parts: dict[str, str]  # role -> module path in the checkpoint, e.g. {"lstm": "module.rnn"}


def _join(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _where(prefix: str) -> str:
    return f"'{prefix}'" if prefix else "the top level"


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(n) for n in t.shape) or "scalar"


def _score(prefix: str, words: tuple[str, ...]) -> int:
    leaf = prefix.rsplit(".", 1)[-1].lower()
    return int(any(w in leaf for w in words))


def _recurrent_modules(tensors: Mapping[str, torch.Tensor]) -> list[_Recurrent]:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        prefix, _, leaf = key.rpartition(".")
        if _RNN_PARAM.match(leaf):
            groups.setdefault(prefix, {})[leaf] = value
    found = []
    for prefix, params in groups.items():
        hh = params.get("weight_hh_l0", params.get("weight_hh"))
        if hh is not None and hh.dim() == 2 and min(hh.shape) > 0:
            found.append(_Recurrent(prefix, params))
    return found


def _check_lstm(rnn: _Recurrent, where: str) -> tuple[int, int, int, bool]:
    """(layers, hidden, input size, has bias) of a plain LSTM, after checking every shape."""
    p = rnn.params
    H = rnn.hidden_size
    n_layer = 1 + max(int(_RNN_PARAM.match(k)["layer"]) for k in p)
    has_bias = "bias_ih_l0" in p
    n_in = p["weight_ih_l0"].shape[1]
    expected: dict[str, tuple[int, ...]] = {}
    for layer in range(n_layer):
        expected[f"weight_ih_l{layer}"] = (4 * H, n_in if layer == 0 else H)
        expected[f"weight_hh_l{layer}"] = (4 * H, H)
        if has_bias:
            expected[f"bias_ih_l{layer}"] = expected[f"bias_hh_l{layer}"] = (4 * H,)
    for name, shape in expected.items():
        if name not in p or tuple(p[name].shape) != shape:
            found = _shape(p[name]) if name in p else "missing"
            raise CheckpointError(
                f"{where}: the LSTM at {_where(rnn.prefix)} is inconsistent: {name} is {found}, "
                f"expected {'×'.join(map(str, shape))}; the checkpoint may be damaged"
            )
    if set(p) != set(expected):
        extra = ", ".join(sorted(set(p) - set(expected)))
        raise CheckpointError(
            f"{where}: the LSTM at {_where(rnn.prefix)} has unexpected {extra}; "
            "the checkpoint may be damaged"
        )
    return n_layer, H, n_in, has_bias


def _linears(tensors: Mapping[str, torch.Tensor], taken: set[str]) -> list[_Linear]:
    found = []
    for key, value in tensors.items():
        prefix, _, leaf = key.rpartition(".")
        if key in taken or leaf != "weight" or value.dim() != 2:
            continue
        bias = tensors.get(_join(prefix, "bias"))
        ok_bias = bias is not None and bias.dim() == 1 and bias.shape[0] == value.shape[0]
        found.append(_Linear(prefix, value, bias if ok_bias else None))
    return found


def _choose(
    linears: list[_Linear], H: int, n_in: int, all_keys: set[str]
) -> tuple[_Linear, _Linear | None] | None:
    """The (decoder, embedding-or-None) pair that explains the most tensors, names breaking ties."""
    best, best_rank = None, None
    for order, dec in enumerate(linears):
        if dec.weight.shape[1] != H:
            continue
        V = dec.weight.shape[0]
        embeds = [e for e in linears if e is not dec and e.bias is None and e.weight.shape == (V, n_in)]
        options = [(dec, e) for e in embeds] + ([(dec, None)] if n_in == V else [])
        for d, e in options:
            placed = d.keys() | (e.keys() if e else set())
            rank = (
                len(placed & all_keys),
                _score(d.prefix, _DECODER_WORDS),
                _score(e.prefix, _EMBED_WORDS) if e else 0,
                order,  # decoders are usually defined last
            )
            if best_rank is None or rank > best_rank:
                best, best_rank = (d, e), rank
    return best


def rebuild(tensors: Mapping[str, torch.Tensor], where: str) -> Rebuilt:
    """Rebuild a :class:`CharLSTM` from the state dict of any embedding/one-hot → LSTM → Linear model.

    Args:
        tensors: a flat state dict; non-tensor values are ignored.
        where: the file's name, for messages.

    Raises:
        UnsupportedModelError: a GRU, vanilla RNN, bidirectional LSTM, ``proj_size``, a cell, or
            parameters that belong to none of the three parts.
        CheckpointError: no recurrent module, no decoder, or an input that matches nothing.

    >>> from torch import nn
    >>> net = nn.ModuleDict({"emb": nn.Embedding(5, 3), "rnn": nn.LSTM(3, 4), "fc": nn.Linear(4, 5)})
    >>> rebuild(net.state_dict(), "net.pt").parts
    {'lstm': 'rnn', 'embedding': 'emb', 'decoder': 'fc'}
    """
    tensors = {k: v for k, v in tensors.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    rnns = _recurrent_modules(tensors)
    if not rnns:
        sample = ", ".join(f"{k} ({_shape(v)})" for k, v in list(tensors.items())[:4])
        raise CheckpointError(
            f"{where}: not a char-LSTM: no nn.LSTM among its {len(tensors)} tensors (e.g. {sample}); "
            "lstmviz needs weights with weight_ih_l0/weight_hh_l0 from an nn.LSTM"
        )
    if len(rnns) > 1:
        listed = ", ".join(f"{r.describe()} at {_where(r.prefix)}" for r in rnns)
        raise UnsupportedModelError(
            f"{where}: found {len(rnns)} recurrent modules ({listed}); "
            "lstmviz handles models with one multi-layer nn.LSTM"
        )
    rnn = rnns[0]
    if not rnn.is_plain_lstm():
        raise UnsupportedModelError(
            f"{where}: found {rnn.describe()} at {_where(rnn.prefix)}; lstmviz handles only "
            "unidirectional nn.LSTM layers without proj_size"
        )
    n_layer, H, n_in, lstm_bias = _check_lstm(rnn, where)
    lstm_keys = {_join(rnn.prefix, leaf) for leaf in rnn.params}
    all_keys = set(tensors) - lstm_keys
    chosen = _choose(_linears(tensors, lstm_keys), H, n_in, all_keys)
    if chosen is None:
        others = ", ".join(f"{k} ({_shape(tensors[k])})" for k in sorted(all_keys)[:6]) or "none"
        raise CheckpointError(
            f"{where}: found an LSTM at {_where(rnn.prefix)} (input size {n_in}, hidden size {H}) but "
            f"no decoder of shape (vocabulary, {H}) with an embedding of shape (vocabulary, {n_in}) "
            f"or one-hot input of width {n_in}; other tensors: {others}"
        )
    dec, emb = chosen
    left = all_keys - dec.keys() - (emb.keys() if emb else set())
    if left:
        listed = ", ".join(f"{k} ({_shape(tensors[k])})" for k in sorted(left)[:6])
        raise UnsupportedModelError(
            f"{where}: has parameters outside embedding → LSTM → decoder: {listed}; lstmviz "
            "handles models made of only these parts (dropout anywhere is fine)"
        )
    V = dec.weight.shape[0]
    config = LSTMConfig(
        vocab_size=V,
        n_layer=n_layer,
        n_hidden=H,
        n_embd=n_in if emb is not None else None,
        lstm_bias=lstm_bias,
        decoder_bias=dec.bias is not None,
    )
    state = {f"lstm.{leaf}": value for leaf, value in rnn.params.items()}
    state["decoder.weight"] = dec.weight
    if dec.bias is not None:
        state["decoder.bias"] = dec.bias
    if emb is not None:
        state["embed.weight"] = emb.weight
    model = CharLSTM(config)
    model.load_state_dict({k: v.detach().to(torch.float32) for k, v in state.items()})
    parts = {"lstm": rnn.prefix, "decoder": dec.prefix}
    if emb is not None:
        parts = {"lstm": rnn.prefix, "embedding": emb.prefix, "decoder": dec.prefix}
    return Rebuilt(model.eval(), parts)
