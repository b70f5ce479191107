"""Which torch device a command runs on (``auto`` means the GPU when there is one), and in what precision."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

from lstmviz.errors import OptionError


def resolve_device(name: str, *, supported: tuple[str, ...] | None = None) -> torch.device:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; anything else is checked.

    A device must be one this torch build has and sees now (``mps`` on a Linux wheel, or
    ``cuda:3`` on a one-GPU machine, fail here in one line rather than deep inside torch), and its
    type must be among ``supported`` when the command cannot run elsewhere.

    >>> resolve_device("cpu").type
    'cpu'
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OptionError(f"--device {name!r} is not a torch device; use auto, cpu or cuda") from None
    if supported is not None and device.type not in supported:
        raise OptionError(f"--device {name}: this command runs on {' or '.join(supported)} only; "
                          f"use --device auto")
    if device.type == "cpu":
        return device
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    if accelerator is None or accelerator.type != device.type:
        what = "CUDA GPU" if device.type == "cuda" else f"{device.type} device"
        raise OptionError(f"--device {name}: torch sees no {what} here; use --device cpu")
    count = torch.accelerator.device_count()
    if device.index is not None and device.index >= count:
        raise OptionError(f"--device {name}: torch sees {count} {device.type} device(s), numbered from 0; "
                          f"use --device {device.type}:0")
    return device


class _FullFloat32:
    """Keeps CUDA from doing float32 products in TF32 (a 10-bit mantissa) while any block runs.

    cuDNN's RNN kernels use TF32 by default on recent GPUs, which moves h by ~1e-3: far more than
    float16 storage does, and no longer the float32 ``nn.LSTM`` of the CPU; TF32 sums in the search
    would blur its statistics likewise. Extraction and search promise float32, so TF32 is off while
    any thread is inside, and the user's settings come back when the last one leaves (extraction runs
    blocks in two threads at once, see :mod:`lstmviz.extraction.two_stage`).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._inside = 0
        self._saved = (False, False)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        backends = torch.backends
        with self._lock:
            if self._inside == 0:
                self._saved = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
                backends.cuda.matmul.allow_tf32 = backends.cudnn.allow_tf32 = False
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = self._saved


full_float32 = _FullFloat32()
