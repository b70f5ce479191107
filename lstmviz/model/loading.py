"""``load_model``: the one entry point every command uses to get a CharLSTM and its vocabulary.

Whatever script trained the model, the result is the same :class:`CharLSTM`, so extraction,
sampling and the dashboard never care where a checkpoint came from. The layouts it reads and how
each is recognised are described in ``docs/checkpoints.md`` and :mod:`lstmviz.model.importers`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lstmviz.errors import CheckpointError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import is_lstmviz_checkpoint, model_from_checkpoint
from lstmviz.model.importers import LSTMVIZ, SAFETENSORS, keras_files, opening, vocab_discovery
from lstmviz.model.importers.keras import keras_vocab, rebuild_keras
from lstmviz.model.importers.state_dicts import rebuild
from lstmviz.model.importers.wrapped import find_weights, ignored_entries, training_metadata
from lstmviz.model.vocab import Vocab
from lstmviz.textio import sha256_file

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model ready to run, with where it came from."""

    model: CharLSTM
    vocab: Vocab
    layout: str  # one of lstmviz.model.importers.LAYOUTS, e.g. "lstmviz", "state-dict", "pickled-model"
    path: Path
    sha256: str
    training: dict[str, Any] = field(default_factory=dict)
    vocab_source: str = ""  # in words, e.g. "checkpoint key 'chars'" or "file runs/vocab.json"
    parts: dict[str, str] = field(default_factory=dict)  # role -> module path in the checkpoint
    stack: str = ""  # LSTM layers held apart, in words ("2 LSTMCell layers"); "" for one nn.LSTM
    ignored: list[str] = field(default_factory=list)  # unused entries: "optimizer state 'opt'"
    notes: list[str] = field(default_factory=list)  # files beside the weights skipped, and why
    details: dict[str, str] = field(default_factory=dict)  # inspect label -> the importer's own words


def load_model(
    path: str | Path, *, vocab: str | Path | Vocab | None = None, trust_pickle: bool = False
) -> LoadedModel:
    """Load any supported checkpoint layout into a :class:`CharLSTM` with its vocabulary.

    Layouts: lstmviz's own checkpoint, a bare state dict (``.pt``/``.pth``/``.safetensors``) of
    any embedding/one-hot → LSTM → Linear module, a dict wrapping one with metadata, a whole
    pickled model (only with ``trust_pickle``), and Keras files (``.keras``, ``.h5``). The LSTM may
    be one ``nn.LSTM``, ``nn.LSTMCell`` layers, or a stack of one-layer ``nn.LSTM`` modules.

    Args:
        path: the checkpoint file.
        vocab: a vocabulary file overriding whatever the checkpoint holds: JSON (a list of
            symbols, ``{symbol: id}``, ...) or a text whose sorted unique characters form it; or
            a :class:`Vocab` (an extraction's own, when its model is loaded again).
        trust_pickle: allow unpickling whole models (runs code from the file).

    Raises:
        CheckpointError: the file is missing, not a checkpoint, not a char-LSTM, has NaN or infinite
            weights, or is pickled without ``trust_pickle``.
        UnsupportedModelError: a GRU, vanilla RNN, bidirectional LSTM or ``proj_size``, or a
            Keras layer CharLSTM has no part for.
        VocabError: no vocabulary, one whose size differs from the decoder's outputs, or two
            of the right size that disagree.

    >>> import tempfile, torch
    >>> from torch import nn
    >>> net = nn.ModuleDict({"emb": nn.Embedding(3, 4), "rnn": nn.LSTM(4, 5), "fc": nn.Linear(5, 3)})
    >>> p = Path(tempfile.mkdtemp()) / "net.pt"
    >>> torch.save({"state_dict": net.state_dict(), "chars": "abc"}, p)
    >>> loaded = load_model(p)
    >>> loaded.layout, loaded.vocab.symbols, loaded.model.config.n_hidden
    ('wrapped-state-dict', ('a', 'b', 'c'), 5)
    """
    loaded = _load(Path(path), vocab, trust_pickle)
    _check_finite(loaded)
    return loaded


def _check_finite(loaded: LoadedModel) -> None:
    """Refuse NaN or infinite weights (a diverged run): every activation after them would be NaN."""
    for name, tensor in loaded.model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(
                f"{loaded.path}: {bad:,} weight(s) of {name} are NaN or infinite (training diverged, or "
                "the file is damaged); use an earlier checkpoint"
            )


def _load(path: Path, vocab: str | Path | Vocab | None, trust_pickle: bool) -> LoadedModel:
    keras_layout = keras_files.keras_kind(path)
    if keras_layout is not None:
        return _load_keras(path, keras_layout, vocab)
    opened = opening.open_checkpoint(path, trust_pickle=trust_pickle)
    if opened.container == opening.TORCH and is_lstmviz_checkpoint(opened.obj):
        model, own_vocab, training = model_from_checkpoint(opened.obj)
        found = vocab_discovery.FoundVocab(own_vocab, "checkpoint")
        if vocab is not None:
            found = vocab_discovery.resolve(given=vocab, roots=[], weights=path, n_symbols=len(own_vocab))
        parts = {"lstm": "lstm", "decoder": "decoder"}
        if model.embed is not None:
            parts = {"lstm": "lstm", "embedding": "embed", "decoder": "decoder"}
        return LoadedModel(model, found.vocab, LSTMVIZ, path, sha256_file(path), training,
                           found.source, parts)

    weights = find_weights(opened.obj, str(path))
    rebuilt = rebuild(weights.tensors, str(path))
    n_symbols = rebuilt.model.config.vocab_size
    roots = [(opened.obj, "checkpoint")]
    if opened.metadata:
        roots.append((opened.metadata, "safetensors metadata"))
    found = vocab_discovery.resolve(given=vocab, roots=roots, weights=path, n_symbols=n_symbols)
    layout = SAFETENSORS if opened.container == opening.SAFETENSORS else weights.layout
    parts = {role: _prefixed(weights.key, p) for role, p in rebuilt.parts.items()}
    settings = opened.metadata if opened.container == opening.SAFETENSORS else opened.obj
    log.info("%s: %s layout, parts %s, vocabulary from %s", path, layout, parts, found.source)
    return LoadedModel(
        rebuilt.model, found.vocab, layout, path, sha256_file(path),
        training_metadata(settings, weights.key), found.source, parts, rebuilt.stack,
        ignored_entries(opened.obj, weights.key), list(found.notes),
    )  # fmt: skip


def _load_keras(path: Path, layout: str, vocab: str | Path | Vocab | None) -> LoadedModel:
    """A Keras file, read without Keras; its vocabulary is given or beside it, never inside."""
    rebuilt = rebuild_keras(keras_files.open_keras(path, layout), str(path))
    found = keras_vocab(vocab, path, rebuilt.model.config.vocab_size)
    log.info("%s: %s layout, parts %s, vocabulary from %s", path, layout, rebuilt.parts, found.source)
    return LoadedModel(rebuilt.model, found.vocab, layout, path, sha256_file(path), rebuilt.training,
                       found.source, rebuilt.parts, notes=list(found.notes), details=rebuilt.details)


def _prefixed(key: str, prefix: str) -> str:
    return ".".join(p for p in (key, prefix) if p)
