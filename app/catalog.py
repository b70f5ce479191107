"""The extraction files a dashboard serves, and one cached read handle per file and process.

``lstmviz serve a.h5 b.h5 cache/`` lists every extraction with its model, text and size, under a
short key that goes into the URL (``?file=wiki_val``), so a shared link names the file, not a path
on the server's disk.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import h5py

from app.models import Models
from lstmviz.errors import StoreError
from lstmviz.evolution.file import FORMAT as EVOLUTION_FORMAT
from lstmviz.evolution.file import read_evolution
from lstmviz.evolution.records import Evolution
from lstmviz.evolution.sources import extraction_path
from lstmviz.kinds import KINDS
from lstmviz.store.reader import States, open_states

EXTENSIONS = (".h5", ".hdf5")


@dataclass(frozen=True)
class Entry:
    """One file on the list: its URL key, path, a one-line description, or why it cannot be opened."""

    key: str
    path: Path
    label: str
    error: str | None = None


def describe(states: States) -> str:
    """``model · text · 1,234,567 chars`` from the file's own metadata.

    Falls back on the model's shape when the file does not name its model.
    """
    attrs = states.attrs
    cfg = states.config
    shape = f"{cfg.n_layer}×{cfg.n_hidden} LSTM"
    model = _name(attrs, "model") or shape
    text = _name(attrs, "text")
    parts = [model if model == shape else f"{model} ({shape})"]
    if text:
        parts.append(text)
    parts.append(f"{states.n_tokens:,} {'bytes' if states.vocab.byte_level else 'chars'}")
    return " · ".join(parts)


def details(states: States) -> str:
    """The facts the file list leaves out: stored activations, vocabulary, when it was extracted."""
    kinds = ", ".join(KINDS[k].label for k in states.kinds())
    vocab = states.vocab
    parts = [f"stores {kinds}", f"{len(vocab)}-{'byte' if vocab.byte_level else 'symbol'} vocabulary"]
    created = states.attrs.get("created")
    if created:
        parts.append(f"extracted {created if isinstance(created, str) else created.decode()}")
    return " · ".join(parts)


def _name(attrs: dict, what: str) -> str | None:
    for key in (f"{what}_name", what, f"{what}_path"):
        value = attrs.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value:
            return Path(value).name if key.endswith("_path") else value
    return None


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the ``*.h5``/``*.hdf5`` files inside folders (sorted, not hidden)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(
                q for q in p.iterdir() if q.suffix in EXTENSIONS and not q.name.startswith(".")
            )
        else:
            found.append(p)
    return found


class Catalog:
    """The files of one dashboard, in the order given; read-only once built, so safe to share.

    >>> # Catalog.scan(["cache/"]).default().key
    """

    def __init__(self, entries: list[Entry], models: Models | None = None,
                 evolutions: list[Entry] | None = None):
        self.entries = entries
        self.models = models or Models()  # where the panels that rerun a file's model find it
        self.evolutions = evolutions or []  # evolution files (``lstmviz evolve``), shown by app/evolution.py
        self._by_key = {e.key: e for e in entries}
        self._evolution_keys = {e.key: e for e in self.evolutions}

    @classmethod
    def scan(cls, paths: Iterable[str | Path], models: Models | None = None) -> Catalog:
        """Open every file once to check it and describe it; unreadable ones keep their reason."""
        entries: list[Entry] = []
        evolutions: list[Entry] = []
        used: set[str] = set()
        for path in find_files(paths):
            key = _unique(path.stem, used)
            if is_evolution(path):
                try:
                    evolutions.append(Entry(key, path, describe_evolution(cached_evolution(path))))
                except StoreError as e:
                    evolutions.append(Entry(key, path, path.name, error=str(e)))
                continue
            try:
                label = describe(cached_states(path))
                entries.append(Entry(key, path, label))
            except StoreError as e:  # listed disabled, with the reason; `serve` reports it once
                entries.append(Entry(key, path, path.name, error=str(e)))
        return cls(_told_apart(entries), models, evolutions)

    @property
    def usable(self) -> list[Entry]:
        """Entries that opened cleanly."""
        return [e for e in self.entries if e.error is None]

    def default(self) -> Entry | None:
        """The first usable file, shown when the URL names none."""
        usable = self.usable
        return usable[0] if usable else None

    def get(self, key: str | None) -> Entry | None:
        """The entry with this key, if any: a file given, or a snapshot of an evolution extracted since."""
        if not key:
            return None
        return self._by_key.get(key) or self._snapshot_entry(key)

    def options(self) -> list[dict]:
        """Dropdown options; files that cannot be opened are listed, disabled, with the reason.

        Snapshots of the evolution files extracted so far (:func:`snapshot_key`) follow the files.
        """
        return [
            {"label": e.label if e.error is None else
             f"{e.path.name} — cannot open: {e.error.removeprefix(f'{e.path}: ')}",
             "value": e.key, "disabled": e.error is not None}
            for e in self.entries + self.snapshot_entries()
        ]

    def evolution(self, key: str | None) -> Entry | None:
        """The evolution file with this key, if any."""
        return self._evolution_keys.get(key) if key else None

    def snapshot_entries(self) -> list[Entry]:
        """Every snapshot of the evolution files whose extraction is in the cache."""
        found = []
        for ev in self.evolutions:
            if ev.error is None:
                for k in range(len(cached_evolution(ev.path).snapshots)):
                    entry = self._snapshot_entry(snapshot_key(ev.key, k))
                    if entry is not None:
                        found.append(entry)
        return found

    def _snapshot_entry(self, key: str) -> Entry | None:
        """``EVOLUTION@K``: snapshot K of that evolution file, once extracted (app/evolution.py does it)."""
        name, _, index = key.rpartition("@")
        ev = self.evolution(name)
        if ev is None or ev.error is not None or not index.isdigit():
            return None
        evolution = cached_evolution(ev.path)
        k = int(index)
        if k >= len(evolution.snapshots):
            return None
        path = extraction_path(evolution, k)
        if not path.is_file():
            return None
        return Entry(key, path, f"{ev.path.name}: {evolution.snapshots[k].label} over its text "
                                f"({min(evolution.n_chars, states_chars(path)):,} chars)")


def snapshot_key(evolution_key: str, k: int) -> str:
    """The catalog key of snapshot ``k`` of an evolution file, once extracted.

    >>> snapshot_key("ev1", 3)
    'ev1@3'
    """
    return f"{evolution_key}@{k}"


def is_evolution(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file whose header says it is an evolution file (``lstmviz evolve``)."""
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("encoding-type") == EVOLUTION_FORMAT
    except OSError:
        return False


