"""``load_model``: the one entry point every command uses to get a CharLSTM and its vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lstmviz.checkpoint import is_lstmviz_checkpoint, model_from_checkpoint
from lstmviz.errors import CheckpointError
from lstmviz.model import CharLSTM
from lstmviz.textio import sha256_file
from lstmviz.vocab import Vocab


@dataclass
class LoadedModel:
    """A model ready to run, with where it came from."""

    model: CharLSTM
    vocab: Vocab
    layout: str  # which checkpoint layout was detected, e.g. "lstmviz", "state-dict"
    path: Path
    sha256: str
    training: dict[str, Any] = field(default_factory=dict)


def load_model(
    path: str | Path, *, vocab: str | Path | None = None, trust_pickle: bool = False
) -> LoadedModel:
    """Load any supported checkpoint layout into a :class:`CharLSTM`.

    Args:
        path: the checkpoint file.
        vocab: a vocabulary file overriding whatever the checkpoint holds.
        trust_pickle: allow unpickling whole models (runs code from the file).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file; check the path")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}); "
                              "give a .pt/.pth file written by torch.save") from None
    if not is_lstmviz_checkpoint(obj):
        raise CheckpointError(f"{path}: not an lstmviz checkpoint")
    model, voc, training = model_from_checkpoint(obj)
    return LoadedModel(model, voc, "lstmviz", path, sha256_file(path), training)
