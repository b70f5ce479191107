"""Which layers a Keras model has, in call order, sorted into the parts of :class:`CharLSTM`.

A ``Sequential`` model lists its layers in order. A functional model lists them with the calls
that feed each one (``inbound_nodes``, in Keras 3's and Keras 2's forms); it fits when those calls
form one chain from input to output. The layers must then read: an optional ``Embedding``, one or
more ``LSTM`` layers, one ``Dense`` (or ``TimeDistributed(Dense)``) to the vocabulary, and an
optional softmax ``Activation``; layers that do nothing at inference (``Dropout`` …) may sit
anywhere. Anything else is refused by name, so a model never loads with a part left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmviz.errors import CheckpointError, UnsupportedModelError
from lstmviz.model.importers.keras_files import KerasFile, layer_name, model_layers

INERT = ("Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
         "ActivityRegularization")  # identity at inference  # fmt: skip
_RECURRENT = ("GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "CuDNNLSTM",
              "CuDNNGRU", "LSTMCell", "GRUCell", "StackedRNNCells")  # fmt: skip
_OUTPUT_ACTIVATIONS = ("softmax", "linear", None)
_SHAPE = "Embedding or one-hot input → LSTM layers → one Dense to the vocabulary (Dropout anywhere)"


@dataclass(frozen=True)
class KerasLayer:
    """One layer as its file describes it: class, name, config, and its arrays in Keras's order."""

    kind: str  # class name, e.g. "LSTM"
    name: str
    config: dict[str, Any]
    arrays: list[np.ndarray]

    @property
    def label(self) -> str:
        """How messages name it: ``LSTM 'lstm_1'``."""
        return f"{self.kind} '{self.name}'"


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" or word.startswith(("LSTM", "RNN")) else "a"


def activation(value: Any) -> str | None:
    """An activation as its name: Keras 3 may save a function as a dict around its name."""
    if isinstance(value, dict):
        value = value.get("config") if isinstance(value.get("config"), str) else value.get("class_name")
    return None if value is None else str(value)


def _inbound(value: Any) -> list[str]:
    """Names of the layers whose outputs a call takes, in Keras 3's and Keras 2's node formats."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history") or ["?"]
            return [str(history[0])]
        return [n for v in value.values() for n in _inbound(v)]
    if isinstance(value, list):
        if len(value) in (3, 4) and isinstance(value[0], str) and all(isinstance(v, int) for v in value[1:3]):
            return [value[0]]  # Keras 2: [layer name, node index, tensor index, kwargs]
        return [n for v in value for n in _inbound(v)]
    return []


def _ends(value: Any) -> list[str]:
    """``input_layers``/``output_layers``: ``["a", 0, 0]`` (Keras 3, one) or ``[["a", 0, 0], …]``."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value[0]]
    return [str(v[0]) for v in value or [] if isinstance(v, list) and v]


def _functional_chain(entries: list[dict[str, Any]], config: dict[str, Any], where: str) -> list[dict]:
    """The layers of a Functional model in call order, once checked to form a single chain."""
    by_name = {layer_name(e): e for e in entries}
    inputs, outputs = _ends(config.get("input_layers")), _ends(config.get("output_layers"))
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedModelError(
            f"{where}: a Functional model with {len(inputs)} input(s) and {len(outputs)} output(s); "
            f"lstmviz reads chains of one input to one output: {_SHAPE}"
        )
    chain: list[dict] = []
    name = outputs[0]
    while name in by_name and len(chain) <= len(entries):
        entry = by_name[name]
        chain.append(entry)
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise UnsupportedModelError(
                f"{where}: layer '{name}' is called {len(nodes)} times (a shared layer); lstmviz reads "
                f"chains where each layer is called once: {_SHAPE}"
            )
        sources = _inbound(nodes[0]) if nodes else []
        if len(sources) > 1:
            raise UnsupportedModelError(
                f"{where}: a Functional graph with branches: layer '{name}' ({entry.get('class_name')}) "
                f"takes {len(sources)} inputs ({', '.join(sources)}); lstmviz reads simple chains: {_SHAPE}"
            )
        if not sources:
            break
        name = sources[0]
    off_chain = [n for n in by_name if all(n != layer_name(e) for e in chain)]
    if off_chain or not chain or layer_name(chain[-1]) != inputs[0]:
        listed = ", ".join(off_chain) or inputs[0]
        raise UnsupportedModelError(
            f"{where}: a Functional graph with branches: layers {listed} lie off the path from input to "
            f"output; lstmviz reads simple chains: {_SHAPE}"
        )
    return chain[::-1]


def _layers(keras: KerasFile, where: str) -> list[KerasLayer]:
    """The model's layers in call order, each with its arrays."""
    model = keras.model
    kind = model["class_name"]
    entries = model_layers(model)
    if kind in ("Functional", "Model"):
        entries = _functional_chain(entries, model["config"], where)
    elif kind != "Sequential":
        raise UnsupportedModelError(
            f"{where}: a subclassed Keras model ('{kind}'), whose file does not describe its layers; "
            "build it as keras.Sequential or a functional keras.Model, then save it again"
        )
    layers = []
    for entry in entries:
        name = layer_name(entry)
        cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        layers.append(KerasLayer(str(entry.get("class_name")), name, cfg, keras.arrays.get(name, [])))
    return layers


