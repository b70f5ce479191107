"""The evolution file: one HDF5 file per run and text, written atomically, read back into dataclasses.

Layout (``docs/evolution.md`` is the MUST/MAY spec). S snapshots, Y hypotheses, A activations,
L layers, U units; strings are UTF-8 variable-length.

Root attributes: ``encoding-type`` = ``lstmviz-evolution``, ``encoding-version`` (MAJOR.MINOR),
``text_path``, ``text_sha256``, ``n_chars``, ``kind``, ``margin``, ``notes`` (a JSON list),
``lstmviz_version``, ``created``.

========================= ============ ===========================================================
``/snapshots/<field>``    [S]          path, step (-1 unknown), train_bpc, val_bpc (NaN unknown),
                                       sample, n_layer, n_hidden, vocab_size, n_positions, sha256
``/hypotheses/<field>``   [Y]          name, description, measure
``/best/<field>``         [S, Y]       the best unit at each snapshot: neuron ("" none), score,
                                       baseline, margin, direction
``/lineage/<field>``      [S, Y]       the final best unit followed back: the same fields
``/scores``               [S, Y, A, U] float32 every unit's score (NaN padding)
``/activations``          [A]          names along A of ``/scores``: layer{L}.h, layer{L}.c
``/identity``             [S, L, U]    int32 the unit each final unit was at each snapshot (-1 none)
``/matching/partner``     [S-1, L, U]  int32 the unit of snapshot k+1 matched to unit u of snapshot k
``/matching/correlation`` [S-1, L, U]  float32 the signed correlation of that pair
``/matching/cka``         [S-1, L]     float32 linear CKA of each layer between snapshots k and k+1
========================= ============ ===========================================================
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from lstmviz import __version__
from lstmviz.errors import SchemaVersionError, StoreError
from lstmviz.evolution.records import Cell, Evolution, HypothesisTimeline, Snapshot
from lstmviz.files import atomic_path, kind_of

FORMAT = "lstmviz-evolution"
VERSION = "1.0"
_TEXT = h5py.string_dtype()
_CELL_FIELDS = ("neuron", "score", "baseline", "margin", "direction")


def write_evolution(path: str | Path, evolution: Evolution) -> Path:
    """Write ``evolution`` to ``path``: a temporary file renamed into place, so never half a file."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update({
            "encoding-type": FORMAT, "encoding-version": VERSION, "text_path": evolution.text_path,
            "text_sha256": evolution.text_sha256, "n_chars": evolution.n_chars, "kind": evolution.kind,
            "margin": evolution.margin, "notes": json.dumps(evolution.notes), "lstmviz_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        snaps = evolution.snapshots
        group = f.create_group("snapshots")
        group["path"] = _strings([s.path for s in snaps])
        group["step"] = np.array([-1 if s.step is None else s.step for s in snaps], np.int64)
        group["train_bpc"] = _floats([s.train_bpc for s in snaps])
        group["val_bpc"] = _floats([s.val_bpc for s in snaps])
        group["sample"] = _strings([s.sample for s in snaps])
        for key in ("n_layer", "n_hidden", "vocab_size", "n_positions"):
            group[key] = np.array([getattr(s, key) for s in snaps], np.int64)
        group["sha256"] = _strings([s.sha256 for s in snaps])
        timelines = list(evolution.hypotheses.values())
        group = f.create_group("hypotheses")
        group["name"] = _strings([t.name for t in timelines])
        group["description"] = _strings([t.description for t in timelines])
        group["measure"] = _strings([t.measure for t in timelines])
        for which in ("best", "lineage"):
            _write_cells(f.create_group(which), [getattr(t, which) for t in timelines], len(snaps))
        f.create_dataset("scores", data=evolution.scores.astype(np.float32), compression="gzip")
        f["activations"] = _strings(evolution.activations)
        f["identity"] = evolution.identity.astype(np.int32)
        group = f.create_group("matching")
        group["partner"] = evolution.partner.astype(np.int32)
        group["correlation"] = evolution.correlation.astype(np.float32)
        group["cka"] = evolution.cka.astype(np.float32)
    return path


