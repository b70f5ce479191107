"""Snapshots of a training run: when to take them, writing them, and finding them again.

``lstmviz train --snapshots N`` keeps N checkpoints spread logarithmically over the run (plus the
best, and the last when the run stops early), so the early steps, where a model changes fastest,
are seen as finely as the late ones. Each snapshot is an ordinary lstmviz checkpoint
(:func:`~lstmviz.model.checkpoint.save_checkpoint`) in ``<output stem>.snapshots/step-NNNNNN.pt``,
loadable by every command; its ``training`` metadata holds, besides what the output checkpoint
holds, a ``snapshot`` entry: the step, the training and validation loss there, and a short sample
at a fixed temperature, prime and seed, so samples of different steps differ only by the weights.

:func:`find_snapshots` turns a run (a snapshots folder, or checkpoints named one by one, possibly
from another trainer) into the checkpoints ``lstmviz evolve`` reads, and :func:`snapshot_info`
reads what a checkpoint says of its step, losses and sample.

References: the evolving samples of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural
Networks" (2015), section "The evolution of samples while training".
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lstmviz.errors import CheckpointError, OptionError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.loading import LoadedModel, load_model
from lstmviz.model.sample import sample
from lstmviz.model.vocab import Vocab

log = logging.getLogger(__name__)

FOLDER_SUFFIX = ".snapshots"
SAMPLE_CHARS = 200  # symbols in each snapshot's sample
SAMPLE_TEMPERATURE = 0.5
SAMPLE_PRIME = ""  # none: the sample starts as if at the beginning of a line
SAMPLE_SEED = 0
FIRST_SHARE = 0.01  # the first scheduled snapshot comes after this share of the run
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".keras", ".h5")
STEP_KEYS = ("steps", "step", "global_step", "iteration", "iter")  # where other trainers keep the step
_NAME = re.compile(r"^step-(\d+)\.pt$")


def snapshot_steps(total: int, count: int) -> list[int]:
    """``count`` distinct steps in [1, ``total``], spread logarithmically from 1 % of the run to its end.

    Equal ratios between neighbours: a model changes most in its first steps, and a schedule even
    in steps would spend most snapshots where little happens. With fewer steps than ``count``,
    every step.

    >>> snapshot_steps(3000, 10)
    [30, 50, 83, 139, 232, 387, 646, 1078, 1798, 3000]
    >>> snapshot_steps(5, 10)
    [1, 2, 3, 4, 5]
    """
    if count < 1 or total < 1:
        return []
    if total <= count:
        return list(range(1, total + 1))
    first = max(1, round(total * FIRST_SHARE))
    ratio = (total / first) ** (1 / (count - 1)) if count > 1 else 1.0
    steps = [round(first * ratio**k) for k in range(count)]
    steps[-1] = total
    for k in range(1, count):  # rounding may repeat a step early on: keep them apart
        steps[k] = max(steps[k], steps[k - 1] + 1)
    for k in range(count - 2, -1, -1):
        steps[k] = min(steps[k], steps[k + 1] - 1)
    return steps


def snapshot_folder(output: str | Path) -> Path:
    """Where the snapshots of a run writing ``output`` go: ``<output stem>.snapshots/`` beside it.

    >>> snapshot_folder("runs/austen.pt").as_posix()
    'runs/austen.snapshots'
    """
    output = Path(output)
    return output.with_name(output.stem + FOLDER_SUFFIX)


def snapshot_path(folder: str | Path, step: int) -> Path:
    """The file of the snapshot at ``step``: ``step-000100.pt``.

    >>> snapshot_path("m.snapshots", 100).name
    'step-000100.pt'
    """
    return Path(folder) / f"step-{step:06d}.pt"


def taken_steps(folder: str | Path) -> list[int]:
    """The steps of the snapshots already in ``folder``, in order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(int(m[1]) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def prepare_folder(output: Path, *, resuming: bool) -> Path:
    """The snapshot folder of ``output``, checked: a fresh run never mixes with an earlier run's snapshots.

    Raises:
        OptionError: a fresh run whose folder already holds snapshots, or a file in its place.
    """
    folder = snapshot_folder(output)
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"{folder} is a file; the snapshots of {output.name} go in a folder of that "
                          "name: move the file away or choose another -o")
    old = taken_steps(folder)
    if old and not resuming:
        raise OptionError(f"{folder} already holds {len(old)} snapshot(s) of an earlier run; remove the "
                          f"folder, continue that run with --resume {output}, or choose another -o")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@torch.no_grad()
def snapshot_sample(model: CharLSTM, vocab: Vocab, device: torch.device | str = "cpu") -> str:
    """The sample every snapshot carries: fixed length, temperature, prime and seed.

    The model's training or eval mode is left as it was.
    """
    was_training = model.training
    try:
        return sample(model, vocab, SAMPLE_CHARS, temperature=SAMPLE_TEMPERATURE, prime=SAMPLE_PRIME,
                      seed=SAMPLE_SEED, device=device)
    finally:
        model.train(was_training)


