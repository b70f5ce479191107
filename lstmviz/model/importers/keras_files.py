"""Reading Keras model files without Keras: the architecture as JSON, and each layer's weights.

Only ``zipfile``, ``json`` and ``h5py`` are used, so neither Keras nor TensorFlow is needed (or
imported) to read what they wrote. The layouts, as Keras's own saving code writes them:

- **``.keras``** (Keras 3, ``model.save("m.keras")``): a zip of ``config.json`` (the architecture),
  ``metadata.json`` (``keras_version``) and ``model.weights.h5``. In that HDF5 file a layer's
  arrays lie at ``layers/<name>/vars/0``, ``1``, …, where ``<name>`` is the layer's *class* in
  snake case, numbered in the order of ``model.layers`` (``lstm``, ``lstm_1``, …; Keras's
  ``saving_lib`` does not use layer names, which are not reproducible). A recurrent layer keeps
  them under ``cell/vars``, a wrapper under ``layer/vars``. The optimizer's state is in ``optimizer/``.
- **legacy ``.h5``** (``model.save("m.h5")`` in Keras 2, and in Keras 3 still): root attributes
  ``model_config`` (the architecture as JSON), ``keras_version``, ``backend`` and
  ``training_config``; a layer's arrays in the group ``model_weights/<layer name>``, listed in
  order by its ``weight_names`` attribute. The optimizer's state is in ``optimizer_weights/``.
- **weights only**: Keras 3's ``model.save_weights("m.weights.h5")`` (the ``.keras`` layout), or
  Keras 2's ``model.save_weights("m.h5")`` (the legacy layout at the root, with ``layer_names``).
  The architecture comes from a JSON file beside it: ``model.to_json()`` saved as ``m.json``,
  or a ``.keras`` archive's ``config.json``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmviz.errors import CheckpointError
from lstmviz.files import kind_of
from lstmviz.model.importers import KERAS, KERAS_H5, KERAS_WEIGHTS

_ARCHIVE_WEIGHTS = "model.weights.h5"
_LEGACY_WEIGHTS = "model_weights"
_SAVE_AGAIN = 'if it is a Keras model, save it again with Keras: model.save("model.keras")'


@dataclass
class KerasFile:
    """What a Keras file holds, read into plain Python: architecture, arrays, and what was set aside."""

    layout: str  # KERAS, KERAS_H5 or KERAS_WEIGHTS
    format: str  # in words, e.g. "Keras 3 .keras archive"
    model: dict[str, Any]  # the architecture: {"class_name": "Sequential", "config": {...}}
    arrays: dict[str, list[np.ndarray]]  # layer name -> its arrays, in Keras's order
    version: str = ""  # keras_version, when the file says
    ignored: list[str] = field(default_factory=list)  # optimizer state, training config
    training: dict[str, Any] = field(default_factory=dict)  # settings shown by `inspect`


def to_snake_case(name: str) -> str:
    """A class name as Keras's ``saving_lib`` names its weights group.

    >>> to_snake_case("LSTM"), to_snake_case("TimeDistributed"), to_snake_case("InputLayer")
    ('lstm', 'time_distributed', 'input_layer')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def keras_hdf5_kind(f: h5py.File) -> str | None:
    """The Keras layout of an open HDF5 file, from its root alone; None when Keras did not write it.

    An lstmviz extraction is HDF5 too, with a ``model_config`` attribute of its own: its
    ``encoding-type`` attribute tells it apart.
    """
    attrs = f.attrs
    if "encoding-type" in attrs:
        return None
    if "model_config" in attrs or _LEGACY_WEIGHTS in f:
        return KERAS_H5
    if "layer_names" in attrs or "layer_names0" in attrs:
        return KERAS_WEIGHTS
    if ("layers" in f or "_layer_checkpoint_dependencies" in f) and "vars" in f:
        return KERAS_WEIGHTS
    return None


def keras_kind(path: str | Path) -> str | None:
    """The Keras layout of a file, or None when it is not one Keras wrote (or cannot be read).

    A zip is a ``.keras`` archive when it holds ``config.json`` at its top (torch's zips hold a
    folder with ``data.pkl``); an HDF5 file by its root attributes and groups (:func:`keras_hdf5_kind`).
    """
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        kind = kind_of(f.read(8))
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError):
            return KERAS if path.suffix.lower() == ".keras" else None
        return KERAS if "config.json" in names or "metadata.json" in names else None
    if kind == "hdf5":
        try:
            with h5py.File(path, "r") as f:
                return keras_hdf5_kind(f)
        except OSError:  # truncated or damaged: only its name can say it was a Keras file
            return KERAS_H5 if path.suffix.lower() in (".h5", ".hdf5", ".keras") else None
    return KERAS if path.suffix.lower() == ".keras" else None


def _damaged(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what} (truncated or damaged); {_SAVE_AGAIN}")