def read_evolution(path: str | Path) -> Evolution:
    """Read an evolution file (``lstmviz evolve``) back into an :class:`Evolution`.

    Raises:
        StoreError: the file is missing, not HDF5, not an evolution file, or damaged.
        SchemaVersionError: a major format version this lstmviz cannot read.

    >>> # ev = read_evolution("evolution.h5"); ev.hypotheses["quote"].emergence().cleared
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such file; write one with `lstmviz evolve RUN TEXT -o {path.name}`")
    try:
        f = h5py.File(path, "r")
    except OSError:
        with open(path, "rb") as raw:
            kind = kind_of(raw.read(8))
        what = {"hdf5": "a damaged HDF5 file", "zip": "a PyTorch checkpoint",
                "pickle": "a PyTorch checkpoint", "empty": "an empty file"}.get(kind, "not HDF5")
        raise StoreError(f"{path}: not an lstmviz evolution file ({what}); write one with `lstmviz evolve`"
                         ) from None
    with f:
        _check_header(f, path)
        try:
            return _read(f, path)
        except (KeyError, TypeError, ValueError, OSError) as e:
            raise StoreError(f"{path}: the evolution file is damaged ({type(e).__name__}: {e}); "
                             "write it again with `lstmviz evolve`") from None


def _check_header(f: h5py.File, path: Path) -> None:
    kind = f.attrs.get("encoding-type")
    version = str(f.attrs.get("encoding-version", "0"))
    if kind != FORMAT:
        found = f" (it is {kind!r})" if kind else ""
        raise StoreError(f"{path}: not an lstmviz evolution file{found}; write one with `lstmviz evolve`")
    if version.split(".")[0] != VERSION.split(".")[0]:
        raise SchemaVersionError(f"{path}: evolution format {version} is not readable by this lstmviz (reads "
                                 f"{VERSION.split('.')[0]}.x); run `lstmviz evolve` again or upgrade lstmviz")


def _read(f: h5py.File, path: Path) -> Evolution:
    g = f["snapshots"]
    steps, train, val = g["step"][()], g["train_bpc"][()], g["val_bpc"][()]
    paths, samples, hashes = (_read_strings(g[k]) for k in ("path", "sample", "sha256"))
    sizes = {k: g[k][()] for k in ("n_layer", "n_hidden", "vocab_size", "n_positions")}
    snaps = [Snapshot(paths[k], None if steps[k] < 0 else int(steps[k]), _optional(train[k]),
                      _optional(val[k]), samples[k], *(int(sizes[key][k]) for key in sizes), hashes[k])
             for k in range(len(paths))]
    h = f["hypotheses"]
    names, descriptions, measures = (_read_strings(h[k]) for k in ("name", "description", "measure"))
    best, lineage = _read_cells(f["best"]), _read_cells(f["lineage"])
    hypotheses = {name: HypothesisTimeline(name, descriptions[y], measures[y], best[y], lineage[y])
                  for y, name in enumerate(names)}
    m = f["matching"]
    return Evolution(snaps, hypotheses, _read_strings(f["activations"]), f["scores"][()], f["identity"][()],
                     m["partner"][()], m["correlation"][()], m["cka"][()], str(f.attrs["text_path"]),
                     str(f.attrs["text_sha256"]), int(f.attrs["n_chars"]), str(f.attrs["kind"]),
                     float(f.attrs["margin"]), list(json.loads(f.attrs["notes"])), path)


def _write_cells(group: h5py.Group, timelines: list[tuple[Cell, ...]], n_snapshots: int) -> None:
    """[S, Y] datasets, one per field of :class:`Cell` (``margin`` too, for readers without lstmviz)."""
    grid = [[t[k] for t in timelines] for k in range(n_snapshots)]  # [S][Y]
    group["neuron"] = np.array([[c.neuron for c in row] for row in grid], dtype=_TEXT).reshape(
        n_snapshots, len(timelines))
    group["direction"] = np.array([[c.direction for c in row] for row in grid], dtype=_TEXT).reshape(
        n_snapshots, len(timelines))
    for key in ("score", "baseline", "margin"):
        group[key] = np.array([[getattr(c, key) for c in row] for row in grid], np.float64).reshape(
            n_snapshots, len(timelines))


def _read_cells(group: h5py.Group) -> list[tuple[Cell, ...]]:
    """Per hypothesis, its cells over the snapshots."""
    neuron, direction = group["neuron"].asstr()[()], group["direction"].asstr()[()]
    score, baseline = group["score"][()], group["baseline"][()]
    S, Y = neuron.shape
    return [tuple(Cell(str(neuron[k, y]), float(score[k, y]), float(baseline[k, y]), str(direction[k, y]))
                  for k in range(S)) for y in range(Y)]


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=_TEXT)


def _read_strings(ds: h5py.Dataset) -> list[str]:
    return [str(v) for v in ds.asstr()[()]]


def _floats(values: list[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], np.float64)


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
