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
The files themselves are read by :mod:`~lstmviz.model.importers.keras_files`, without Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmviz.errors import CheckpointError, UnsupportedModelError, VocabError
from lstmviz.model.charlstm import CharLSTM, LSTMConfig
from lstmviz.model.importers import vocab_discovery
from lstmviz.model.importers.keras_files import KerasFile, layer_name, model_layers
from lstmviz.textio import read_text

_INERT = ("Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
          "ActivityRegularization")  # identity at inference  # fmt: skip
_RECURRENT = ("GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "CuDNNLSTM",
              "CuDNNGRU", "LSTMCell", "GRUCell", "StackedRNNCells")  # fmt: skip
_OUTPUT_ACTIVATIONS = ("softmax", "linear", None)
_SHAPE = "Embedding or one-hot input → LSTM layers → one Dense to the vocabulary (Dropout anywhere)"


@dataclass(frozen=True)
class _Layer:
    kind: str  # class name, e.g. "LSTM"
    name: str
    config: dict[str, Any]
    arrays: list[np.ndarray]

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'"


@dataclass
class KerasModel:
    """A :class:`CharLSTM` rebuilt from a Keras file, with what ``inspect`` says about it."""

    model: CharLSTM
    parts: dict[str, str]  # role -> Keras layer name(s), e.g. {"lstm": "lstm, lstm_1"}
    details: dict[str, str]  # inspect label -> text: layout, parts, input, ignored
    training: dict[str, Any] = field(default_factory=dict)


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" or word.startswith(("LSTM", "RNN")) else "a"


def _activation(value: Any) -> str | None:
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


def _layers(keras: KerasFile, where: str) -> list[_Layer]:
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
        layers.append(_Layer(str(entry.get("class_name")), name, cfg, keras.arrays.get(name, [])))
    return layers


def _refuse_kind(layer: _Layer, where: str) -> UnsupportedModelError:
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


def _check_lstm(layer: _Layer, where: str) -> None:
    cfg = layer.config
    for key, wanted in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        found = _activation(cfg.get(key, wanted))
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


def _arrays(layer: _Layer, shapes: list[tuple[int, ...]], where: str) -> list[torch.Tensor]:
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


def _input_shape(layers: list[_Layer]) -> list[Any] | None:
    """The batch input shape, from an InputLayer or (Keras 2 Sequential) the first layer's config."""
    for layer in layers:
        shape = layer.config.get("batch_shape") or layer.config.get("batch_input_shape")
        if isinstance(shape, list):
            return shape
    return None


@dataclass
class _Chain:
    """The layers of a char-LSTM, sorted into CharLSTM's parts."""

    embedding: _Layer | None = None
    lstms: list[_Layer] = field(default_factory=list)
    decoder: _Layer | None = None
    decoder_config: dict[str, Any] = field(default_factory=dict)
    output: _Layer | None = None  # an Activation or Softmax after the Dense
    inert: list[_Layer] = field(default_factory=list)


def _sort(layers: list[_Layer], where: str) -> _Chain:
    """Sort layers into input → LSTMs → decoder, refusing anything else by name."""
    chain = _Chain()
    for layer in layers:
        kind = layer.kind
        inner = layer.config.get("layer") if kind == "TimeDistributed" else None
        if kind == "TimeDistributed" and isinstance(inner, dict) and inner.get("class_name") == "Dense":
            kind = "Dense"
        if kind == "InputLayer" or kind in _INERT:
            chain.inert += [layer] if kind in _INERT else []
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


def _check_output(chain: _Chain, where: str) -> None:
    """The model's output must be softmax or linear over the Dense, whose pre-activations are logits."""
    dense = _activation(chain.decoder_config.get("activation"))
    if chain.output is not None:
        after = _activation(chain.output.config.get("activation"))
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


def _describe_input(chain: _Chain, layers: list[_Layer], V: int, n_in: int) -> str:
    shape = _input_shape(layers)
    window = shape[1] if shape is not None and len(shape) >= 2 else None
    if chain.embedding is not None and window is None:
        window = chain.embedding.config.get("input_length")  # Keras 2
    text = f"embedding, {n_in} wide" if chain.embedding else f"one-hot, {V} wide"
    if isinstance(window, int):
        text += f"; trained on windows of {window}, run over the text continuously"
    return text


def _ignored(keras: KerasFile, chain: _Chain) -> str:
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
    layers = _layers(keras, where)
    chain = _sort(layers, where)
    _check_output(chain, where)
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
    decoder = _Layer(chain.decoder.kind, chain.decoder.name, chain.decoder_config, chain.decoder.arrays)
    kernel, *bias = _arrays(decoder, [(H, V)] + ([(V,)] if dense_bias else []), where)
    state["decoder.weight"] = kernel.T.contiguous()
    if bias:
        state["decoder.bias"] = bias[0]
    config = LSTMConfig(vocab_size=V, n_layer=len(chain.lstms), n_hidden=H, lstm_bias=lstm_bias,
                        n_embd=n_in if chain.embedding else None, decoder_bias=dense_bias)
    model = CharLSTM(config)
    model.load_state_dict(state)
    return KerasModel(model.eval(), _parts(chain), _details(keras, chain, layers, V, n_in), keras.training)


def _parts(chain: _Chain) -> dict[str, str]:
    parts = {"lstm": ", ".join(layer.name for layer in chain.lstms), "decoder": chain.decoder.name}
    if chain.embedding is not None:
        parts = {"embedding": chain.embedding.name, **parts}
    return parts


def _details(keras: KerasFile, chain: _Chain, layers: list[_Layer], V: int, n_in: int) -> dict[str, str]:
    shown = []
    for layer in layers:
        label, note = layer.label, ""
        if layer.kind == "LSTM":
            note = f" ({layer.config.get('units')} units)"
        elif layer is chain.decoder:
            activation = _activation(chain.decoder_config.get("activation")) or "linear"
            label = f"TimeDistributed(Dense) '{layer.name}'" if layer.kind == "TimeDistributed" else label
            note = f" ({V} units, {activation})"
        elif layer is chain.output:
            after = "softmax" if layer.kind == "Softmax" else _activation(layer.config.get("activation"))
            note = f" ({after})"
        elif layer.kind == "Embedding":
            note = f" ({V}×{n_in})"
        elif layer.kind in _INERT:
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


def keras_vocab(given: str | Path | None, path: Path, n_symbols: int) -> vocab_discovery.FoundVocab:
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
