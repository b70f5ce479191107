"""Finding the embedding, LSTM layers and decoder of a char-LSTM in any module's state dict.

Training scripts name their parts freely (``rnn``, ``encoder``, ``lstm_layers``; ``fc``, ``out``,
``head``) and wrap them (``module.`` from DataParallel, ``_orig_mod.`` from ``torch.compile``), so
parts are found by the parameter names torch itself gives and by shapes, never by one fixed prefix:

- the LSTM layers are one ``nn.LSTM``, ``nn.LSTMCell`` layers or a stack of one-layer ``nn.LSTM`` modules
  (see :mod:`~lstmviz.model.importers.recurrent`), H units each;
- the decoder is a ``weight`` of shape (V, H), with an optional ``bias`` (V,);
- the input is an embedding ``weight`` of shape (V, E) with no bias, E being the first layer's
  input size, or one-hot when E == V and no embedding exists.

Every tensor must find its place. One left over means the network has a part :class:`CharLSTM`
lacks (a LayerNorm, a second Linear), and a model rebuilt without it would show wrong activations.
Dropout has no parameters, so models with dropout anywhere load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from lstmviz.errors import CheckpointError, UnsupportedModelError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.importers.recurrent import find_layers, join, shape_text

_DECODER_WORDS = ("decoder", "fc", "out", "head", "logit", "proj", "linear", "classifier", "dense")
_EMBED_WORDS = ("emb", "encoder", "wte", "tok", "lookup", "char", "input")


@dataclass(frozen=True)
class _Linear:
    """A ``weight`` (2-D) with the ``bias`` beside it, if any: a Linear or an Embedding."""

    prefix: str
    weight: torch.Tensor
    bias: torch.Tensor | None

    def keys(self) -> set[str]:
        names = {join(self.prefix, "weight")}
        return names | ({join(self.prefix, "bias")} if self.bias is not None else set())


@dataclass(frozen=True)
class Rebuilt:
    """A :class:`CharLSTM` rebuilt from foreign weights, and where each part was found."""

    model: CharLSTM
    parts: dict[str, str]  # role -> module path in the checkpoint, e.g. {"lstm": "module.rnn"}
    stack: str = ""  # how separate LSTM layers were held ("2 LSTMCell layers"); "" for one nn.LSTM


def _score(prefix: str, words: tuple[str, ...]) -> int:
    leaf = prefix.rsplit(".", 1)[-1].lower()
    return int(any(w in leaf for w in words))


def _linears(tensors: Mapping[str, torch.Tensor], taken: set[str]) -> list[_Linear]:
    found = []
    for key, value in tensors.items():
        prefix, _, leaf = key.rpartition(".")
        if key in taken or leaf != "weight" or value.dim() != 2:
            continue
        bias = tensors.get(join(prefix, "bias"))
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

    The parts are ``embedding`` (absent for one-hot input), ``lstm`` for one ``nn.LSTM`` or
    ``layer0``, ``layer1`` … for LSTMCells and stacks of one-layer LSTMs, and ``decoder``.

    Args:
        tensors: a flat state dict; non-tensor values are ignored.
        where: the file's name, for messages.

    Raises:
        UnsupportedModelError: a GRU, vanilla RNN, bidirectional LSTM, ``proj_size``, LSTM
            layers that do not form one stack of one hidden size, or parameters that belong to
            none of the three parts.
        CheckpointError: no recurrent module, no decoder, or an input that matches nothing.

    >>> from torch import nn
    >>> net = nn.ModuleDict({"emb": nn.Embedding(5, 3), "rnn": nn.LSTM(3, 4), "fc": nn.Linear(4, 5)})
    >>> rebuild(net.state_dict(), "net.pt").parts
    {'embedding': 'emb', 'lstm': 'rnn', 'decoder': 'fc'}
    """
    tensors = {k: v for k, v in tensors.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    layers = find_layers(tensors, where)
    H, n_in = layers.hidden_size, layers.input_size
    lstm_keys = layers.keys()
    all_keys = set(tensors) - lstm_keys
    chosen = _choose(_linears(tensors, lstm_keys), H, n_in, all_keys)
    if chosen is None:
        others = ", ".join(f"{k} ({shape_text(tensors[k])})" for k in sorted(all_keys)[:6]) or "none"
        raise CheckpointError(
            f"{where}: found {layers.describe()} (input size {n_in}, hidden size {H}) but "
            f"no decoder of shape (vocabulary, {H}) with an embedding of shape (vocabulary, {n_in}) "
            f"or one-hot input of width {n_in}; other tensors: {others}"
        )
    dec, emb = chosen
    left = all_keys - dec.keys() - (emb.keys() if emb else set())
    if left:
        listed = ", ".join(f"{k} ({shape_text(tensors[k])})" for k in sorted(left)[:6])
        raise UnsupportedModelError(
            f"{where}: has parameters outside embedding → LSTM → decoder: {listed}; lstmviz "
            "handles models made of only these parts (dropout anywhere is fine)"
        )
    V = dec.weight.shape[0]
    config = LSTMConfig(
        vocab_size=V,
        n_layer=layers.n_layer,
        n_hidden=H,
        n_embd=n_in if emb is not None else None,
        lstm_bias=layers.bias,
        decoder_bias=dec.bias is not None,
    )
    state = {f"lstm.{leaf}": value for leaf, value in layers.state().items()}
    state["decoder.weight"] = dec.weight
    if dec.bias is not None:
        state["decoder.bias"] = dec.bias
    if emb is not None:
        state["embed.weight"] = emb.weight
    model = CharLSTM(config)
    model.load_state_dict({k: v.detach().to(torch.float32) for k, v in state.items()})
    parts = {"embedding": emb.prefix} if emb is not None else {}
    if layers.is_stack:
        parts.update((f"layer{k}", m.prefix) for k, m in enumerate(layers.modules))
    else:
        parts["lstm"] = layers.modules[0].prefix
    parts["decoder"] = dec.prefix
    return Rebuilt(model.eval(), parts, layers.stack())
