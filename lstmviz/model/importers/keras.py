"""Rebuilding a Keras char-LSTM (Sequential, or a Functional chain) into :class:`CharLSTM`.

The models people build follow Keras's ``lstm_text_generation`` example: an ``Embedding`` or
one-hot input (often fixed windows, ``Input(shape=(maxlen, len(chars)))``), one or more ``LSTM``
layers, optional ``Dropout``, and a ``Dense`` to the vocabulary (``softmax`` or linear, also
inside ``TimeDistributed`` or followed by an ``Activation``). Keras's LSTM keeps ``kernel`` (E, 4H),
``recurrent_kernel`` (H, 4H) and one ``bias`` (4H) with gates in the order i, f, c, o, which is
torch's i, f, g, o: the kernels are transposed into ``weight_ih``/``weight_hh``, the bias goes to
``bias_ih`` and zeros to ``bias_hh``. ``unit_forget_bias`` only sets the bias at initialisation,
so the stored bias is used as it is. The result is exact for ``activation="tanh"`` and
``recurrent_activation="sigmoid"`` (the defaults since Keras 2.3); other activations are refused.

A softmax Dense's pre-activations are the logits :class:`CharLSTM` produces, so predictions are
the same. A model trained on windows is run continuously over the text, as lstmviz runs every model.
The files themselves are read by :mod:`~lstmviz.model.importers.keras_files`, without Keras, and
their layers sorted into CharLSTM's parts by :mod:`~lstmviz.model.importers.keras_layers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmviz.errors import CheckpointError, UnsupportedModelError, VocabError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.importers import vocab_discovery
from lstmviz.model.importers.keras_files import KerasFile
from lstmviz.model.importers.keras_layers import INERT, Chain, KerasLayer, activation, chain_of, input_shape
from lstmviz.model.vocab import Vocab
from lstmviz.textio import read_text


@dataclass
class KerasModel:
    """A :class:`CharLSTM` rebuilt from a Keras file, with what ``inspect`` says about it."""

    model: CharLSTM
    parts: dict[str, str]  # role -> Keras layer name(s), e.g. {"lstm": "lstm, lstm_1"}
    details: dict[str, str]  # inspect label -> text: layout, parts, input, ignored
    training: dict[str, Any] = field(default_factory=dict)


def _arrays(layer: KerasLayer, shapes: list[tuple[int, ...]], where: str) -> list[torch.Tensor]:
    """The layer's arrays as float32 tensors, once checked to have the shapes its config implies."""
    found = [tuple(a.shape) for a in layer.arrays]
    if found != shapes or any(a.dtype.kind not in "fiu" for a in layer.arrays):
        def show(items: list[tuple[int, ...]]) -> str:
            return ", ".join("×".join(map(str, s)) or "scalar" for s in items) or "none"

        raise CheckpointError(
            f"{where}: {layer.label} has weights of shape(s) {show(found)}, expected {show(shapes)}; "
            "the file is damaged, or the architecture belongs to another model"
        )
    return [torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in layer.arrays]


def _describe_input(chain: Chain, layers: list[KerasLayer], V: int, n_in: int) -> str:
    shape = input_shape(layers)
    window = shape[1] if shape is not None and len(shape) >= 2 else None
    if chain.embedding is not None and window is None:
        window = chain.embedding.config.get("input_length")  # Keras 2
    text = f"embedding, {n_in} wide" if chain.embedding else f"one-hot, {V} wide"
    stateful = any(layer.config.get("stateful") for layer in chain.lstms)  # windows carry the state on
    if isinstance(window, int) and not stateful:
        text += f"; trained on windows of {window}, run over the text continuously"
    return text