def _refuse_kind(layer: KerasLayer, where: str) -> UnsupportedModelError:
    """The error for a layer CharLSTM has no part for, naming it (and what a wrapper holds)."""
    kind = layer.kind
    inner = layer.config.get("layer")
    if kind in ("Bidirectional", "TimeDistributed") and isinstance(inner, dict):
        kind = f"{kind}({inner.get('class_name')})"
    if kind == "RNN" and isinstance(layer.config.get("cell"), dict):
        kind = f"RNN({layer.config['cell'].get('class_name')})"
    what = f"{_article(kind)} {kind} layer '{layer.name}'"
    if layer.kind in _RECURRENT or layer.kind == "Bidirectional":
        return UnsupportedModelError(
            f"{where}: found {what}; lstmviz handles only unidirectional Keras LSTM layers "
            "(GRU, SimpleRNN, Bidirectional and ConvLSTM are not supported)"
        )
    return UnsupportedModelError(f"{where}: found {what}, which is not supported; lstmviz reads {_SHAPE}")


def _check_lstm(layer: KerasLayer, where: str) -> None:
    cfg = layer.config
    for key, wanted in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        found = activation(cfg.get(key, wanted))
        if found != wanted:
            note = " (the default before Keras 2.3)" if found == "hard_sigmoid" else ""
            raise UnsupportedModelError(
                f"{where}: LSTM layer '{layer.name}' uses {key}='{found}'{note}, but lstmviz computes "
                f"gates with sigmoid and tanh as torch's LSTM does; only {key}='{wanted}' is supported"
            )
    for key in ("go_backwards", "time_major"):
        if cfg.get(key):
            raise UnsupportedModelError(
                f"{where}: LSTM layer '{layer.name}' has {key}=True; lstmviz reads text forwards, one "
                "character per step, so this model is not supported"
            )


def input_shape(layers: list[KerasLayer]) -> list[Any] | None:
    """The batch input shape, from an InputLayer or (Keras 2 Sequential) the first layer's config."""
    for layer in layers:
        shape = layer.config.get("batch_shape") or layer.config.get("batch_input_shape")
        if isinstance(shape, list):
            return shape
    return None


@dataclass
class Chain:
    """The layers of a char-LSTM, sorted into CharLSTM's parts."""

    embedding: KerasLayer | None = None
    lstms: list[KerasLayer] = field(default_factory=list)
    decoder: KerasLayer | None = None
    decoder_config: dict[str, Any] = field(default_factory=dict)
    output: KerasLayer | None = None  # an Activation or Softmax after the Dense
    inert: list[KerasLayer] = field(default_factory=list)


def _sort(layers: list[KerasLayer], where: str) -> Chain:
    """Sort layers into input → LSTMs → decoder, refusing anything else by name."""
    chain = Chain()
    for layer in layers:
        kind = layer.kind
        inner = layer.config.get("layer") if kind == "TimeDistributed" else None
        if kind == "TimeDistributed" and isinstance(inner, dict) and inner.get("class_name") == "Dense":
            kind = "Dense"
        if kind == "InputLayer" or kind in INERT:
            chain.inert += [layer] if kind in INERT else []
            continue
        misplaced = None
        if kind == "Embedding":
            misplaced = "after another layer" if chain.lstms or chain.embedding else None
            chain.embedding = layer
        elif kind == "LSTM":
            misplaced = f"after the Dense '{chain.decoder.name}'" if chain.decoder else None
            _check_lstm(layer, where)
            chain.lstms.append(layer)
        elif kind == "Dense":
            misplaced = "before any LSTM" if not chain.lstms else None
            misplaced = f"after the Dense '{chain.decoder.name}'" if chain.decoder else misplaced
            chain.decoder = layer
            chain.decoder_config = inner.get("config", {}) if isinstance(inner, dict) else layer.config
        elif kind in ("Activation", "Softmax") and chain.decoder is not None and chain.output is None:
            chain.output = layer
        else:
            raise _refuse_kind(layer, where)
        if misplaced:
            raise UnsupportedModelError(f"{where}: {layer.label} comes {misplaced}; lstmviz reads {_SHAPE}")
    if not chain.lstms:
        found = ", ".join(layer.label for layer in layers if layer.kind != "InputLayer") or "no layers"
        raise CheckpointError(f"{where}: not a char-LSTM: no LSTM layer among {found}")
    if chain.decoder is None:
        raise UnsupportedModelError(
            f"{where}: no Dense layer after {chain.lstms[-1].label}; lstmviz reads {_SHAPE}"
        )
    return chain


def _check_output(chain: Chain, where: str) -> None:
    """The model's output must be softmax or linear over the Dense, whose pre-activations are logits."""
    dense = activation(chain.decoder_config.get("activation"))
    if chain.output is not None:
        after = activation(chain.output.config.get("activation"))
        after = "softmax" if chain.output.kind == "Softmax" else after
        if dense not in ("linear", None) or after not in _OUTPUT_ACTIVATIONS:
            raise UnsupportedModelError(
                f"{where}: the output is {dense} then {after} ({chain.output.label}); lstmviz reads the "
                "Dense's pre-activations as logits, which is exact only for a softmax or linear output"
            )
    elif dense not in _OUTPUT_ACTIVATIONS:
        raise UnsupportedModelError(
            f"{where}: the output Dense '{chain.decoder.name}' has activation='{dense}'; lstmviz reads "
            "its pre-activations as logits, which is exact only for a softmax or linear output"
        )


def chain_of(keras: KerasFile, where: str) -> tuple[list[KerasLayer], Chain]:
    """The model's layers in call order, and the same layers sorted into CharLSTM's parts.

    Raises:
        UnsupportedModelError: a GRU, SimpleRNN, Bidirectional or ConvLSTM layer, another layer
            CharLSTM has no part for, a graph with branches, LSTM activations other than tanh and
            sigmoid, or an output other than softmax or linear.
        CheckpointError: no LSTM layer.
    """
    layers = _layers(keras, where)
    chain = _sort(layers, where)
    _check_output(chain, where)
    return layers, chain
