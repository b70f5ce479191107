"""Which torch device a command runs on: ``auto`` means the GPU when there is one."""

from __future__ import annotations

import torch

from lstmviz.errors import OptionError


def resolve_device(name: str) -> torch.device:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; anything else is checked.

    >>> resolve_device("cpu").type
    'cpu'
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OptionError(f"--device {name!r} is not a torch device; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"--device {name}: torch sees no CUDA GPU here; use --device cpu")
    return device
