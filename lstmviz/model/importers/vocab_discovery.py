"""Finding a model's vocabulary: given with ``--vocab``, saved in the checkpoint, or in a file beside it.

Weights alone do not say which character each output is, so the vocabulary must come from
somewhere:

1. ``--vocab FILE``, which overrides everything else: a ``.json`` file, nanoGPT's ``meta.pkl``, or
   any other file read as text whose sorted unique characters are the vocabulary, as most
   char-LSTM trainers build it.
2. Otherwise every place a trainer leaves one is searched, and every candidate is read
   (:mod:`~lstmviz.model.importers.vocab_forms` lists the names and forms):

   - the checkpoint, at any depth, including the attributes of a pickled model and the
     metadata of a safetensors file;
   - every JSON file beside the weights, whatever its name (``meta.json``, ``config.json``,
     ``vocab.json``, ``tokenizer.json`` …), skipping those named for another checkpoint there;
   - nanoGPT's ``meta.pkl`` (and ``vocab.pkl``), read by an unpickler that builds plain data only.

A candidate counts only when its size equals the decoder's outputs. Of those, names that may
hold other data (``tokens``) come last, then the checkpoint before the files beside it, files
named for the weights (``<stem>.vocab.json``, ``<stem>.json``) first. Candidates of the right
size that disagree are refused: lstmviz cannot know which one the model was trained with. A file
beside the weights that cannot be read is skipped with a note, and is the error only when no
vocabulary is found anywhere.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lstmviz.errors import LstmvizError, TextError, VocabError
from lstmviz.model.importers.containers import walk
from lstmviz.model.importers.plain_pickle import load_plain
from lstmviz.model.importers.vocab_forms import (
    ALL_BYTES,
    is_byte_flag,
    is_generic_key,
    is_vocab_key,
    vocab_from_value,
)
from lstmviz.model.vocab import Vocab, visible
from lstmviz.textio import read_text

log = logging.getLogger(__name__)

PICKLE_NAMES = ("meta.pkl", "vocab.pkl")  # nanoGPT's prepare.py writes meta.pkl
MAX_SIDE_BYTES = 64 << 20  # a larger file beside the weights is data, not a vocabulary
MAX_SIDE_FILES = 100
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
_DEPTH = 16  # vocabularies nest (tokenizer.json keeps one at model.vocab), but not this deep


@dataclass(frozen=True)
class FoundVocab:
    """A vocabulary and where it came from, in words (``checkpoint key 'chars'``)."""

    vocab: Vocab
    source: str
    generic: bool = False  # found under a name that may hold other data, so ranked last
    notes: tuple[str, ...] = ()  # files beside the weights that were skipped, and why


@dataclass
class _Search:
    """What a search found: candidates, broken candidates, and files that could not be read."""

    found: list[FoundVocab] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unread: list[LstmvizError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # names of the files beside the weights read
    left_out: list[str] = field(default_factory=list)  # files beside them that are another model's


def _byte_flag(root: Any) -> bool | None:
    for path, value in walk(root, max_depth=_DEPTH):
        if isinstance(value, bool) and is_byte_flag(path):
            return value
    return None


def candidates(
    root: Any, source: str, *, whole: bool = False, whole_generic: bool = False
) -> tuple[list[FoundVocab], list[str]]:
    """Every vocabulary saved in ``root``, and the problems of those that are broken.

    Args:
        root: a loaded checkpoint, safetensors metadata, or a parsed JSON file.
        source: how to name ``root`` in messages (``checkpoint``, ``file vocab.json``).
        whole: also try ``root`` itself as a vocabulary (a file that is one).
        whole_generic: ``root`` itself, if a vocabulary, is ranked with the generic names
            (a file whose name does not say vocabulary).

    >>> found, _ = candidates({"config": {"itos": ["a", "b"]}}, "checkpoint")
    >>> found[0].source, found[0].vocab.symbols
    ("checkpoint key 'config.itos'", ('a', 'b'))
    """
    flag = _byte_flag(root)
    found, problems = [], []
    for path, value in walk(root, max_depth=_DEPTH):
        if (not path and not whole) or (path and not is_vocab_key(path)):
            continue
        where = f"{source} key '{path}'" if path else source
        try:
            vocab = vocab_from_value(value, flag, path)
        except VocabError as e:
            problems.append(f"{where}: {e}")
            continue
        if vocab is not None:
            generic = is_generic_key(path) if path else whole_generic
            found.append(FoundVocab(vocab, where, generic))
    if not found and flag:
        found.append(FoundVocab(Vocab(ALL_BYTES, byte_level=True), f"{source} (byte_level flag)"))
    return found, problems


def files_beside(weights: Path) -> tuple[list[Path], list[str]]:
    """JSON files and pickled vocabularies beside ``weights``, the most specific first.

    Order: ``<stem>.vocab.json``, ``<stem>.json``, other ``<stem>.*.json``, ``vocab.json``, the
    other JSON files by name, then ``meta.pkl`` and ``vocab.pkl``. A JSON file named for another
    checkpoint in the folder (``austen.json`` beside ``austen.pt``) belongs to that one, and is
    left out; the second list says so, for messages.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for n in ("m.pt", "other.pt", "other.json", "config.json", "m.json", "meta.pkl"):
    ...     _ = (d / n).write_text("{}")
    >>> files, left_out = files_beside(d / "m.pt")
    >>> [p.name for p in files], left_out
    (['m.json', 'config.json', 'meta.pkl'], ["other.json (other.pt's)"])
    """
    folder = weights.parent
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return [], []
    stem = weights.name.rsplit(".", 1)[0]
    checkpoints = {p.name.rsplit(".", 1)[0]: p.name for p in entries
                   if p.suffix.lower() in _CHECKPOINT_SUFFIXES}  # fmt: skip
    checkpoints[stem] = weights.name

    def owner(base: str) -> str | None:
        owners = [s for s in checkpoints if base == s or base.startswith(s + ".")]
        return max(owners, key=len) if owners else None

    def rank(base: str) -> int:
        if base == f"{stem}.vocab":
            return 0
        if base == stem:
            return 1
        return 2 if owner(base) == stem else 3 if base == "vocab" else 4

    jsons, left_out = [], []
    for path in entries:
        if path.suffix.lower() != ".json" or path == weights:
            continue
        belongs = owner(path.name[:-5])
        if belongs in (None, stem):
            jsons.append(path)
        else:
            left_out.append(f"{path.name} ({checkpoints[belongs]}'s)")
    pickles = [folder / n for n in PICKLE_NAMES if (folder / n).is_file() and folder / n != weights]
    files = sorted(jsons, key=lambda p: (rank(p.name[:-5]), p.name)) + pickles
    return files[:MAX_SIDE_FILES], left_out


def _read_json(path: Path, fix: str) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise VocabError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}){fix}"
        ) from None


def _read_side(path: Path) -> Any:
    """A file beside the weights, parsed; raises a typed error naming it when it cannot be."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise TextError(f"{path}: cannot be read ({e.strerror or e})") from None
    if size > MAX_SIDE_BYTES:
        raise VocabError(f"{path}: {size / 1e6:,.0f} MB, too large for a vocabulary file")
    if path.suffix.lower() == ".json":
        return _read_json(path, "")
    try:
        return load_plain(path)
    except OSError as e:
        raise TextError(f"{path}: cannot be read ({e.strerror or e})") from None


