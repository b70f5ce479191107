"""Reading text files with errors a user can act on."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from lstmviz.errors import TextError

log = logging.getLogger(__name__)

BOM = "\ufeff"  # a byte-order mark: some editors start UTF-8 files with it; it is not text


def bom_note(path: str | Path) -> str:
    """What to tell a user whose text starts with a byte-order mark, which was left out."""
    return f"{path}: starts with a byte-order mark (U+FEFF), which is not text; it was left out"


def not_utf8(path: Path, offset: int, byte: int, start: bytes) -> TextError:
    """The error for a text that is not UTF-8, with the conversion that fits what it starts with.

    >>> str(not_utf8(Path("t.txt"), 0, 0xFF, b"\\xff\\xfe")).endswith("`iconv -f utf-16 -t utf-8`")
    True
    """
    source = "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "latin1"  # UTF-16 byte-order marks
    return TextError(f"{path}: not UTF-8 text (byte {offset} is 0x{byte:02x}); "
                     f"convert it first, e.g. `iconv -f {source} -t utf-8`")


def read_text(path: str | Path, *, min_chars: int = 1) -> str:
    """Read a UTF-8 text file, naming the byte offset of the first bad byte if it is not UTF-8.

    A leading byte-order mark is left out, with a logged warning: it would otherwise be a character
    no vocabulary has, or one a model learns as the start of every text.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.txt"); _ = open(p, "w").write("\ufeffabc")
    >>> read_text(p)
    'abc'
    """
    path = Path(path)
    if not path.exists():
        raise TextError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise TextError(f"{path}: is a folder, not a text file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TextError(f"{path}: cannot be read ({e.strerror or e}); check that it is readable") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise not_utf8(path, e.start, data[e.start], data[:2]) from None
    if text.startswith(BOM):
        log.warning(bom_note(path))
        text = text[1:]
    if not text:
        raise TextError(f"{path}: the file is empty; give a text with at least {min_chars} character(s)")
    if len(text) < min_chars:
        raise TextError(
            f"{path}: the text has {len(text)} character(s); at least {min_chars} are needed"
        )
    return text


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in blocks so large files need no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def boundary_before(text: str, pos: int, slack: int) -> int:
    """A position at or up to ``slack`` characters before ``pos`` where a line, or else a word, starts.

    A window that opens mid-word reads as a cut; opened at a line or word start, the text around a
    jumped-to place reads from its beginning. Without either within reach, ``pos`` is kept.

    >>> text = "first line\\nsecond line here"
    >>> boundary_before(text, 16, 10), boundary_before(text, 25, 6), boundary_before(text, 25, 2)
    (11, 23, 25)
    """
    pos = max(0, min(pos, len(text)))
    if pos == 0 or text[pos - 1] == "\n":
        return pos
    lo = max(0, pos - slack)
    line = text.rfind("\n", lo, pos)
    if line >= 0:
        return line + 1
    if text[pos - 1] in " \t":
        return pos
    word = max(text.rfind(" ", lo, pos), text.rfind("\t", lo, pos))
    return word + 1 if word >= 0 else pos
