"""Where search results are kept between runs, and when they are stale.

Results live in a folder beside the extraction, ``<file>.search/``, one ``.npz`` per hypothesis
plus ``profile.npz`` for the per-unit histograms. Each holds the file's size and modification
time; a file rewritten by a new extraction has a new modification time (extraction renames a
finished file into place), so its old results are ignored and recomputed. Writes go to a
temporary file renamed into place, so a reader never sees half a cache.

Nothing is written beside a file this process does not own, or in a folder it may not write (a
shared, read-only collection of extractions): results then go to a per-user folder,
``$XDG_CACHE_HOME/lstmviz/search/`` (``~/.cache/lstmviz/search/``), one subfolder per file path,
size and modification time. Results of a user's own hypotheses (patterns, spans, values; each new
one is a new file) are bounded in number and bytes per folder, the least recently used removed
first; the built-ins' results and the histograms are a fixed set and always kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lstmviz.files import atomic_path

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_META = "__meta__"


MAX_BOUNDED_ENTRIES = 32  # a user's own hypotheses kept per file: about 0.2 MB each for 3 x 1,024 units
MAX_BOUNDED_BYTES = 128 << 20


def file_identity(path: str | Path) -> dict[str, int]:
    """What must stay the same for cached results to stay valid: size and modification time."""
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def may_write_beside(path: str | Path) -> bool:
    """Whether results may be kept beside ``path``: this process owns it and may write its folder.

    Ownership is checked, not just write access: root may write anywhere, but a folder of root's
    beside another user's file would stand in that user's way. ``os.access`` (not the mode bits)
    answers for ACLs and read-only mounts.
    """
    path = Path(path)
    beside = path.with_name(path.name + ".search")
    for item, folder in ((path, path.parent), (beside, beside)):
        try:
            st = item.stat()
        except FileNotFoundError:
            continue  # the .search folder, not made yet
        except OSError:
            return False
        foreign = hasattr(os, "geteuid") and st.st_uid != os.geteuid()  # no owners to compare on Windows
        if foreign or not os.access(folder, os.W_OK | os.X_OK):
            return False
    return True


def user_cache_root() -> Path:
    """The per-user folder for results that cannot be kept beside their file."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmviz" / "search"


def cache_dir(path: str | Path) -> Path | None:
    """The folder holding cached results for an extraction file, created when needed.

    Beside the file when :func:`may_write_beside` allows, else in :func:`user_cache_root`, in a
    subfolder named for the file's path, size and modification time (the subfolders of the same
    path's older versions, whose results can never be used again, are removed). None when
    neither can be written: the search still runs, its results are just not kept.
    """
    path = Path(path).resolve()
    beside = path.with_name(path.name + ".search")
    if may_write_beside(path):
        try:
            beside.mkdir(exist_ok=True)
            return beside
        except OSError:
            pass
    ident = file_identity(path)
    stem = hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    folder = user_cache_root() / f"{stem}-{ident['size']}-{ident['mtime_ns']}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("search results will not be kept: neither %s nor %s can be written (%s)",
                    beside, folder, e.strerror or e)
        return None
    for old in folder.parent.glob(f"{stem}-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def _file_name(key: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in key)
    return f"{safe}.npz"


def load(folder: Path, key: str, expect: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Arrays cached under ``key``, or None when absent, unreadable or made with other settings.

    ``expect`` holds the metadata that must match (file identity, bins, shifts, version).
    """
    target = folder / _file_name(key)
    if not target.exists():
        return None
    try:
        with np.load(target, allow_pickle=False) as npz:
            meta = json.loads(str(npz[_META]))
            if any(meta.get(k) != v for k, v in expect.items()):
                log.info("%s: stale (made for another file version or settings)", target)
                return None
            found = {k: npz[k] for k in npz.files if k != _META}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        log.warning("%s: unreadable cache, recomputing", target)
        return None
    try:
        os.utime(target)  # used now: the last to go when the folder is trimmed
    except OSError:
        pass
    return found


def save(folder: Path, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path | None:
    """Write arrays and metadata under ``key`` atomically; None when they cannot be written.

    A cache is a convenience: a full disk or a read-only folder costs a recomputation next time,
    never the results in hand.
    """
    target = folder / _file_name(key)
    try:
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays, **{_META: np.array(json.dumps(meta))})
    except OSError as e:
        log.warning("search results not kept in %s (%s); they will be recomputed next time",
                    target, e.strerror or e)
        return None
    return target


def trim(folder: Path, bounded: Callable[[str], bool]) -> list[Path]:
    """Remove the least recently used of the entries ``bounded(key)`` selects, past the limits.

    Limits: ``MAX_BOUNDED_ENTRIES`` entries and ``MAX_BOUNDED_BYTES`` bytes; the most recent entry
    is always kept, however large. Returns the files removed.
    """
    max_entries, max_bytes = MAX_BOUNDED_ENTRIES, MAX_BOUNDED_BYTES
    entries = []
    for item in folder.glob("*.npz"):
        try:
            st = item.stat()
        except OSError:
            continue  # removed by another process meanwhile
        if bounded(item.stem):
            entries.append((st.st_mtime_ns, st.st_size, item))
    entries.sort(key=lambda e: (e[0], e[2].name), reverse=True)
    removed, total = [], 0
    for k, (_, size, item) in enumerate(entries):
        total += size
        if k > 0 and (k >= max_entries or total > max_bytes):
            item.unlink(missing_ok=True)
            removed.append(item)
    if removed:
        log.info("%s: removed %d older result(s) to stay within %d entries and %d MB", folder,
                 len(removed), max_entries, max_bytes >> 20)
    return removed


def expected_meta(path: str | Path, **settings: Any) -> dict[str, Any]:
    """The metadata a cache entry for ``path`` must carry to be used."""
    return {"version": CACHE_VERSION, "file": file_identity(path), **settings}