def write_snapshot(folder: Path, step: int, model: CharLSTM, vocab: Vocab, training: dict[str, Any], *,
                   train_bpc: float | None, val_bpc: float, device: torch.device | str = "cpu") -> Path:
    """Save the weights of ``step`` as a snapshot: ``training`` plus its ``snapshot`` entry."""
    entry = {"step": step, "train_bpc": train_bpc, "val_bpc": round(val_bpc, 4),
             "sample": snapshot_sample(model, vocab, device), "sample_temperature": SAMPLE_TEMPERATURE,
             "sample_prime": SAMPLE_PRIME, "sample_seed": SAMPLE_SEED}
    path = snapshot_path(folder, step)
    save_checkpoint(path, model, vocab, training | {"snapshot": entry})
    return path


def snapshot_best(folder: Path, output: Path) -> Path | None:
    """Add the best checkpoint (``output``) to the snapshots unless its step already has one.

    Returns the new snapshot's path, or None when there was nothing to add.
    """
    loaded = load_model(output)
    info = loaded.training
    step = int(info.get("best_step", info.get("steps", 0)))
    if step < 1 or step in taken_steps(folder):
        return None
    return write_snapshot(folder, step, loaded.model, loaded.vocab, info, train_bpc=info.get("train_bpc"),
                          val_bpc=float(info.get("best_val_bpc", math.nan)))


def finish(folder: Path, output: Path, step: int, model: CharLSTM, vocab: Vocab, info: dict[str, Any],
           val_bpc: float, device: torch.device | str = "cpu") -> list[Path]:
    """The snapshots a run adds as it ends: its last step (when stopped early) and its best.

    Args:
        folder: the run's snapshot folder.
        output: the run's output checkpoint, which holds the best weights.
        step: the last step.
        model: the weights of the last step.
        vocab: the model's vocabulary.
        info: the training metadata of the last step.
        val_bpc: its validation loss.
        device: where the model is.
    """
    added = []
    if step not in taken_steps(folder):
        added.append(write_snapshot(folder, step, model, vocab, info, train_bpc=info.get("train_bpc"),
                                    val_bpc=val_bpc, device=device))
    best = snapshot_best(folder, output)
    return [*added, best] if best is not None else added


@dataclass(frozen=True)
class SnapshotInfo:
    """What a checkpoint says of when it was taken; unknowns are None (checkpoints of other trainers).

    Attributes:
        step: the optimizer step of its weights.
        train_bpc: smoothed training loss there, in bits per symbol.
        val_bpc: validation loss there, in bits per symbol.
        sample: the snapshot's sample (:func:`snapshot_sample`), when it was saved with one.
    """

    step: int | None
    train_bpc: float | None
    val_bpc: float | None
    sample: str | None


def snapshot_info(loaded: LoadedModel) -> SnapshotInfo:
    """Step, losses and sample of a loaded checkpoint, from a snapshot's entry or plain training metadata.

    >>> snapshot_info(LoadedModel(None, None, "", Path("m.pt"), "", {"iter": 300})).step
    300
    """
    info = loaded.training
    snap = info.get("snapshot")
    if isinstance(snap, dict):
        return SnapshotInfo(int(snap["step"]), _number(snap.get("train_bpc")), _number(snap.get("val_bpc")),
                            str(snap.get("sample", "")) or None)
    step = next((info[k] for k in STEP_KEYS
                 if isinstance(info.get(k), int) and not isinstance(info[k], bool)), None)
    # lstmviz's output checkpoint holds the weights of its best step, whose loss is best_val_bpc
    val = info.get("best_val_bpc") if info.get("best_step", step) == step else None
    return SnapshotInfo(step, _number(info.get("train_bpc")), _number(val), None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def find_snapshots(run: str | Path | Sequence[str | Path]) -> list[Path]:
    """The checkpoints of a run: a folder's (``step-*.pt`` by step, else every checkpoint by name) or a list.

    Raises:
        CheckpointError: a path that does not exist, or a folder with no checkpoint.
        OptionError: fewer than two checkpoints: there is nothing to follow over training.
    """
    paths = [Path(run)] if isinstance(run, (str, Path)) else [Path(p) for p in run]
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CheckpointError(f"{path}: no such file or folder; give a snapshots folder "
                                  "(`lstmviz train --snapshots N`) or checkpoint files")
        found += _in_folder(path) if path.is_dir() else [path]
    if len(found) < 2:
        what = f"{paths[0]} holds" if len(paths) == 1 and paths[0].is_dir() else "the run has"
        named = f" ({found[0].name})" if found else ""
        raise OptionError(f"{what} {len(found)} checkpoint(s){named}; following cells over training "
                          "needs two or more: train with `lstmviz train --snapshots 10`, or name several "
                          "checkpoints")
    return found


def _in_folder(folder: Path) -> list[Path]:
    steps = taken_steps(folder)
    if steps:
        return [snapshot_path(folder, s) for s in steps]
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in CHECKPOINT_SUFFIXES]
    return sorted(files, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])
