"""Check an extraction file against ``docs/file-format.md`` and list every problem in plain words.

Unlike :func:`lstmviz.store.open_states`, which stops at the first reason not to read a file, this
goes on: a damaged file gets one line per problem, so a user (or another tool's author) can see all
that is wrong at once. Values are read block by block, so any file size is fine.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from lstmviz.errors import LstmvizError
from lstmviz.model import LSTMConfig
from lstmviz.names import GATES, act_name, h5_path, parse_name
from lstmviz.store import (
    CHUNK_ROWS,
    DECODER,
    FORMAT,
    PREDICTION_KEYS,
    PREDICTIONS,
    SUMMARY_ROOT,
    TOKENS,
    TOP_K,
    VERSION,
    VOCAB,
    is_complete,
    not_hdf5,
    text_attr,
    top_k,
    vocab_dataset,
)
from lstmviz.summaries import N_BINS, N_TOP, RANK_BINS, RANK_KEYS, SUMMARY_KEYS
from lstmviz.vocab import Vocab

_BLOCK = 16 * CHUNK_ROWS
_TOLERANCE = 1e-3  # float16 rounds 1.0 to 1.0, but allow for foreign writers' rounding


def validate(path: str | Path) -> list[str]:
    """Every problem found in an extraction file; an empty list means it is valid.

    >>> validate("no/such/file.h5")
    ['no/such/file.h5: no such file']
    """
    path = Path(path)
    if not path.exists():
        return [f"{path}: no such file"]
    try:
        f = h5py.File(path, "r")
    except OSError:
        return [f"{path}: {not_hdf5(path)}"]
    with f:
        return _Checker(f).run()


class _Checker:
    def __init__(self, f: h5py.File):
        self.f = f
        self.problems: list[str] = []

    def say(self, text: str) -> None:
        self.problems.append(text)

    def run(self) -> list[str]:
        attrs = self.f.attrs
        kind = text_attr(attrs, "encoding-type")
        if kind != FORMAT:
            self.say(f"not an lstmviz extraction: encoding-type is {kind!r}, expected {FORMAT!r}")
            return self.problems
        version = text_attr(attrs, "encoding-version", "")
        if version.split(".")[0] != VERSION.split(".")[0]:
            self.say(f"format version {version!r} is not {VERSION.split('.')[0]}.x, which this lstmviz reads")
        if not is_complete(attrs):
            flag = attrs.get("complete", False)
            said = "false" if isinstance(flag, (bool, np.bool_, np.integer)) else f"{flag!r}, not a boolean"
            self.say(f"the file is incomplete (the 'complete' flag is {said}): "
                     "the extraction was interrupted")
        T = self._attr("n_tokens", int)
        cfg = self._attr("model_config", lambda v: LSTMConfig(**json.loads(v)))
        vocab = self._attr("vocab", lambda v: Vocab.from_dict(json.loads(v)))
        names = self._attr("names", lambda v: [str(n) for n in json.loads(v)])
        for key in ("dtype", "c_dtype"):
            if attrs.get(key) not in ("float16", "float32"):
                self.say(f"attribute {key!r} is {attrs.get(key)!r}, expected 'float16' or 'float32'")
        if vocab is not None:
            self._vocab(vocab)
        if T is None:
            return self.problems
        V = len(vocab) if vocab is not None else None
        self._tokens(T, V)
        self._predictions(T, V)
        if cfg is not None and V is not None and version != "1.0":
            self._decoder(cfg, V)
        if cfg is not None and names is not None:
            self._names(cfg, names)
            for name in names:
                self._activation(name, T, cfg.n_hidden)
                self._summary(name, cfg.n_hidden)
        return self.problems

    def _decoder(self, cfg: LSTMConfig, V: int) -> None:
        """The decoder's weights, which every file from format 1.1 on holds."""
        if self._dataset(f"{DECODER}/weight", (V, cfg.n_hidden), "f") is None:
            return
        if cfg.decoder_bias:
            self._dataset(f"{DECODER}/bias", (V,), "f")

    def _attr(self, key: str, parse):
        if key not in self.f.attrs:
            self.say(f"root attribute {key!r} is missing")
            return None
        try:
            return parse(self.f.attrs[key])
        except (ValueError, TypeError, KeyError, LstmvizError) as e:
            self.say(f"root attribute {key!r} cannot be read ({e})")
            return None

    def _dataset(self, path: str, shape: tuple[int, ...], kinds: str) -> h5py.Dataset | None:
        """The dataset at ``path`` if it exists with that shape and a dtype kind in ``kinds``."""
        ds = self.f.get(path)
        if not isinstance(ds, h5py.Dataset):
            self.say(f"dataset {path} is missing")
            return None
        if ds.shape != shape:
            self.say(f"dataset {path} has shape {ds.shape}, expected {shape}")
            return None
        if ds.dtype.kind not in kinds:
            wanted = "an integer" if kinds == "iu" else "a float"
            self.say(f"dataset {path} has dtype {ds.dtype}, expected {wanted} type")
            return None
        return ds

    def _blocks(self, ds: h5py.Dataset):
        try:
            for a in range(0, ds.shape[0], _BLOCK):
                yield a, ds[a : a + _BLOCK]
        except OSError as e:
            self.say(f"dataset {ds.name} cannot be read ({e}): the file is damaged")

    def _vocab(self, vocab: Vocab) -> None:
        ds = self.f.get(VOCAB)
        if not isinstance(ds, h5py.Dataset):
            self.say(f"dataset {VOCAB} is missing")
            return
        stored = [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]
        if stored != vocab_dataset(vocab):
            self.say(f"dataset {VOCAB} does not match the 'vocab' attribute")

    def _tokens(self, T: int, V: int | None) -> None:
        ds = self._dataset(TOKENS, (T,), "iu")
        if ds is None or V is None:
            return
        bad, first = 0, None
        for a, block in self._blocks(ds):
            wrong = np.flatnonzero((block < 0) | (block >= V))
            if len(wrong) and first is None:
                first = a + int(wrong[0])
            bad += len(wrong)
        if bad:
            self.say(f"{bad} token id(s) lie outside the vocabulary of {V} (first at position {first})")

    def _predictions(self, T: int, V: int | None) -> None:
        for key in PREDICTION_KEYS:
            shape = (T, top_k(V) if V else TOP_K) if key.startswith("top") else (T,)
            ds = self._dataset(f"{PREDICTIONS}/{key}", shape, "iu" if key == "top_ids" else "f")
            if ds is None:
                continue
            bad = 0
            for a, block in self._blocks(ds):
                if key == "top_ids":
                    bad += int(((block < 0) | (block >= (V or np.inf))).sum())
                    continue
                if key in ("p_next", "loss_nats", "loss_bits") and a + len(block) == T:
                    block = block[:-1]  # nothing follows the last character: NaN by definition
                if key in ("top_probs", "p_next"):
                    bad += int((~((block >= 0) & (block <= 1 + _TOLERANCE))).sum())
                else:
                    bad += int((~(np.isfinite(block) & (block >= 0))).sum())
            if bad > 0:
                what = "token ids outside the vocabulary" if key == "top_ids" else "impossible values"
                self.say(f"{PREDICTIONS}/{key} holds {bad} {what}")

    def _names(self, cfg: LSTMConfig, names: list[str]) -> None:
        for name in names:
            try:
                layer, _ = parse_name(name)
            except LstmvizError:
                self.say(f"{name!r} in the 'names' attribute is not an activation name")
                continue
            if layer >= cfg.n_layer:
                self.say(f"{name} names layer {layer}, but the model has {cfg.n_layer} layer(s)")
        for layer in range(cfg.n_layer):
            for kind in ("h", "c"):
                if act_name(kind, layer) not in names:
                    self.say(f"{act_name(kind, layer)} is missing from the 'names' attribute")
            gates = [act_name("gates", layer, g) in names for g in GATES]
            if any(gates) and not all(gates):
                self.say(f"layer {layer} stores only some of its gates; expected all of i, f, g, o")

    def _activation(self, name: str, T: int, H: int) -> None:
        try:
            kind = parse_name(name)[1]
        except LstmvizError:
            return
        ds = self._dataset(h5_path(name), (T, H), "f")
        if ds is None:
            return
        lo, hi = (0.0, 1.0) if kind in ("gates.i", "gates.f", "gates.o") else (-1.0, 1.0)
        nonfinite = outside = 0
        first = None
        for a, block in self._blocks(ds):
            finite = np.isfinite(block)
            if not finite.all():
                rows, units = np.nonzero(~finite)
                nonfinite += len(rows)
                first = first or (a + int(rows[0]), int(units[0]))
            if kind != "c":
                outside += int((finite & ((block < lo - _TOLERANCE) | (block > hi + _TOLERANCE))).sum())
        if nonfinite:
            self.say(f"{name}: {nonfinite} value(s) are NaN or infinite "
                     f"(first at position {first[0]}, unit {first[1]})")
        if outside:
            self.say(f"{name}: {outside} value(s) lie outside [{lo:g}, {hi:g}], impossible for {kind}")

    def _summary(self, name: str, H: int) -> None:
        group = self.f.get(SUMMARY_ROOT + h5_path(name))
        if not isinstance(group, h5py.Group):
            self.say(f"summaries of {name} are missing ({SUMMARY_ROOT + h5_path(name)})")
            return
        for key in SUMMARY_KEYS:
            shape = (H, N_BINS) if key == "hist" else (H, N_TOP) if key[:3] in ("top", "bot") else (H,)
            ds = group.get(key)
            if not isinstance(ds, h5py.Dataset):
                self.say(f"summary {key!r} of {name} is missing")
            elif ds.shape != shape:
                self.say(f"summary {key!r} of {name} has shape {ds.shape}, expected {shape}")
            elif (values := self._read(ds)) is not None and key in ("mean", "std", "min", "max") \
                    and not np.isfinite(values).all():
                self.say(f"summary {key!r} of {name} holds NaN or infinite values")
        self._rank_summary(group, name, H)

    def _read(self, ds: h5py.Dataset) -> np.ndarray | None:
        """A small dataset's values, or None (said) when its chunks cannot be read or decompressed."""
        try:
            return ds[()]
        except OSError as e:
            self.say(f"dataset {ds.name} cannot be read ({e}): the file is damaged")
            return None

    def _rank_summary(self, group: h5py.Group, name: str, H: int) -> None:
        """The optional rank histograms (format 1.2): all three keys or none, of the right shapes."""
        present = [key for key in RANK_KEYS if key in group]
        if not present:
            return
        for key in RANK_KEYS:
            shape = (H, RANK_BINS) if key == "rank_hist" else (H,)
            ds = group.get(key)
            if not isinstance(ds, h5py.Dataset):
                self.say(f"summary {key!r} of {name} is missing while {present[0]!r} is there")
            elif ds.shape != shape:
                self.say(f"summary {key!r} of {name} has shape {ds.shape}, expected {shape}")
            elif (values := self._read(ds)) is not None and key == "rank_width" and not (values > 0).all():
                self.say(f"summary 'rank_width' of {name} has bins that are not positive")
