"""Opening a checkpoint file: ``torch.save`` output (without running code), safetensors, or a pickle.

``torch.load(weights_only=True)`` opens state dicts and plain dicts of tensors, numbers and
strings without running code. A file that names other classes (a whole model, custom metadata
objects) needs full unpickling, which runs code from the file; that only happens with the user's
explicit ``trust_pickle``. ``argparse.Namespace``, the usual home of a script's settings, is safe
to rebuild and is allowed without it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import torch
from safetensors import safe_open

from lstmviz.errors import CheckpointError
from lstmviz.files import kind_of
from lstmviz.model.importers.pickles import BLOCKED_MODULES, blocked, load_pickled
from lstmviz.store.spec import FORMAT, text_attr

TORCH = "torch"
SAFETENSORS = "safetensors"
PICKLE = "pickle"

_SAFE_GLOBALS = [argparse.Namespace]
_SAFE_NAMES = {f"{c.__module__}.{c.__qualname__}" for c in _SAFE_GLOBALS}
# "Unsupported global: GLOBAL train.CharRNN …"; "… unsupported GLOBAL posix.system whose module … is blocked"
_UNSUPPORTED_GLOBAL = re.compile(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)")


@dataclass(frozen=True)
class Opened:
    """What a checkpoint file holds, and how it was read."""

    obj: Any  # the loaded object; for safetensors, the dict of tensors
    container: str  # TORCH, SAFETENSORS or PICKLE
    metadata: dict[str, Any] = field(default_factory=dict)  # safetensors header, JSON decoded


def _looks_safetensors(path: Path) -> bool:
    """The format's header (an 8-byte little-endian length, then a JSON object), or the suffix.

    Content decides first: a ``torch.save`` file renamed ``.safetensors`` (a zip archive, or a bare
    pickle) is read as what it is.
    """
    with open(path, "rb") as f:
        head = f.read(9)
    size = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if head[8:9] == b"{" and 0 < size <= path.stat().st_size - 8:
        return True
    return path.suffix.lower() == ".safetensors" and kind_of(head) not in ("zip", "pickle")


def _decode(value: str) -> Any:
    """Metadata values are text; lists, objects and flags saved in them are JSON."""
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, (list, dict, bool)) else value


def _open_safetensors(path: Path) -> Opened:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = {k: _decode(v) for k, v in (f.metadata() or {}).items()}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged headers
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"{path}: not a valid safetensors file ({reason}); "
            "write it with safetensors.torch.save_file"
        ) from None
    return Opened(tensors, SAFETENSORS, metadata)


def _not_torch(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path}: not a PyTorch checkpoint ({_why_not_torch(path)}); "
        "give a .pt/.pth file written by torch.save, or a .safetensors file"
    )


def _why_not_torch(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4096)
    kind = kind_of(head)
    if kind == "empty":
        return "the file is empty"
    if kind == "hdf5":
        return "it is an HDF5 file, such as an extraction: look inside one with `lstmviz info`"
    if kind == "zip":
        return "a zip archive torch.save did not write, or a damaged or truncated one"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the block's end
            return "not written by torch.save"
    return "it is a text file" if b"\0" not in head else "not written by torch.save"


def _classes_needed(path: Path, error: Exception) -> list[str]:
    """Classes a file names that weights-only loading refuses; empty if it failed otherwise."""
    if zipfile.is_zipfile(path):
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except (ValueError, RuntimeError, pickle.UnpicklingError):
            names = []
        names = [n for n in names if n not in _SAFE_NAMES]
        return sorted(names, key=lambda n: (n.startswith("torch."), n))  # the script's own first
    text = f"{error} {error.__context__ or ''}"
    return _UNSUPPORTED_GLOBAL.findall(text)[:1]


def _open_torch(path: Path, trust_pickle: bool) -> Opened:
    try:  # from an open file: given a path, torch.load picks its reader by the suffix
        with torch.serialization.safe_globals(_SAFE_GLOBALS), open(path, "rb") as f, \
                warnings.catch_warnings():
            # torch warns of a pickle protocol its safe reader may not know, then reads or refuses
            # the file anyway: the refusal is explained in one line below, the warning would precede it
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return Opened(torch.load(f, map_location="cpu", weights_only=True), TORCH)
    except pickle.UnpicklingError as e:
        needed = _classes_needed(path, e)
        if not needed:
            raise _not_torch(path) from None
    except Exception:  # torch raises many error types for a file that is not a checkpoint
        raise _not_torch(path) from None
    for name in needed:
        if name.split(".")[0] in BLOCKED_MODULES:
            raise blocked(name, path)
    if not trust_pickle:
        shown = ", ".join(needed[:3]) + (", …" if len(needed) > 3 else "")
        raise CheckpointError(
            f"{path}: holds pickled Python classes ({shown}); unpickling runs code from the file, "
            "so pass --trust-pickle to load it, and only for a file you trust"
        )
    try:
        return Opened(load_pickled(path), PICKLE)
    except CheckpointError:
        raise
    except Exception as e:  # unpickling foreign objects can fail in any of their own methods
        reason = (str(e).splitlines() or [""])[0]
        raise CheckpointError(
            f"{path}: could not unpickle it ({type(e).__name__}: {reason}); save the model's "
            "state_dict() instead: torch.save(model.state_dict(), path)"
        ) from None


def _extraction_error(path: Path) -> CheckpointError | None:
    """The error for an lstmviz extraction given where a model belongs; None for any other file."""
    with open(path, "rb") as f:
        if kind_of(f.read(8)) != "hdf5":
            return None
    try:
        with h5py.File(path, "r") as f:
            if text_attr(f.attrs, "encoding-type") != FORMAT:
                return None
            model = text_attr(f.attrs, "model_path", "")
    except OSError:  # unreadable: said by the generic message
        return None
    origin = f" ({model})" if model else ""
    return CheckpointError(
        f"{path}: an lstmviz extraction, not a model; look inside it with `lstmviz info {path}` or "
        f"`lstmviz serve {path}`, or give the model it was extracted from{origin}"
    )


def open_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> Opened:
    """Read a checkpoint file, refusing to run code from it unless ``trust_pickle``.

    Raises:
        CheckpointError: missing, a folder, not a checkpoint, damaged, or pickled classes
            without ``trust_pickle``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; give the checkpoint file inside it")
    extraction = _extraction_error(path)
    if extraction is not None:
        raise extraction
    if _looks_safetensors(path):
        return _open_safetensors(path)
    return _open_torch(path, trust_pickle)
