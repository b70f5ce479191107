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

from lstmviz.errors import OptionError


def kind_of(head: bytes) -> str:
    """What a file's first bytes say it is, so a wrong file gets advice for what it really is.

    ``empty``, ``hdf5``, ``zip`` (``torch.save``'s format), ``pickle`` (its legacy one) or ``other``.

    >>> kind_of(b""), kind_of(b"\\x89HDF\\r\\n\\x1a\\n..."), kind_of(b"PK\\x03\\x04"), kind_of(b"\\x80\\x02")
    ('empty', 'hdf5', 'zip', 'pickle')
    """
    if not head:
        return "empty"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return "pickle" if head[:1] == b"\x80" else "other"


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


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (same device and inode): through links, hard links or ``..``.

    A path that does not exist is no file at all, so it is the same as nothing.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = (d / "a").write_text("x")
    >>> (d / "b").hardlink_to(d / "a"); (d / "c").symlink_to(d / "a")
    >>> same_file(d / "a", d / "b"), same_file(d / "c", d / "." / "a"), same_file(d / "a", d / "none")
    (True, True, False)
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path, inputs: tuple[str | Path, ...] = (), *, example: str,
                 force: bool = True) -> Path:
    """The output path, once it is sure a file can be written there: fail before the work, not after.

    Creates the folder when missing. ``example`` is a file name to suggest when ``path`` names a
    folder; ``inputs`` are files the run reads, which it must not overwrite, whatever the path
    that names them (:func:`same_file`). With ``force`` false an existing file is refused, for a
    command whose ``--force`` was not given.
    """
    if str(path) == "":
        raise OptionError(f"-o is empty; give a file name such as {example}")
    if str(path).endswith(("/", os.sep)) or Path(path).is_dir():
        raise OptionError(f"{path}: is a folder; give a file name for -o, e.g. {Path(path) / example}")
    path = final_target(path)
    if any(same_file(path, p) for p in inputs):
        raise OptionError(f"{path}: -o names an input of this run; choose another output file")
    if path.exists() and not force:
        other = f"OTHER{path.suffix}"
        raise OptionError(f"{path} already exists; pass --force to replace it, or choose -o {other}")
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise OptionError(f"{path}: {folder} is a file, not a folder; choose another -o path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary_sibling(path).unlink()
    except OSError as e:
        raise OptionError(f"{path}: cannot write there ({e.strerror or e}); choose another -o path") from None
    return path


def final_target(path: str | Path) -> Path:
    """Where a finished output lands: the file a symbolic link names, and never a special file.

    Renaming over a link would replace the link, not the file it points to; renaming over a device
    or a pipe (``-o /dev/null``) would put a regular file in its place.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); (d / "link").symlink_to(d / "real.txt")
    >>> final_target(d / "link") == (d / "real.txt").resolve()
    True
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file() and not path.is_dir():
        raise OptionError(f"{path} is not a regular file (a device, pipe or socket); "
                          "give the path of a file to write")
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any error it is removed.

    Through a symbolic link the file it names is replaced, and the link kept (:func:`final_target`).

    >>> import tempfile; target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = final_target(path)
    tmp = None
    try:  # created inside: a Ctrl-C just after the file appears still removes it
        tmp = temporary_sibling(path)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
