"""The extraction file's format in code: its constants, header, attributes and what values may be.

One HDF5 file per (model, text). Every per-character array shares the token axis T; activations are
``[T, H]`` datasets at ``h5_path(name)``, chunked along tokens at a width of a few dozen units, so a
window of one unit and a stream of all units both read few chunks. The format is specified in
``docs/file-format.md``; the root attributes ``encoding-type`` and ``encoding-version`` identify it.
The writer, the reader and ``lstmviz validate`` all take these facts from here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmviz.errors import LstmvizError, SchemaVersionError, StoreError
from lstmviz.files import kind_of
from lstmviz.model.charlstm import LSTMConfig
from lstmviz.model.importers.keras_files import keras_hdf5_kind, keras_kind
from lstmviz.model.vocab import Vocab
from lstmviz.names import GATES, act_name, parse_name

FORMAT = "lstmviz-states"
VERSION = "1.2"  # 1.1 added /decoder; 1.2 the rank_* summaries
CHUNK_ROWS = 4096  # token rows per chunk; writers append in multiples of this
CHUNK_UNITS = 64  # units per chunk
TOP_K = 5
SUMMARY_ROOT = "/summaries"
PREDICTIONS = "/predictions"
DECODER = "/decoder"
TOKENS = "/tokens"
VOCAB = "/vocab"
PREDICTION_KEYS = ("top_ids", "top_probs", "p_next", "loss_nats", "loss_bits")
RANK_PREFIX = "rank_"  # summaries only cell search reads (format 1.2)
SLACK = 1e-3  # how far past its range a stored value may lie: float16 and foreign writers' rounding


def top_k(vocab_size: int) -> int:
    """Guesses stored per position: the top 5, or every symbol of a smaller vocabulary."""
    return min(TOP_K, vocab_size)


def vocab_dataset(vocab: Vocab) -> list[str]:
    """The symbols as ``/vocab`` holds them; the ``vocab`` attribute (JSON) holds them exactly.

    HDF5 strings cannot contain NUL, so a symbol that does (byte 0 of a byte-level vocabulary, or a
    NUL in the text) is stored as the empty string.
    """
    return ["" if "\0" in s else s for s in vocab.symbols]


def vocab_matches(ds: h5py.Dataset, vocab: Vocab) -> bool:
    """Whether a ``/vocab`` dataset lists the ``vocab`` attribute's symbols (as :func:`vocab_dataset`).

    The two are written together from one vocabulary; when they differ, one was damaged or edited,
    and the text shown from the attribute may not be the text the model read.
    """
    if ds.ndim != 1 or ds.dtype.kind not in "OSU":
        return False
    try:
        stored = [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]
    except (OSError, UnicodeDecodeError):
        return False
    return stored == vocab_dataset(vocab)


@dataclass
class Predictions:
    """The model's guesses at positions [start, stop): what it predicts *after* reading each symbol."""

    top_ids: np.ndarray  # (n, K) int32, most likely first; K = top_k(V)
    top_probs: np.ndarray  # (n, K) float32
    p_next: np.ndarray  # (n,) float32, probability of the true next symbol; NaN at the text's end
    loss_nats: np.ndarray  # (n,) float32, -ln p_next
    loss_bits: np.ndarray  # (n,) float32, -log2 p_next




KERAS_MODEL = ("a Keras model, not an extraction; extract it over a text: "
               "`lstmviz extract MODEL TEXT --vocab train.txt`")


def not_hdf5(path: Path) -> str:
    """What a file h5py cannot open is instead, and what to do: the words after its name."""
    with open(path, "rb") as f:
        kind = kind_of(f.read(8))
    if kind == "hdf5":
        return "not a readable HDF5 file (truncated or damaged); run `lstmviz extract` again"
    if keras_kind(path) is not None:
        return KERAS_MODEL
    if kind in ("zip", "pickle"):
        return "a PyTorch checkpoint, not an extraction; extract it over a text: `lstmviz extract MODEL TEXT`"
    what = "an empty file" if kind == "empty" else "not an HDF5 file"
    return f"{what}, not an extraction; make one with `lstmviz extract MODEL TEXT`"


def text_attr(attrs: h5py.AttributeManager, key: str, default: str | None = None) -> str | None:
    """A string attribute, whether written as variable-length (h5py) or fixed-length bytes (C, MATLAB)."""
    value = attrs.get(key, default)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def is_complete(attrs: h5py.AttributeManager) -> bool:
    """The ``complete`` flag, read strictly: only a true boolean (or integer 1) says complete.

    A string such as "false" is truthy in Python; a file that says so must not pass for complete.
    """
    flag = attrs.get("complete", False)
    return isinstance(flag, (bool, np.bool_, np.integer)) and bool(flag)


