"""Atomic output files: a temporary sibling that replaces the target only once it is complete.

Every file lstmviz writes (checkpoints, extractions, snippets, caches) goes through here, so an
interrupted run never leaves a half-written file under the final name. ``tempfile.mkstemp`` would
create the file private to its owner (mode 0600); output files get the usual mode that the user's
umask allows, like any file the user creates.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path: str | Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` and return its path.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> tmp = temporary_sibling(d / "out.h5"); tmp.name.startswith(".out.h5."), tmp.exists()
    (True, True)
    """
    path = Path(path)
    for attempt in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{attempt}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot create a temporary file beside {path}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any error it is removed.

    >>> import tempfile; target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
