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
from lstmviz.model.config import LSTMConfig
from lstmviz.model.importers.keras_files import keras_hdf5_kind
from lstmviz.model.vocab import Vocab
from lstmviz.names import h5_path, parse_name
from lstmviz.store.checks import (
    KERAS_MODEL,
    config_problems,
    has_version,
    layout_problem,
    names_problems,
    not_hdf5,
    summary_problems,
    vocab_matches,
)
from lstmviz.store.spec import (
    ACTIVATIONS,
    ATTRIBUTES,
    CHUNK_ROWS,
    DATASETS,
    FORMAT,
    HEADER,
    HORIZON_KEYS,
    PREDICTIONS,
    RANK_KEYS,
    SUMMARY_KEYS,
    SUMMARY_ROOT,
    TOKENS,
    TOP_K,
    VERSION,
    VOCAB,
    Dataset,
    is_complete,
    text_attr,
    top_k,
)

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
    """Goes through the tables of :mod:`lstmviz.store.spec`, saying every problem of one file."""

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
        header = {key: self._attr(key) for key in HEADER}
        for attr in ATTRIBUTES.values():
            if attr.choices and attr.key not in HEADER and attrs.get(attr.key) not in attr.choices:
                expected = " or ".join(repr(c) for c in attr.choices)
                self.say(f"attribute {attr.key!r} is {attrs.get(attr.key)!r}, expected {expected}")
        T, cfg, vocab, names = (header[key] for key in HEADER)
        if vocab is not None:
            self._vocab(vocab)
        if vocab is not None and cfg is not None and self._config(cfg, vocab):
            cfg = None  # a shape that cannot be: the datasets cannot be checked against it
        if T is None:
            return self.problems
        V = len(vocab) if vocab is not None else None
        sizes = {"T": T, "K": top_k(V) if V else TOP_K}  # and what else is known:
        sizes |= {"V": V} if V is not None else {}
        sizes |= {"H": cfg.n_hidden} if cfg is not None else {}
        for entry in DATASETS.values():
            if self._applies(entry, version, cfg, sizes):
                self._fixed(entry, sizes)
        if cfg is not None and names is not None:
            for problem in names_problems(names, cfg.n_layer):
                self.say(problem)
            for name in dict.fromkeys(names):
                self._activation(name, sizes)
                self._summary(name, sizes)
        return self.problems

    def _applies(self, entry: Dataset, version: str, cfg: LSTMConfig | None, sizes: dict) -> bool:
        """Whether a file of this version and model must hold ``entry``, and its shape is known.

        ``/vocab`` is left out: it is compared with the attribute first (:meth:`_vocab`).
        """
        if entry.path == VOCAB or not has_version(version, entry.since):
            return False
        if entry.when and (cfg is None or not getattr(cfg, entry.when)):
            return False
        return all(d in sizes for d in entry.shape if isinstance(d, str))

    def _config(self, cfg: LSTMConfig, vocab: Vocab) -> bool:
        """Say what in the model's shape cannot be; whether anything was said."""
        problems = config_problems(cfg, vocab)
        for problem in problems:
            self.say(problem)
        return bool(problems)

    def _attr(self, key: str):
        if key not in self.f.attrs:
            self.say(f"root attribute {key!r} is missing")
            return None
        try:
            return ATTRIBUTES[key].parse(self.f.attrs[key])
        except (ValueError, TypeError, KeyError, LstmvizError) as e:
            self.say(f"root attribute {key!r} cannot be read ({e})")
            return None

    def _dataset(self, entry: Dataset, sizes: dict, name: str | None = None) -> h5py.Dataset | None:
        """The dataset of ``entry`` (for ``name``) if it exists with its shape and dtype kind."""
        path = entry.at(name)
        ds = self.f.get(path)
        if not isinstance(ds, h5py.Dataset):
            self.say(f"dataset {path} is missing")
            return None
        problem = layout_problem(f"dataset {path}", ds.shape, ds.dtype, entry, sizes)
        if problem:
            self.say(problem)
            return None
        return ds

    def _impossible(self, entry: Dataset, ds: h5py.Dataset, sizes: dict) -> tuple[int, int | None]:
        """How many values of ``ds`` the table rules out, and the position of the first."""
        bad, first = 0, None
        for a, block in self._blocks(ds):
            wrong = entry.values.impossible(block, sizes, a)
            if first is None and wrong.any():
                first = a + int(np.argwhere(wrong)[0][0])
            bad += int(wrong.sum())
        return bad, first

    def _blocks(self, ds: h5py.Dataset):
        try:
            for a in range(0, ds.shape[0], _BLOCK):
                yield a, ds[a : a + _BLOCK]
        except OSError as e:
            self.say(f"dataset {ds.name} cannot be read ({e}): the file is damaged")

    def _vocab(self, vocab: Vocab) -> None:
        """``/vocab``, which must list the symbols of the ``vocab`` attribute."""
        ds = self.f.get(VOCAB)
        if not isinstance(ds, h5py.Dataset):
            self.say(f"dataset {VOCAB} is missing")
        elif not vocab_matches(ds, vocab):
            self.say(f"dataset {VOCAB} does not match the 'vocab' attribute")

    def _fixed(self, entry: Dataset, sizes: dict) -> None:
        """One dataset at a fixed path: present, of its shape and type, and with possible values.

        Values are checked where their range is known (symbol ids need the vocabulary's size).
        """
        ds = self._dataset(entry, sizes)
        if ds is None or not entry.values.dims <= sizes.keys():
            return
        bad, first = self._impossible(entry, ds, sizes)
        if not bad:
            return
        if entry.path == TOKENS:
            self.say(f"{bad} token id(s) lie outside the vocabulary of {sizes['V']} "
                     f"(first at position {first})")
        elif entry.path.startswith(PREDICTIONS):
            what = "token ids outside the vocabulary" if entry.kinds == "iu" else "impossible values"
            self.say(f"{entry.path} holds {bad} {what}")
        else:
            self.say(f"dataset {entry.path} holds NaN or infinite values")

    def _activation(self, name: str, sizes: dict) -> None:
        try:
            kind = parse_name(name)[1]
        except LstmvizError:
            return
        entry = ACTIVATIONS[kind]
        ds = self._dataset(entry, sizes, name)
        if ds is None:
            return
        nonfinite = outside = 0
        first = None
        for a, block in self._blocks(ds):
            finite = np.isfinite(block)
            if not finite.all():
                rows, units = np.nonzero(~finite)
                nonfinite += len(rows)
                first = first or (a + int(rows[0]), int(units[0]))
            if entry.values.bounded:
                outside += int((finite & entry.values.impossible(block)).sum())
        if nonfinite:
            self.say(f"{name}: {nonfinite} value(s) are NaN or infinite "
                     f"(first at position {first[0]}, unit {first[1]})")
        if outside:
            lo, hi = entry.values.bounds()
            self.say(f"{name}: {outside} value(s) lie outside [{lo:g}, {hi:g}], impossible for {kind}")

    def _summary(self, name: str, sizes: dict) -> None:
        """Every summary of one activation: present, of its shape and type, and with possible values."""
        group_path = SUMMARY_ROOT + h5_path(name)
        group = self.f.get(group_path)
        if not isinstance(group, h5py.Group):
            self.say(f"summaries of {name} are missing ({group_path})")
            return
        wanted = {key: "" for key in SUMMARY_KEYS}
        for family in (RANK_KEYS, HORIZON_KEYS):  # all or none, from formats 1.2 and 1.3 on
            present = [key for key in family if key in group]
            wanted |= {key: f" while {present[0]!r} is there" for key in family} if present else {}
        arrays = {}
        for key, also in wanted.items():
            ds = group.get(key)
            if not isinstance(ds, h5py.Dataset):
                self.say(f"summary {key!r} of {name} is missing{also}")
            elif (values := self._read(ds)) is not None:
                arrays[key] = values
        for problem in summary_problems(name, arrays, sizes):
            self.say(problem)

    def _read(self, ds: h5py.Dataset) -> np.ndarray | None:
        """A small dataset's values, or None (said) when its chunks cannot be read or decompressed."""
        try:
            return ds[()]
        except OSError as e:
            self.say(f"dataset {ds.name} cannot be read ({e}): the file is damaged")
            return None