def check_header(f: h5py.File) -> None:
    """Refuse foreign, incomplete and other-major-version files with a message saying what to do."""
    kind = text_attr(f.attrs, "encoding-type")
    version = text_attr(f.attrs, "encoding-version", "0")
    if kind is None and keras_hdf5_kind(f) is not None:
        raise StoreError(f"{f.filename}: {KERAS_MODEL}")
    if kind != FORMAT:
        raise StoreError(
            f"{f.filename}: not an lstmviz extraction (no '{FORMAT}' header); "
            "create one with `lstmviz extract MODEL TEXT`"
        )
    if version.split(".")[0] != VERSION.split(".")[0]:
        raise SchemaVersionError(
            f"{f.filename}: format version {version} is not readable by this lstmviz "
            f"(reads {VERSION.split('.')[0]}.x); re-run `lstmviz extract` or upgrade lstmviz"
        )
    if not is_complete(f.attrs):
        raise StoreError(
            f"{f.filename}: the extraction is incomplete (it was interrupted); "
            "run `lstmviz extract` again"
        )


def config_from_attr(value: Any) -> LSTMConfig:
    """The ``model_config`` attribute as an :class:`LSTMConfig`; ValueError or TypeError if it is not one."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    return LSTMConfig(**data)


def vocab_from_attr(value: Any) -> Vocab:
    """The ``vocab`` attribute as a :class:`Vocab`; ValueError, TypeError or VocabError if it is not one."""
    data = json.loads(value)
    symbols = data.get("symbols") if isinstance(data, dict) else None
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ValueError("expected a JSON object whose 'symbols' is a list of strings")
    return Vocab.from_dict(data)


def names_from_attr(value: Any) -> list[str]:
    """The ``names`` attribute as a list of strings; ValueError if it is not one."""
    names = json.loads(value)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("expected a JSON list of activation names")
    return names


def config_problems(config: LSTMConfig, vocab: Vocab) -> list[str]:
    """What in the model's shape cannot be, in plain words: every dataset's shape follows from it."""
    problems = []
    for key in ("vocab_size", "n_layer", "n_hidden"):
        value = getattr(config, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"model_config gives {key} = {value!r}, not a positive whole number")
    if isinstance(config.vocab_size, int) and config.vocab_size != len(vocab):
        problems.append(f"model_config gives vocab_size = {config.vocab_size}, but the 'vocab' attribute "
                        f"holds {len(vocab)} symbols")
    return problems


def names_problems(names: Sequence[str], n_layer: int) -> list[str]:
    """What in the ``names`` attribute contradicts the format, in plain words.

    Readers list a file's activations from it: a name that is not one, or names a layer the model
    lacks, or twice, would reach every reader (the dashboard's lists, the search's tables).
    """
    problems = []
    for name in dict.fromkeys(names):
        try:
            layer, _ = parse_name(name)
        except LstmvizError:
            problems.append(f"{name!r} in the 'names' attribute is not an activation name")
            continue
        if layer >= n_layer:
            problems.append(f"{name} names layer {layer}, but the model has {n_layer} layer(s)")
        if names.count(name) > 1:
            problems.append(f"{name} is listed {names.count(name)} times in the 'names' attribute")
    for layer in range(n_layer):
        for kind in ("h", "c"):
            if act_name(kind, layer) not in names:
                problems.append(f"{act_name(kind, layer)} is missing from the 'names' attribute")
        gates = [act_name("gates", layer, g) in names for g in GATES]
        if any(gates) and not all(gates):
            problems.append(f"layer {layer} stores only some of its gates; expected all of i, f, g, o")
    return problems


def impossible_predictions(key: str, values: np.ndarray, start: int, n_tokens: int) -> np.ndarray:
    """Which of ``values``, read from ``/predictions/<key>`` at positions from ``start``, cannot be.

    Probabilities lie in [0, 1] (up to rounding), losses are finite and not negative. Only at the
    text's last position, which no symbol follows, may ``p_next`` and the losses be NaN.
    """
    if key in ("top_probs", "p_next"):
        bad = ~((values >= 0) & (values <= 1 + SLACK))
    else:
        bad = ~(np.isfinite(values) & (values >= 0))
    if key != "top_probs" and len(values) and start + len(values) == n_tokens:
        bad[-1] &= not np.isnan(values[-1])
    return bad


def all_finite(block: np.ndarray) -> bool:
    """Whether a block of activations holds no NaN or infinity, without a temporary of floats.

    float16 (how h and the gates are stored) has no fast reductions in numpy: its bits are
    checked instead, a non-finite value being one whose exponent bits are all set.
    """
    if block.size == 0:
        return True
    if block.dtype == np.float16:
        return int(np.bitwise_and(np.ascontiguousarray(block).view(np.uint16), 0x7FFF).max()) < 0x7C00
    return bool(np.isfinite(block.min()) and np.isfinite(block.max()))


