"""A snapshot of an evolution, extracted again: the cell it followed, read character by character.

An evolution file keeps scores, not activations, and names its checkpoints and text by file name
only (the run may have moved since). :func:`find_checkpoint` and :func:`find_text` look for them
beside the evolution file and in the folders beside it (a run's ``*.snapshots`` folder), and
believe a file only when its content is the one recorded (the checkpoint's sha256, the text's
first ``n_chars`` characters' sha256). :func:`snapshot_extraction` extracts a snapshot over the
first :data:`SNAPSHOT_CHARS` characters of that text into a per-user cache folder, never beside
the user's files, named by what it holds, so a second request reads the same file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lstmviz.errors import CheckpointError, TextError
from lstmviz.evolution.records import Evolution
from lstmviz.textio import read_text, sha256_file

SNAPSHOT_CHARS = 20_000  # characters a snapshot is extracted over: seconds of CPU for a 2 x 256 model


def cache_root() -> Path:
    """The per-user folder of snapshot extractions: ``$XDG_CACHE_HOME/lstmviz/snapshots``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmviz" / "snapshots"


def _places(evolution: Evolution) -> list[Path]:
    """The evolution file's folder and the folders in it, where its checkpoints and text are looked for."""
    if evolution.path is None:
        return []
    home = evolution.path.parent
    return [home, *sorted(p for p in home.iterdir() if p.is_dir() and not p.name.startswith("."))]


def _where(evolution: Evolution) -> str:
    home = evolution.path.parent if evolution.path is not None else Path(".")
    return f"{home}/ and the folders in it"


def find_checkpoint(evolution: Evolution, k: int) -> Path:
    """The checkpoint of snapshot ``k``: a file of its name whose sha256 is the one recorded.

    Raises:
        CheckpointError: none found (it was looked for beside the evolution file and one folder down).
    """
    snap = evolution.snapshots[k]
    for place in _places(evolution):
        candidate = place / snap.path
        if candidate.is_file() and sha256_file(candidate) == snap.sha256:
            return candidate
    raise CheckpointError(f"{snap.label}: checkpoint {snap.path} not found in {_where(evolution)} (with the "
                          "content evolve read); put the run's snapshots folder beside the evolution file")


def find_text(evolution: Evolution) -> tuple[Path, str]:
    """The text the evolution read, and its first ``n_chars`` characters.

    Raises:
        TextError: no file of its name holding those characters beside the evolution file or one folder down.
    """
    for place in _places(evolution):
        candidate = place / evolution.text_path
        if candidate.is_file():
            body = read_text(candidate)[: evolution.n_chars]
            if hashlib.sha256(body.encode("utf-8")).hexdigest() == evolution.text_sha256:
                return candidate, body
    raise TextError(f"text {evolution.text_path} not found in {_where(evolution)} (with the characters "
                    "evolve read); put it beside the evolution file")


def extraction_path(evolution: Evolution, k: int, chars: int = SNAPSHOT_CHARS) -> Path:
    """Where snapshot ``k``'s extraction is cached: named by its checkpoint, its text and the length read."""
    snap = evolution.snapshots[k]
    chars = min(chars, evolution.n_chars)
    return cache_root() / f"{snap.sha256[:16]}-{evolution.text_sha256[:16]}-{chars}.h5"


def snapshot_extraction(evolution: Evolution, k: int, *, chars: int = SNAPSHOT_CHARS,
                        device: str = "cpu") -> Path:
    """Snapshot ``k`` extracted over the first ``chars`` characters of the evolution's text (cached).

    Raises:
        CheckpointError: the checkpoint is not where the evolution file is.
        TextError: nor is the text.
    """
    out = extraction_path(evolution, k, chars)
    if out.is_file():
        return out
    from lstmviz.extraction.extract import extract_string  # torch, only when a snapshot is extracted
    from lstmviz.extraction.options import Options

    checkpoint = find_checkpoint(evolution, k)
    _, body = find_text(evolution)
    out.parent.mkdir(parents=True, exist_ok=True)
    return extract_string(checkpoint, body[: min(chars, evolution.n_chars)], out, Options(device=device),
                          force=True)