def _ignored(keras: KerasFile, chain: Chain) -> str:
    ignored = [f"{layer.label} (rate {layer.config['rate']})" if "rate" in layer.config else layer.label
               for layer in chain.inert]
    ignored += [f"LSTM '{layer.name}' dropout" for layer in chain.lstms
                if layer.config.get("dropout") or layer.config.get("recurrent_dropout")]
    if chain.embedding is not None and chain.embedding.config.get("mask_zero"):
        ignored.append(f"mask_zero of Embedding '{chain.embedding.name}' (id 0 is run, not skipped: "
                       "exact while the text never holds symbol 0)")
    return ", ".join(ignored + keras.ignored)


def rebuild_keras(keras: KerasFile, where: str) -> KerasModel:
    """Rebuild a Keras char-LSTM, read by :func:`~lstmviz.model.importers.keras_files.open_keras`.

    Args:
        keras: the file's architecture and arrays.
        where: the file's name, for messages.

    Raises:
        UnsupportedModelError: a GRU, SimpleRNN, Bidirectional or ConvLSTM layer, another layer
            CharLSTM has no part for, a graph with branches, LSTM activations other than tanh and
            sigmoid, LSTM layers of different sizes, or an output other than softmax or linear.
        CheckpointError: no LSTM layer, or weights whose shapes contradict the architecture.
    """
    layers, chain = chain_of(keras, where)
    sizes = [int(layer.config.get("units", 0)) for layer in chain.lstms]
    if len(set(sizes)) > 1:
        raise UnsupportedModelError(
            f"{where}: LSTM layers of different sizes ({', '.join(map(str, sizes))} units); lstmviz needs "
            "every LSTM layer to have the same number of units"
        )
    H = sizes[0]
    V = int(chain.decoder_config.get("units", 0))
    dense_bias = bool(chain.decoder_config.get("use_bias", True))
    state: dict[str, torch.Tensor] = {}
    n_in = V
    if chain.embedding is not None:
        V_in = int(chain.embedding.config.get("input_dim", 0))
        n_in = int(chain.embedding.config.get("output_dim", 0))
        if V_in != V:
            raise UnsupportedModelError(
                f"{where}: Embedding '{chain.embedding.name}' has {V_in} rows but Dense "
                f"'{chain.decoder.name}' has {V} outputs; lstmviz needs one vocabulary for both"
            )
        (state["embed.weight"],) = _arrays(chain.embedding, [(V, n_in)], where)
    elif chain.lstms[0].arrays and chain.lstms[0].arrays[0].shape[0] != V:
        width = chain.lstms[0].arrays[0].shape[0]
        raise UnsupportedModelError(
            f"{where}: {chain.lstms[0].label} reads inputs {width} wide, but Dense '{chain.decoder.name}' "
            f"has {V} outputs; without an Embedding lstmviz reads one-hot input as wide as the vocabulary"
        )
    lstm_bias = any(layer.config.get("use_bias", True) for layer in chain.lstms)
    for index, layer in enumerate(chain.lstms):
        width = n_in if index == 0 else H
        has_bias = bool(layer.config.get("use_bias", True))
        shapes = [(width, 4 * H), (H, 4 * H)] + ([(4 * H,)] if has_bias else [])
        kernel, recurrent, *bias = _arrays(layer, shapes, where)
        state[f"lstm.weight_ih_l{index}"] = kernel.T.contiguous()
        state[f"lstm.weight_hh_l{index}"] = recurrent.T.contiguous()
        if lstm_bias:  # Keras has one bias; torch adds two, so the second is zero
            state[f"lstm.bias_ih_l{index}"] = bias[0] if bias else torch.zeros(4 * H)
            state[f"lstm.bias_hh_l{index}"] = torch.zeros(4 * H)
    decoder = KerasLayer(chain.decoder.kind, chain.decoder.name, chain.decoder_config, chain.decoder.arrays)
    kernel, *bias = _arrays(decoder, [(H, V)] + ([(V,)] if dense_bias else []), where)
    state["decoder.weight"] = kernel.T.contiguous()
    if bias:
        state["decoder.bias"] = bias[0]
    config = LSTMConfig(vocab_size=V, n_layer=len(chain.lstms), n_hidden=H, lstm_bias=lstm_bias,
                        n_embd=n_in if chain.embedding else None, decoder_bias=dense_bias)
    model = CharLSTM(config)
    model.load_state_dict(state)
    return KerasModel(model.eval(), _parts(chain), _details(keras, chain, layers, V, n_in), keras.training)


