"""Where search results are kept between runs, and when they are stale.

Results live in a folder beside the extraction, ``<file>.search/`` (or, when that folder cannot be
written, under ``~/.cache/lstmviz/search/``), one ``.npz`` per hypothesis plus ``profile.npz`` for
the per-unit histograms. Each holds the file's size and modification time; a file rewritten by a
new extraction has a new modification time (extraction renames a finished file into place), so its
old results are ignored and recomputed. Writes go to a temporary file renamed into place, so a
reader never sees half a cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from lstmviz.files import atomic_path

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_META = "__meta__"


def file_identity(path: str | Path) -> dict[str, int]:
    """What must stay the same for cached results to stay valid: size and modification time."""
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cache_dir(path: str | Path) -> Path | None:
    """The folder holding cached results for an extraction file, created when needed.

    None when neither place can be written: the search still runs, its results are just not kept.
    """
    path = Path(path).resolve()
    beside = path.with_name(path.name + ".search")
    try:
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside
    except OSError:
        pass
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lstmviz" / "search"
    folder = home / hashlib.sha1(str(path).encode()).hexdigest()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("search results will not be kept: neither %s nor %s can be written (%s)",
                    beside, folder, e.strerror or e)
        return None
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
            return {k: npz[k] for k in npz.files if k != _META}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        log.warning("%s: unreadable cache, recomputing", target)
        return None


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


def expected_meta(path: str | Path, **settings: Any) -> dict[str, Any]:
    """The metadata a cache entry for ``path`` must carry to be used."""
    return {"version": CACHE_VERSION, "file": file_identity(path), **settings}
