"""Finding the weights, and the training metadata, inside whatever object a checkpoint file holds.

Scripts save a bare state dict, a dict wrapping one with metadata (``{"state_dict": ...,
"chars": ..., "epoch": 3}``), a whole model, or a dict holding a whole model. The object is
searched breadth-first, likely keys first, so the shallowest weights win.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from lstmviz.errors import CheckpointError
from lstmviz.model.importers import PICKLED, STATE_DICT, WRAPPED
from lstmviz.model.importers.containers import children, walk
from lstmviz.model.importers.pickles import is_module_like, module_state_dict
from lstmviz.model.importers.vocab_forms import is_byte_flag, is_vocab_key

WEIGHT_KEYS = (
    "state_dict", "model_state_dict", "model_state", "model", "net", "network", "module",
    "weights", "params", "parameters", "state",
)  # fmt: skip
_RECURRENT_LEAF = re.compile(r"(^|\.)weight_hh(_l0)?$")
_MAX_STR = 200
_MAX_NESTED = 64


@dataclass(frozen=True)
class Weights:
    """The tensors of the model found in a checkpoint object, and how they were held."""

    tensors: dict[str, torch.Tensor]
    layout: str  # STATE_DICT, WRAPPED or PICKLED
    key: str  # where in the object, "" for the top level, e.g. "state_dict" or "model"


def _tensor_entries(obj: Any) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        return {}
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def _has_recurrent(tensors: Mapping[str, torch.Tensor]) -> bool:
    return any(_RECURRENT_LEAF.search(k) for k in tensors)


def describe(obj: Any) -> str:
    """A few words on what an object is, for error messages.

    >>> describe({"a": "x", "b": "y"})
    "a dict with keys 'a', 'b'"
    """
    if isinstance(obj, Mapping):
        keys = ", ".join(repr(str(k)) for k in list(obj)[:6])
        return f"a dict with keys {keys}{', …' if len(obj) > 6 else ''}" if obj else "an empty dict"
    if isinstance(obj, torch.Tensor):
        return f"a single tensor of shape {tuple(obj.shape)}"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"


def find_weights(obj: Any, where: str) -> Weights:
    """The model's tensors in a loaded checkpoint object.

    A mapping with an LSTM's ``weight_hh_l0`` wins over one without, so an optimizer state or an
    auxiliary network saved beside the model is not mistaken for it.

    Raises:
        CheckpointError: nothing in the object holds named tensors.

    >>> w = find_weights({"epoch": 1, "state_dict": {"rnn.weight_hh_l0": torch.zeros(8, 2)}}, "m.pt")
    >>> w.layout, w.key
    ('wrapped-state-dict', 'state_dict')
    """
    root_tensors = _tensor_entries(obj)
    if root_tensors and len(root_tensors) == len(obj):
        return Weights(root_tensors, STATE_DICT, "")
    first: Weights | None = None
    for key, node in walk(obj, first=WEIGHT_KEYS, descend=lambda n: not is_module_like(n)):
        if is_module_like(node):
            found = Weights(module_state_dict(node), PICKLED, key)
        else:
            found = Weights(_tensor_entries(node), WRAPPED, key)
        if found.tensors and _has_recurrent(found.tensors):
            return found
        if found.tensors and first is None:
            first = found
    if first is not None:
        return first
    raise CheckpointError(
        f"{where}: not a char-LSTM checkpoint: it holds {describe(obj)} and no model weights; "
        "expected a state dict, or a dict holding one under a key like 'state_dict' or 'model'"
    )


def training_metadata(obj: Any, weights_key: str) -> dict[str, Any]:
    """Plain scalar settings saved beside the weights (epoch, loss, args.lr …), flattened.

    Kept with the model so extraction files record how it was trained. Vocabularies, optimizer
    and scheduler states, and large nested containers are left out: they are not settings.

    >>> training_metadata({"epoch": 3, "args": {"lr": 0.1}, "state_dict": {}}, "state_dict")
    {'epoch': 3, 'args.lr': 0.1}
    """
    if isinstance(obj, (list, tuple, torch.Tensor)) or is_module_like(obj):
        return {}
    out: dict[str, Any] = {}
    for key, value in children(obj, WEIGHT_KEYS):
        if key == weights_key or is_vocab_key(key) or _unused_kind(value):
            continue
        if _is_scalar(value):
            out[key] = value
        elif not isinstance(value, (list, tuple, torch.Tensor, str, bytes)):
            nested = list(children(value))
            if len(nested) <= _MAX_NESTED:
                out.update(
                    (f"{key}.{sub}", leaf)
                    for sub, leaf in nested
                    if _is_scalar(leaf) and not is_vocab_key(sub)
                )
    return out


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= _MAX_STR
    return isinstance(value, (bool, int, float))


def ignored_entries(obj: Any, weights_key: str) -> list[str]:
    """What a wrapped checkpoint holds beside the model and loading leaves out, in words.

    Shown by ``inspect`` so a user sees nothing was overlooked. Settings are not listed (they are
    kept as training metadata), nor are vocabularies.

    >>> opt = {"state": {}, "param_groups": [{"lr": 0.1}]}
    >>> ignored_entries({"state_dict": {}, "optimizer": opt, "epoch": 3}, "state_dict")
    ["optimizer state 'optimizer'"]
    """
    if not weights_key or isinstance(obj, (list, tuple)) or is_module_like(obj):
        return []
    top = weights_key.split(".", 1)[0]
    out = []
    for key, value in children(obj, WEIGHT_KEYS):
        if key == top or is_vocab_key(key) or is_byte_flag(key):
            continue
        what = _unused_kind(value)
        if what:
            out.append(f"{what} '{key}'")
    return out


def _unused_kind(value: Any) -> str | None:
    """'optimizer state', 'scheduler state', 'other weights', 'other data'; None for settings."""
    if isinstance(value, Mapping):
        if "param_groups" in value and "state" in value:
            return "optimizer state"
        if "last_epoch" in value or "base_lrs" in value:
            return "scheduler state"
        if _tensor_entries(value):
            return "other weights"
    if is_module_like(value):
        return "another model"
    if _is_scalar(value):
        return None
    if not isinstance(value, (list, tuple, torch.Tensor, str, bytes)):
        if any(_is_scalar(leaf) for _, leaf in children(value)):
            return None  # settings (an argparse.Namespace, a config dict): training metadata
    return "other data"
