"""Check an extraction file against ``docs/file-format.md`` and list every problem in plain words.

Unlike :func:`lstmviz.store.reader.open_states`, which stops at the first reason not to read a file, this
goes on: a damaged file gets one line per problem, so a user (or another tool's author) can see all
that is wrong at once. Values are read block by block, so any file size is fine.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from lstmviz.errors import LstmvizError
from lstmviz.model.charlstm import LSTMConfig
from lstmviz.model.importers.keras_files import keras_hdf5_kind
from lstmviz.model.vocab import Vocab
from lstmviz.names import h5_path, parse_name
from lstmviz.store.spec import (
    CHUNK_ROWS,
    DECODER,
    FORMAT,
    KERAS_MODEL,
    PREDICTION_KEYS,
    PREDICTIONS,
    SLACK,
    SUMMARY_ROOT,
    TOKENS,
    TOP_K,
    VERSION,
    VOCAB,
    config_from_attr,
    config_problems,
    impossible_predictions,
    is_complete,
    names_from_attr,
    names_problems,
    not_hdf5,
    text_attr,
    top_k,
    vocab_from_attr,
    vocab_matches,
)
from lstmviz.store.summaries import RANK_KEYS, SUMMARY_KEYS, fixed_range, summary_problems

_BLOCK = 16 * CHUNK_ROWS


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
        if kind is None and keras_hdf5_kind(self.f) is not None:
            self.say(KERAS_MODEL)
            return self.problems
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
        cfg = self._attr("model_config", config_from_attr)
        vocab = self._attr("vocab", vocab_from_attr)
        names = self._attr("names", names_from_attr)
        for key in ("dtype", "c_dtype"):
            if attrs.get(key) not in ("float16", "float32"):
                self.say(f"attribute {key!r} is {attrs.get(key)!r}, expected 'float16' or 'float32'")
        if vocab is not None:
            self._vocab(vocab)
        if cfg is not None and vocab is not None and self._config(cfg, vocab):
            cfg = None  # a shape that cannot be: the datasets cannot be checked against it
        if T is None:
            return self.problems
        V = len(vocab) if vocab is not None else None
        self._tokens(T, V)
        self._predictions(T, V)
        if cfg is not None and V is not None and version != "1.0":
            self._decoder(cfg, V)
        if cfg is not None and names is not None:
            for problem in names_problems(names, cfg.n_layer):
                self.say(problem)
            for name in dict.fromkeys(names):
                self._activation(name, T, cfg.n_hidden)
                self._summary(name, cfg.n_hidden, T)
        return self.problems

    def _config(self, cfg: LSTMConfig, vocab: Vocab) -> bool:
        """Say what in the model's shape cannot be; whether anything was said."""
        problems = config_problems(cfg, vocab)
        for problem in problems:
            self.say(problem)
        return bool(problems)

    def _decoder(self, cfg: LSTMConfig, V: int) -> None:
        """The decoder's weights, which every file from format 1.1 on holds."""
        weight = self._dataset(f"{DECODER}/weight", (V, cfg.n_hidden), "f")
        if weight is None:
            return
        if (values := self._read(weight)) is not None and not np.isfinite(values).all():
            self.say(f"dataset {DECODER}/weight holds NaN or infinite values")
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
        if not vocab_matches(ds, vocab):
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
                else:
                    bad += int(impossible_predictions(key, block, a, T).sum())
            if bad > 0:
                what = "token ids outside the vocabulary" if key == "top_ids" else "impossible values"
                self.say(f"{PREDICTIONS}/{key} holds {bad} {what}")

    def _activation(self, name: str, T: int, H: int) -> None:
        try:
            kind = parse_name(name)[1]
        except LstmvizError:
            return
        ds = self._dataset(h5_path(name), (T, H), "f")
        if ds is None:
            return
        span = fixed_range(kind)  # None for c, which has no bounds
        nonfinite = outside = 0
        first = None
        for a, block in self._blocks(ds):
            finite = np.isfinite(block)
            if not finite.all():
                rows, units = np.nonzero(~finite)
                nonfinite += len(rows)
                first = first or (a + int(rows[0]), int(units[0]))
            if span is not None:
                outside += int((finite & ((block < span[0] - SLACK) | (block > span[1] + SLACK))).sum())
        if nonfinite:
            self.say(f"{name}: {nonfinite} value(s) are NaN or infinite "
                     f"(first at position {first[0]}, unit {first[1]})")
        if outside:
            lo, hi = span
            self.say(f"{name}: {outside} value(s) lie outside [{lo:g}, {hi:g}], impossible for {kind}")

    def _summary(self, name: str, H: int, T: int) -> None:
        """Every summary of one activation: present, of its shape and type, and with possible values."""
        group = self.f.get(SUMMARY_ROOT + h5_path(name))
        if not isinstance(group, h5py.Group):
            self.say(f"summaries of {name} are missing ({SUMMARY_ROOT + h5_path(name)})")
            return
        present = [key for key in RANK_KEYS if key in group]  # rank histograms are optional (1.2)
        arrays = {}
        for key in SUMMARY_KEYS + (RANK_KEYS if present else ()):
            ds = group.get(key)
            if not isinstance(ds, h5py.Dataset):
                also = f" while {present[0]!r} is there" if key in RANK_KEYS else ""
                self.say(f"summary {key!r} of {name} is missing{also}")
            elif (values := self._read(ds)) is not None:
                arrays[key] = values
        for problem in summary_problems(name, arrays, H, T):
            self.say(problem)

    def _read(self, ds: h5py.Dataset) -> np.ndarray | None:
        """A small dataset's values, or None (said) when its chunks cannot be read or decompressed."""
        try:
            return ds[()]
        except OSError as e:
            self.say(f"dataset {ds.name} cannot be read ({e}): the file is damaged")
            return None