def _says_vocab(path: Path) -> bool:
    """Whether a file's name says it is a vocabulary (``vocab.json``, ``m.char2idx.json``)."""
    return any(is_vocab_key(part) and not is_generic_key(part) for part in path.name.split(".")[:-1])


def _search_beside(weights: Path, search: _Search) -> None:
    files, search.left_out = files_beside(weights)
    for path in files:
        search.files.append(path.name)
        try:
            content = _read_side(path)
        except LstmvizError as e:
            log.warning("%s; skipped it", e)
            search.unread.append(e)
            continue
        more, bad = candidates(content, f"file {path}", whole=True, whole_generic=not _says_vocab(path))
        search.found += more
        search.problems += bad


def from_file(path: str | Path) -> list[FoundVocab]:
    """The vocabulary in a file given with ``--vocab``: JSON, a plain pickle, or else a text.

    Raises:
        VocabError: the file is missing, or holds no usable vocabulary.
    """
    path = Path(path)
    if not path.is_file():
        raise VocabError(f"{path}: no such vocabulary file; check the --vocab path")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".pkl", ".pickle"):
        return [FoundVocab(Vocab.from_text(read_text(path)), f"the characters of {path}")]
    if suffix == ".json":
        content = _read_json(path, "; fix it, or pass the vocabulary with --vocab FILE")
    else:
        try:
            content = load_plain(path)
        except VocabError as e:
            raise VocabError(f"{e}; pass a JSON vocabulary with --vocab FILE") from None
    found, problems = candidates(content, f"file {path}", whole=True)
    if found:
        return found
    if problems:
        raise VocabError(problems[0])
    raise VocabError(
        f"{path}: holds no vocabulary; expected a JSON list of symbols in id order, a "
        '{"symbol": id} object, or {"symbols": [...], "byte_level": false}'
    )


