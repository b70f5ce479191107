"""lstmviz's own checkpoint: one file that ``torch.load(weights_only=True)`` opens safely.

Layout: ``{"format": "lstmviz-checkpoint", "version": 1, "config": LSTMConfig dict,
"vocab": Vocab dict, "state_dict": CharLSTM state dict, "training": metadata dict}``.
Only plain Python values and tensors, so loading never runs code.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import torch

from lstmviz.errors import OptionError
from lstmviz.files import atomic_path
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab

FORMAT = "lstmviz-checkpoint"
VERSION = 1


def is_lstmviz_checkpoint(obj: Any) -> bool:
    """Whether a loaded object is lstmviz's own checkpoint dict."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def save_checkpoint(
    path: str | Path, model: CharLSTM, vocab: Vocab, training: dict[str, Any] | None = None
) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves half a checkpoint."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "vocab": vocab.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "training": dict(training or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(payload, path)


class DiskFull(OptionError):
    """No space was left for a file: the file at ``path`` is as it was before."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        super().__init__(f"no space left on the device while writing {path}; the file there is unchanged; "
                         "free some space or write elsewhere")


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file renamed into place; a full disk is one clear error.

    Torch writes through its own C++ stream when given a path, and reports a full disk as a
    ``RuntimeError`` ("iostream error", "unexpected pos") with no errno. Given a Python file, its
    writes raise the real ``OSError``, which the ``RuntimeError`` then carries as its context.

    Raises:
        DiskFull: the disk (or the user's quota) filled up; the file at ``path`` is unchanged.
    """
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(obj, f)
    except (OSError, RuntimeError) as e:
        cause: BaseException | None = e
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if cause is None or cause.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise DiskFull(path) from None


def model_from_checkpoint(obj: dict) -> tuple[CharLSTM, Vocab, dict[str, Any]]:
    """Rebuild model, vocabulary and training metadata from a loaded lstmviz checkpoint dict."""
    config = LSTMConfig(**obj["config"])
    model = CharLSTM(config)
    model.load_state_dict(obj["state_dict"])
    return model.eval(), Vocab.from_dict(obj["vocab"]), dict(obj.get("training", {}))
