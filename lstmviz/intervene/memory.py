"""Memory horizons of an extraction file: measured by replaying its model, and added to its summaries.

``lstmviz extract --gates`` measures the horizons in its own pass; a file extracted without gates
(or before format 1.3) gets them here, from the model run again over the whole text
(:func:`measure_horizons`, one pass like the extraction's), then stored by :func:`store_horizons`.

Storing changes a finished file, which may be large and which other processes may be reading. It is
done as every lstmviz output is written: a copy of the file gets the new summaries, and the copy
then replaces the file in one rename. An interruption at any moment (Ctrl-C, ``kill -9``, a full
disk) leaves the file as it was, a reader that has it open goes on reading the old one, and no HDF5
lock is needed. The price is room for one copy beside the file, checked before it is made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np

from lstmviz.errors import StoreError
from lstmviz.files import atomic_path, final_target, human_size
from lstmviz.intervene.horizon import DEFAULT_WINDOW, Horizons
from lstmviz.intervene.replay import replay, replay_device
from lstmviz.model.loading import LoadedModel
from lstmviz.model.runner import UnrolledLSTM
from lstmviz.names import act_name, h5_path
from lstmviz.search.cache import file_identity
from lstmviz.store.reader import States
from lstmviz.store.spec import HORIZON_KEYS, SUMMARY_ROOT


def measure_horizons(states: States, loaded: LoadedModel, *, window: int = DEFAULT_WINDOW,
                     device: str = "auto", progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """The ``horizon_*`` summaries of every layer's c, by one replay of the model over the text.

    Args:
        states: the extraction.
        loaded: its model (:func:`~lstmviz.intervene.model_source.model_for`).
        window: the look-back limit W: horizons further back count as W + 1.
        device: where to run: ``auto`` (the kind of device the extraction ran on, when there is
            one), ``cpu`` or ``cuda``.
        progress: a progress bar on stderr.

    Returns:
        ``{"layer0.c": {"horizon_median": (H,), ...}, ...}``.
    """
    run = UnrolledLSTM(loaded.model, replay_device(states, device))
    layers = [Horizons(states.n_hidden, window, device=run.device) for _ in range(states.n_layer)]
    for block in replay(states, run, progress=progress):
        for horizons, gates in zip(layers, block.gates, strict=True):
            horizons.update(*gates)
    return {act_name(layer, "c"): horizons.result() for layer, horizons in enumerate(layers)}


def store_horizons(path: str | Path, horizons: dict[str, dict[str, np.ndarray]],
                   identity: dict[str, int] | None = None) -> Path:
    """Add (or replace) the ``horizon_*`` summaries of c activations in an extraction file.

    A copy with them replaces the file (see the module docstring).

    Args:
        path: the extraction file.
        horizons: what :func:`measure_horizons` returns.
        identity: the file's :func:`~lstmviz.search.cache.file_identity` when the horizons were
            measured; a file changed since then (extracted again) is refused.

    Raises:
        StoreError: the file changed since, or there is no room for the copy.
    """
    path = final_target(path)
    if identity is not None and file_identity(path) != identity:
        raise StoreError(f"{path} changed while its horizons were measured; run `lstmviz profile "
                         f"{path.name} --horizon` again")
    size, free = path.stat().st_size, shutil.disk_usage(path.parent).free
    if free < size:
        raise StoreError(f"{path}: adding the horizons writes a copy of the file beside it, which needs "
                         f"{human_size(size)}, but {human_size(free)} are free; free some space, then run "
                         "again")
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            for name, arrays in horizons.items():
                group = f.require_group(SUMMARY_ROOT + h5_path(name))
                for key in HORIZON_KEYS:
                    if key in group:
                        del group[key]
                    group.create_dataset(key, data=arrays[key])
    return path
