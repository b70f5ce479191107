"""Unpickling whole models (``torch.save(model)``) even when their class can no longer be imported.

A pickled model refers to its class by module and name (``train.CharRNN``). The training script
is rarely importable where the model is inspected, so :func:`load_pickled` gives ``torch.load`` an
unpickler whose ``find_class`` hands back a permissive stand-in for anything that cannot be
imported. The stand-in keeps the state pickle gives it; for an ``nn.Module`` that state is the
module's ``__dict__``, with ``_parameters``, ``_buffers`` and ``_modules``, which is all
:func:`module_state_dict` needs to rebuild a state dict with the original attribute names.

Unpickling still runs whatever code the file names, so callers only use this with the user's
explicit ``--trust-pickle``. Even then, names from the modules torch's safe loader blocks (``os``,
``posix``, ``nt``, ``sys``, whose functions run commands and change the process) are refused: no
model needs them, and a file that names one is built to run something on load.
"""

from __future__ import annotations

import logging
import pickle
import types
from pathlib import Path
from typing import Any

import torch

from lstmviz.errors import CheckpointError

log = logging.getLogger(__name__)

BLOCKED_MODULES = ("os", "posix", "nt", "sys")  # as torch's weights-only unpickler blocks them


def blocked(name: str, path: str | Path) -> CheckpointError:
    """The error for a file that names ``module.name`` from a blocked module.

    >>> str(blocked("posix.system", "m.pt")).split(";")[0]
    'm.pt: names posix.system, from the module posix, which can run commands on this machine'
    """
    module = name.split(".")[0]
    return CheckpointError(
        f"{path}: names {name}, from the module {module}, which can run commands on this machine; no "
        "model needs it, so lstmviz does not load the file, even with --trust-pickle (if you made it, "
        "save model.state_dict() instead)")


class Missing:
    """Base of the stand-ins for classes (or functions) a pickle names but Python cannot import."""

    origin = ""  # "module.Name" the pickle asked for

    def __new__(cls, *args: Any, **kwargs: Any) -> Missing:
        """Accept whatever arguments pickle's NEWOBJ or REDUCE passes."""
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_args"] = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state, slots = state
            self.__dict__.update(slots or {})
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state

    def __repr__(self) -> str:
        return f"<missing {self.origin}>"


_STAND_INS: dict[tuple[str, str], type] = {}


def _stand_in(module: str, name: str) -> type:
    key = (module, name)
    if key not in _STAND_INS:
        log.info("class %s.%s cannot be imported; using a stand-in", module, name)
        _STAND_INS[key] = type(name, (Missing,), {"origin": f"{module}.{name}"})
    return _STAND_INS[key]


class _PermissiveUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that answers an import failure with a stand-in class.

    Anything from :data:`BLOCKED_MODULES` is refused; ``path`` names the file in that error.
    """

    path: str | Path = "the file"

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in BLOCKED_MODULES:
            raise blocked(f"{module}.{name}", self.path)
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _stand_in(module, name)


def load_pickled(path: str | Path) -> Any:
    """``torch.load`` with full unpickling, classes that cannot be imported replaced by stand-ins.

    Runs code named by the file: call only for files the user said they trust.

    Raises:
        CheckpointError: the file names something from :data:`BLOCKED_MODULES`.
    """
    unpickler = type("Unpickler", (_PermissiveUnpickler,), {"path": path})
    module = types.ModuleType("lstmviz_permissive_pickle")
    module.Unpickler = unpickler  # type: ignore[attr-defined]
    module.load = lambda f, **kwargs: unpickler(f, **kwargs).load()  # type: ignore[attr-defined]  # legacy headers
    with open(path, "rb") as f:  # a file, not a path: torch.load would pick its reader by the suffix
        return torch.load(f, map_location="cpu", weights_only=False, pickle_module=module)


def is_module_like(obj: Any) -> bool:
    """An ``nn.Module``, or a stand-in that was one (its state holds ``_parameters``, ``_modules``)."""
    if isinstance(obj, torch.nn.Module):
        return True
    state = getattr(obj, "__dict__", None)
    return (
        isinstance(state, dict)
        and isinstance(state.get("_parameters"), dict)
        and isinstance(state.get("_modules"), dict)
    )


def module_state_dict(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict of a (possibly stand-in) module, keyed as ``module.state_dict()`` would be.

    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3))
    >>> sorted(module_state_dict(net))
    ['0.bias', '0.weight']
    """
    state = obj.__dict__
    out: dict[str, torch.Tensor] = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, torch.Tensor) and name not in skip:
                out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is not None and is_module_like(child):
            out.update(module_state_dict(child, f"{prefix}{name}."))
    return out
