"""Atomic output files: a temporary sibling that replaces the target only once it is complete.

Every file lstmviz writes (checkpoints, extractions, snippets, caches) goes through here, so an
interrupted run never leaves a half-written file under the final name. ``tempfile.mkstemp`` would
create the file private to its owner (mode 0600); output files get the usual mode that the user's
umask allows, like any file the user creates.

A temporary is named ``.NAME.PID.N.tmp`` after its target and the process writing it. A process
killed outright (``kill -9``, a crash, a lost machine) cannot remove its own, and an extraction's
can hold gigabytes, so the next run for the same output removes those whose writer is gone, and
``lstmviz info FOLDER`` and ``lstmviz serve FOLDER`` list them (:func:`temporaries`). A temporary
is *stale* when both:

* no process with its PID is alive here, or the one alive does not have the file open (its PID
  was reused; seen in ``/proc/PID/fd``; where that cannot be read, a live PID counts as the writer);
* nothing has it open elsewhere: the PID says nothing about a writer in another container or on
  another machine sharing the folder, so an HDF5 file must not be locked (HDF5 locks a file while
  it is open, and the kernel drops the lock when its process dies, even by ``kill -9``; unless
  ``HDF5_USE_FILE_LOCKING=FALSE``), and any other file must not have been written to for
  :data:`QUIET_S` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lstmviz.errors import OptionError

log = logging.getLogger(__name__)

QUIET_S = 60  # a temporary other than HDF5 not written for this long may be stale (see above)
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.\d+\.tmp$")


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

    Stale temporaries of earlier runs for the same ``path`` are removed first (see the module
    docstring), each with a logged warning.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> tmp = temporary_sibling(d / "out.h5"); tmp.name.startswith(".out.h5."), tmp.exists()
    (True, True)
    """
    path = Path(path)
    for old in temporaries(path.parent, path.name):
        if old.stale:
            with contextlib.suppress(FileNotFoundError):  # another run removed it first
                old.path.unlink()
                log.warning("removed %s (%s), left by process %d, which is gone", old.path,
                            human_size(old.size), old.pid)
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



@dataclass(frozen=True)
class Temporary:
    """A temporary output file found in a folder.

    Attributes:
        path: the temporary itself.
        target: the file it becomes once complete.
        pid: the process that created it.
        size: its size in bytes.
        stale: its writer is gone (see the module docstring): it can be removed.
    """

    path: Path
    target: Path
    pid: int
    size: int
    stale: bool

    def describe(self) -> str:
        """One line for a person: what the file is, and the command that removes it when stale.

        >>> Temporary(Path("c/.a.h5.7.0.tmp"), Path("c/a.h5"), 7, 3_900_000_000, True).describe()
        'c/.a.h5.7.0.tmp (3.9 GB): left by process 7, which is gone; remove it with `rm c/.a.h5.7.0.tmp`'
        """
        if self.stale:
            return (f"{self.path} ({human_size(self.size)}): left by process {self.pid}, which is gone; "
                    f"remove it with `rm {shlex.quote(str(self.path))}`")
        return f"{self.path} ({human_size(self.size)}): still being written"


def temporaries(folder: str | Path, target: str | None = None) -> list[Temporary]:
    """The temporary output files in ``folder`` (only those for the file named ``target`` if given).

    >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = temporary_sibling(d / "x.h5")
    >>> [(t.target.name, t.pid == os.getpid(), t.stale) for t in temporaries(d)]
    [('x.h5', True, False)]
    """
    folder = Path(folder)
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for item in entries:
        m = _TEMPORARY.match(item.name)
        if m is None or (target is not None and m["target"] != target):
            continue
        try:
            st = item.stat()
        except OSError:
            continue  # finished or removed meanwhile
        pid = int(m["pid"])
        # Only where PIDs, /proc and advisory locks mean what is said above (on Windows, os.kill kills).
        stale = os.name == "posix" and not _writer_alive(pid, item) and not _open_elsewhere(item, st)
        found.append(Temporary(item, folder / m["target"], pid, st.st_size, stale))
    return found


def _writer_alive(pid: int, path: Path) -> bool:
    """Whether process ``pid`` is alive here and has ``path`` open (a reused PID has not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and another user's
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return not Path("/proc/self/fd").exists()  # exited meanwhile; or no /proc: trust the PID
    except OSError:
        return True  # another user's process: trust the PID
    real = str(path.resolve())
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            if os.readlink(fd) == real:
                return True
    return False


def _open_elsewhere(path: Path, st: os.stat_result) -> bool:
    """Whether a writer this machine's PIDs do not show may still have ``path`` open."""
    import fcntl  # POSIX only, as this check is

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: keep it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # locked: HDF5 (or another writer) holds it open
        fcntl.flock(fd, fcntl.LOCK_UN)
        if kind_of(os.pread(fd, 8, 0)) == "hdf5":
            return False  # an HDF5 writer would hold its lock
    finally:
        os.close(fd)
    return time.time() - st.st_mtime < QUIET_S


def human_size(n: int) -> str:
    """A byte count as a person reads it.

    >>> human_size(3_900_000_000), human_size(512), human_size(2_500_000)
    ('3.9 GB', '512 B', '2.5 MB')
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


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