def _parts(chain: Chain) -> dict[str, str]:
    parts = {"lstm": ", ".join(layer.name for layer in chain.lstms), "decoder": chain.decoder.name}
    if chain.embedding is not None:
        parts = {"embedding": chain.embedding.name, **parts}
    return parts


def _details(keras: KerasFile, chain: Chain, layers: list[KerasLayer], V: int, n_in: int) -> dict[str, str]:
    shown = []
    for layer in layers:
        label, note = layer.label, ""
        if layer.kind == "LSTM":
            note = f" ({layer.config.get('units')} units)"
        elif layer is chain.decoder:
            function = activation(chain.decoder_config.get("activation")) or "linear"
            label = f"TimeDistributed(Dense) '{layer.name}'" if layer.kind == "TimeDistributed" else label
            note = f" ({V} units, {function})"
        elif layer is chain.output:
            after = "softmax" if layer.kind == "Softmax" else activation(layer.config.get("activation"))
            note = f" ({after})"
        elif layer.kind == "Embedding":
            note = f" ({V}×{n_in})"
        elif layer.kind in INERT:
            note = " (ignored)"
        if layer.kind != "InputLayer":
            shown.append(f"{label}{note}")
    kind = keras.model["class_name"]
    version = f", Keras {keras.version}" if keras.version else ""
    used = [chain.embedding, *chain.lstms, chain.decoder]
    n_params = sum(int(a.size) for layer in used if layer is not None for a in layer.arrays)
    details = {
        "layout": f"{keras.layout} ({keras.format}, {'Functional' if kind == 'Model' else kind}{version})",
        "parts": " → ".join(shown),
        "input": _describe_input(chain, layers, V, n_in),
        "parameters": f"{n_params:,}",  # as Keras counts them: one LSTM bias, not torch's two
    }
    ignored = _ignored(keras, chain)
    if ignored:
        details["ignored"] = ignored
    return details


def _seen_as(text_path: Path, n_symbols: int) -> str | None:
    """How Keras's text-generation examples change the text before ``sorted(set(text))``, if that fits."""
    if text_path.suffix.lower() == ".json" or not text_path.is_file():
        return None
    text = read_text(text_path).lower()
    if len(set(text)) == n_symbols:
        return "lowercased"
    if len(set(text.replace("\n", " "))) == n_symbols:
        return "lowercased, with newlines as spaces"
    return None


def keras_vocab(given: str | Path | Vocab | None, path: Path, n_symbols: int) -> vocab_discovery.FoundVocab:
    """The vocabulary of a Keras model: given, or in a JSON file beside it; Keras files hold none.

    A training text passed with ``--vocab`` whose characters are too many for the model is often the
    raw file a script lowercased before building its vocabulary, as Keras's example does; the error
    then says so.

    Raises:
        VocabError: none found, or none of the model's size.
    """
    advice = (
        "Keras files never hold one, and scripts like Keras's lstm_text_generation build it as "
        "sorted(set(text)): pass the training text as the script read it, --vocab train.txt, or a "
        f"JSON list of the {n_symbols} symbols in id order"
    )
    try:
        return vocab_discovery.resolve(given=given, roots=[], weights=path, n_symbols=n_symbols,
                                       advice=advice)
    except VocabError as e:
        seen = _seen_as(Path(given), n_symbols) if given is not None else None
        if seen is None:
            raise
        raise VocabError(
            f"{e}; {seen}, as Keras's text-generation example reads its text, the characters of "
            f"{given} number exactly {n_symbols}: pass the text as the training script read it"
        ) from None