def _json(data: bytes | str, where: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{where}: not valid JSON ({e}); save the model again with Keras") from None


def _is_model_config(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("class_name"), str) and "config" in value


# --- the .keras layout (Keras 3 saving_lib) ----------------------------------------------------


def model_layers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer entries of a model config, as plain dicts; Keras 2's Sequential lists them directly."""
    config = model.get("config")
    layers = config.get("layers", []) if isinstance(config, dict) else config
    return [entry for entry in layers or [] if isinstance(entry, dict)]


def layer_name(entry: dict[str, Any]) -> str:
    """A layer entry's name: beside its config (Functional) or inside it (Sequential)."""
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    return str(name or "?")


def _group_arrays(group: h5py.Group) -> list[np.ndarray]:
    """Arrays of a saving_lib layer group: its own ``vars/0``, ``vars/1``, … then its sub-objects'."""
    arrays = []
    own = group.get("vars")
    if isinstance(own, h5py.Group):
        keys = sorted((k for k in own if k.isdigit()), key=int)
        arrays += [np.asarray(own[k][()]) for k in keys]
    for key in sorted(k for k in group if k != "vars"):
        sub = group[key]
        if isinstance(sub, h5py.Group):
            arrays += _group_arrays(sub)
    return arrays


def _saving_lib_arrays(f: h5py.File, model: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Each layer's arrays in the ``.keras`` layout, found by class name and position, as Keras does."""
    root = f["layers"] if "layers" in f else f.get("_layer_checkpoint_dependencies")
    entries = model_layers(model)
    if model.get("class_name") == "Sequential":  # Sequential.layers leaves out its InputLayer
        entries = [e for e in entries if e.get("class_name") != "InputLayer"]
    used: dict[str, int] = {}
    arrays = {}
    for entry in entries:
        key = to_snake_case(str(entry.get("class_name", "")))
        used[key] = used.get(key, -1) + 1
        key = f"{key}_{used[key]}" if used[key] else key
        group = root.get(key) if isinstance(root, h5py.Group) else None
        arrays[layer_name(entry)] = _group_arrays(group) if isinstance(group, h5py.Group) else []
    return arrays


def _optimizer_note(f: h5py.File, group_name: str) -> list[str]:
    """The optimizer's state saved beside the weights, counted: it plays no part in inference."""
    group = f.get(group_name)
    if not isinstance(group, h5py.Group):
        return []
    count = [0]
    group.visititems(lambda _, obj: count.__setitem__(0, count[0] + isinstance(obj, h5py.Dataset)))
    return [f"optimizer state ({count[0]} arrays)"] if count[0] else []


def _compile_note(compiled: Any) -> list[str]:
    """The training config (optimizer, loss) in words: it plays no part in inference either."""
    if not isinstance(compiled, dict) or not compiled:
        return []
    said = []
    optimizer = compiled.get("optimizer") or compiled.get("optimizer_config")
    loss = compiled.get("loss")
    for key, value in (("optimizer", optimizer), ("loss", loss)):
        value = value.get("class_name") if isinstance(value, dict) else value
        if isinstance(value, str):
            said.append(f"{key} {value}")
    return [f"training config ({', '.join(said)})" if said else "training config"]


def _read_hdf5(path: Path, data: bytes | None, read: Any) -> Any:
    """Run ``read(f)`` on an HDF5 file (or its bytes), turning h5py's errors into one clear line."""
    try:
        with h5py.File(io.BytesIO(data) if data is not None else path, "r") as f:
            return read(f)
    except (OSError, KeyError, ValueError):
        what = f"its {_ARCHIVE_WEIGHTS} is not a readable HDF5 file" if data is not None else (
            "not a readable HDF5 file")
        raise _damaged(path, what) from None


def _open_archive(path: Path) -> KerasFile:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if "config.json" not in names:
                raise CheckpointError(
                    f"{path}: a zip without config.json, so not a .keras archive; save the model with "
                    "Keras: model.save(\"model.keras\")"
                )
            config = _json(z.read("config.json"), f"{path}: config.json")
            metadata = {}
            if "metadata.json" in names:
                metadata = _json(z.read("metadata.json"), f"{path}: metadata.json")
            if _ARCHIVE_WEIGHTS not in names:
                held = ", ".join(sorted(names)) or "nothing"
                raise CheckpointError(
                    f"{path}: the .keras archive holds no {_ARCHIVE_WEIGHTS} (it holds {held}); save the "
                    "trained model again with model.save(\"model.keras\")"
                )
            data = z.read(_ARCHIVE_WEIGHTS)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise _damaged(path, "not a readable .keras archive") from None
    if not _is_model_config(config):
        raise CheckpointError(f"{path}: its config.json describes no Keras model; save the model again")
    version = _text(metadata.get("keras_version", "")) if isinstance(metadata, dict) else ""
    arrays, ignored = _read_hdf5(
        path, data, lambda f: (_saving_lib_arrays(f, config), _optimizer_note(f, "optimizer"))
    )
    notes = _compile_note(config.get("compile_config"))
    training = {"keras_version": version} if version else {}
    if isinstance(metadata, dict) and isinstance(metadata.get("date_saved"), str):
        training["date_saved"] = metadata["date_saved"]
    return KerasFile(KERAS, "Keras 3 .keras archive", config, arrays, version, ignored + notes,
                     training)


# --- the legacy HDF5 layout (Keras 2 and Keras 3's legacy_h5_format) ---------------------------


def _names_attr(attrs: h5py.AttributeManager, name: str) -> list[str]:
    """A list attribute, also when Keras split a long one into ``name0``, ``name1`` and so on."""
    if name in attrs:
        values = list(np.atleast_1d(attrs[name]))
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in attrs:
            values += list(np.atleast_1d(attrs[f"{name}{chunk}"]))
            chunk += 1
    return [_text(v) for v in values if isinstance(v, (bytes, str))]


def _legacy_arrays(group: h5py.Group) -> dict[str, list[np.ndarray]]:
    """Each layer's arrays, by layer name, in the order of its ``weight_names`` attribute."""
    arrays = {}
    for name in _names_attr(group.attrs, "layer_names"):
        layer = group[name]
        arrays[name] = [np.asarray(layer[w][()]) for w in _names_attr(layer.attrs, "weight_names")]
    return arrays


def _legacy_version(f: h5py.File, path: Path) -> str:
    version = _text(f.attrs.get("keras_version", ""))
    if version.startswith("1."):
        raise CheckpointError(
            f"{path}: written by Keras {version}, whose LSTM weights are laid out differently; "
            "load it in Keras 2 and save it again with model.save(\"model.h5\")"
        )
    return version


def _legacy_facts(f: h5py.File, path: Path) -> tuple[str, list[str], dict[str, Any]]:
    """Keras version, what was set aside (optimizer state, training config), and settings to show."""
    version = _legacy_version(f, path)
    backend = _text(f.attrs.get("backend", ""))
    training_config = f.attrs.get("training_config")
    notes = _compile_note(_json(_text(training_config), f"{path}: training_config")
                          if training_config is not None else None)
    ignored = _optimizer_note(f, "optimizer_weights") + notes
    training = {k: v for k, v in (("keras_version", version), ("backend", backend)) if v}
    return version, ignored, training


def _open_legacy(path: Path) -> KerasFile:
    def read(f: h5py.File) -> KerasFile:
        if "model_config" not in f.attrs:
            raise CheckpointError(
                f"{path}: Keras weights without the model's architecture (no model_config attribute); "
                "save the whole model with model.save(\"model.keras\")"
            )
        model = _json(_text(f.attrs["model_config"]), f"{path}: model_config")
        if not _is_model_config(model):
            raise CheckpointError(f"{path}: its model_config describes no Keras model; save the model again")
        version, ignored, training = _legacy_facts(f, path)
        arrays = _legacy_arrays(f[_LEGACY_WEIGHTS]) if _LEGACY_WEIGHTS in f else {}
        return KerasFile(KERAS_H5, "Keras legacy .h5", model, arrays, version, ignored, training)

    return _read_hdf5(path, None, read)


# --- weights only, with the architecture beside them -------------------------------------------


def config_paths(weights: Path) -> list[Path]:
    """Where the architecture of a weights-only file may be, most specific first.

    >>> [p.name for p in config_paths(Path("runs/m.weights.h5"))]
    ['m.json', 'm.weights.json', 'config.json', 'model.json']
    """
    name = weights.name
    stems = [name[: -len(".weights.h5")]] if name.lower().endswith(".weights.h5") else []
    stems.append(weights.name.rsplit(".", 1)[0])
    names = [f"{s}.json" for s in stems] + ["config.json", "model.json"]
    return [weights.with_name(n) for n in dict.fromkeys(names)]


def _config_beside(path: Path) -> tuple[dict[str, Any], Path]:
    for candidate in config_paths(path):
        if candidate.is_file():
            value = _json(candidate.read_bytes(), str(candidate))
            if _is_model_config(value):
                return value, candidate
    names = ", ".join(p.name for p in config_paths(path))
    raise CheckpointError(
        f"{path}: Keras weights without the model's architecture; put it beside them as JSON "
        f"({names}): open(\"{config_paths(path)[0].name}\", \"w\").write(model.to_json()), or save the "
        "whole model with model.save(\"model.keras\")"
    )


def _open_weights(path: Path) -> KerasFile:
    model, config_path = _config_beside(path)

    def read(f: h5py.File) -> KerasFile:
        if "layer_names" in f.attrs or "layer_names0" in f.attrs:
            version, ignored, training = _legacy_facts(f, path)
            return KerasFile(KERAS_WEIGHTS, f"Keras legacy weights .h5 + {config_path.name}", model,
                             _legacy_arrays(f), version, ignored, training)
        return KerasFile(KERAS_WEIGHTS, f"Keras 3 .weights.h5 + {config_path.name}", model,
                         _saving_lib_arrays(f, model), "", _optimizer_note(f, "optimizer"))

    return _read_hdf5(path, None, read)


def open_keras(path: Path, layout: str) -> KerasFile:
    """Read a Keras file of the given layout (from :func:`keras_kind`) without Keras.

    Raises:
        CheckpointError: a damaged archive or HDF5 file, a ``.keras`` archive without weights,
            weights whose architecture is nowhere to be found, or a Keras 1 file.
    """
    if layout == KERAS:
        return _open_archive(path)
    if layout == KERAS_H5:
        return _open_legacy(path)
    return _open_weights(path)