def _disagreement(a: Vocab, b: Vocab) -> str | None:
    """How two vocabularies of one size differ, in words; None when they encode text alike."""
    for i, (x, y) in enumerate(zip(a.symbols, b.symbols, strict=True)):
        if x != y:
            return f"id {i} is '{visible(x)}' in one and '{visible(y)}' in the other"
    if a.byte_level != b.byte_level and any(ord(s) > 127 for s in a.symbols):
        return "one reads text as UTF-8 bytes and the other as characters"
    return None


def _choose(fitting: list[FoundVocab], n_symbols: int) -> FoundVocab:
    """The best-named candidate, after checking that every other one agrees with it."""
    best = min(fitting, key=lambda f: f.generic)  # min keeps the first of equals: nearest place
    for other in fitting:
        differs = _disagreement(best.vocab, other.vocab)
        if differs:
            raise VocabError(
                f"two vocabularies of {n_symbols} symbols disagree ({differs}): {best.source} and "
                f"{other.source}; pass the one the model was trained with: --vocab FILE"
            )
    return best


def resolve(
    *, given: str | Path | Vocab | None, roots: list[tuple[Any, str]], weights: Path, n_symbols: int,
    advice: str | None = None,
) -> FoundVocab:
    """The vocabulary for a model whose decoder has ``n_symbols`` outputs.

    Args:
        given: the ``--vocab`` file, which overrides everything else, or a vocabulary itself (the
            one an extraction file stores, when its model is loaded again).
        roots: loaded objects to search, each with its name for messages.
        weights: the checkpoint path, to find the files beside it.
        n_symbols: the decoder's output size; the vocabulary must have exactly this many.
        advice: how to pass a vocabulary when none is found, where the file's kind knows better.

    Raises:
        VocabError: none found, none of the right size (both sizes are named), or two of the
            right size that disagree.
        TextError: no vocabulary anywhere, and a file beside the weights could not be read.
    """
    search = _Search()
    if isinstance(given, Vocab):
        search.found = [FoundVocab(given, "the extraction file")]
    elif given is not None:
        search.found = from_file(given)
    else:
        for root, source in roots:
            more, bad = candidates(root, source)
            search.found += more
            search.problems += bad
        _search_beside(weights, search)
    notes = tuple(f"{e}; skipped it" for e in search.unread)
    fitting = [f for f in search.found if len(f.vocab) == n_symbols]
    if fitting:
        return replace(_choose(fitting, n_symbols), notes=notes)
    if search.found:
        first = min(search.found, key=lambda f: f.generic)
        skipped = f"; skipped as unreadable: {search.unread[0]}" if search.unread else ""
        raise VocabError(
            f"the vocabulary ({first.source}) has {len(first.vocab)} symbols but the model's "
            f"decoder has {n_symbols} outputs; pass the vocabulary it was trained with: "
            f"--vocab FILE{skipped}"
        )
    if search.unread:
        first_error = search.unread[0]
        if isinstance(first_error, TextError):
            raise first_error
        raise VocabError(f"{first_error}; pass the vocabulary with --vocab FILE")
    if search.problems:
        raise VocabError(f"no usable vocabulary: {search.problems[0]}; pass one with --vocab FILE")
    raise _none_found(weights, search, n_symbols, advice)


def _none_found(weights: Path, search: _Search, n_symbols: int, advice: str | None) -> VocabError:
    if search.files:
        shown = ", ".join(search.files[:4]) + (", …" if len(search.files) > 4 else "")
        beside = f"nor do the files beside it ({shown})"
    else:
        beside = "and there is no JSON file or meta.pkl beside it"
    if search.left_out:
        beside += f", except another model's: {', '.join(search.left_out[:3])}"
    hint = (
        ' (256 outputs: if the model reads UTF-8 bytes, pass a JSON file {"byte_level": true})'
        if n_symbols == 256 else ""
    )  # fmt: skip
    advice = advice or (f"pass one with --vocab FILE: a JSON list of the {n_symbols} symbols in id "
                        f"order, or the training text{hint}")
    return VocabError(
        f"{weights}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, "
        f"stoi) {beside}; {advice}"
    )