def describe_evolution(evolution: Evolution) -> str:
    """``10 snapshots (step 40 to step 4,000) · austen.val.txt · 100,000 chars``."""
    snaps = evolution.snapshots
    return (f"{len(snaps)} snapshots ({snaps[0].label} to {snaps[-1].label}) · {evolution.text_path} · "
            f"{evolution.n_chars:,} chars")


def states_chars(path: Path) -> int:
    """Positions of an extraction (for a snapshot's label)."""
    return cached_states(path).n_tokens


def cached_evolution(path: str | Path) -> Evolution:
    """The evolution file at ``path``, read once per process (and again when it changes).

    Raises:
        StoreError: missing, damaged or not an evolution file.
    """
    return _read_evolution(*_version(path, "write one with `lstmviz evolve`"))


@lru_cache(maxsize=8)
def _read_evolution(path: str, mtime_ns: int, size: int) -> Evolution:
    return read_evolution(path)


def _told_apart(entries: list[Entry]) -> list[Entry]:
    """Entries whose labels coincide (one text extracted with and without gates) get their path.

    >>> a, b = Entry("a", Path("x/a.h5"), "m · t"), Entry("b", Path("y/a.h5"), "m · t")
    >>> [e.label for e in _told_apart([a, b])]
    ['m · t · x/a.h5', 'm · t · y/a.h5']
    """
    labels = Counter(e.label for e in entries if e.error is None)
    return [replace(e, label=f"{e.label} · {e.path}") if e.error is None and labels[e.label] > 1 else e
            for e in entries]


def _unique(stem: str, used: set[str]) -> str:
    key, n = stem, 2
    while key in used:
        key, n = f"{stem}-{n}", n + 1
    used.add(key)
    return key


def cached_states(path: str | Path) -> States:
    """An open reader for ``path``, shared by every request of this process.

    The cache key includes the file's modification time and size, so a file re-extracted while the
    dashboard runs is reopened rather than read through a stale handle. The path is kept as the
    user gave it, so messages name the file the way they typed it.
    """
    return _open(*_version(path, "create it with `lstmviz extract`"))


def _version(path: str | Path, fix: str) -> tuple[str, int, int]:
    """A file as the per-process caches key it: its path as given, modification time and size.

    A file rewritten while the dashboard runs gets a new key, so it is read again, not through a
    stale handle.
    """
    try:
        st = os.stat(path)
    except OSError:
        raise StoreError(f"{path}: no such file; {fix}") from None
    return str(path), st.st_mtime_ns, st.st_size


# h5py handles must not cross fork(): this cache fills lazily, per worker process.
@lru_cache(maxsize=16)
def _open(path: str, mtime_ns: int, size: int) -> States:
    return open_states(path)
