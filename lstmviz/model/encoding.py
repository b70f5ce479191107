"""A text file as token ids, read in pieces so its length never matters to memory.

Extraction reads its text twice: :func:`scan_text` checks it (UTF-8, length, characters the
vocabulary lacks, sha256) before any output is made, then :func:`encode_pieces` yields the ids piece
by piece for the output file. Characters the vocabulary lacks are an error listing them with counts,
unless the policy (``--unknown``) skips them or replaces them with a character the vocabulary has.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmviz.errors import OptionError, TextError, VocabError
from lstmviz.model.vocab import Vocab, describe_missing
from lstmviz.textio import BOM, bom_note, not_utf8

log = logging.getLogger(__name__)

PIECE_BYTES = 1 << 20
MIN_TOKENS = 2  # the first prediction needs a next character to score


@dataclass(frozen=True)
class UnknownPolicy:
    """What to do with characters the vocabulary lacks: ``auto``, ``error``, ``skip`` or ``replace:<char>``.

    ``auto`` replaces them by the model's own unknown symbol when its vocabulary has one (as models
    trained with a minimum character count do), and is ``error`` otherwise.

    >>> UnknownPolicy.parse("replace:?").replacement
    '?'
    """

    action: str = "auto"
    replacement: str | None = None

    @classmethod
    def parse(cls, text: str) -> UnknownPolicy:
        """Read the ``--unknown`` option's value."""
        if text in ("auto", "error", "skip"):
            return cls(text)
        if text.startswith("replace:") and len(text) == len("replace:") + 1:
            return cls("replace", text[-1])
        raise OptionError(
            f"--unknown {text!r} is not understood; use 'auto', 'error', 'skip' or 'replace:<one character>'"
        )

    def __str__(self) -> str:
        return f"replace:{self.replacement}" if self.action == "replace" else self.action


@dataclass(frozen=True)
class TextScan:
    """What the first pass learned about a text file."""

    n_bytes: int
    n_chars: int  # without a leading byte-order mark
    n_tokens: int  # after the unknown-character policy
    n_unknown: int  # characters skipped or replaced
    sha256: str


class UnknownCharacters(VocabError):
    """Characters the vocabulary lacks, under the ``error`` policy; ``lacking`` counts them."""

    def __init__(self, lacking: Counter):
        self.lacking = lacking
        super().__init__(describe_missing(lacking))


class Encoder:
    """Maps text pieces to token ids with numpy, applying the unknown-character policy.

    >>> enc = Encoder(Vocab.from_text("abc"), UnknownPolicy.parse("replace:a"))
    >>> enc.encode("cab!")[0].tolist()
    [2, 0, 1, 0]
    """

    def __init__(self, vocab: Vocab, policy: UnknownPolicy):
        self.vocab = vocab
        if policy.action == "auto":
            own = vocab.unknown
            policy = UnknownPolicy("replace", own) if own is not None else UnknownPolicy("error")
        self.policy = policy
        singles = [(ord(s), i) for i, s in enumerate(vocab.symbols) if len(s) == 1]
        codes = np.array([c for c, _ in singles], dtype=np.int64)
        order = np.argsort(codes)
        self._codes = codes[order]
        self._ids = np.array([i for _, i in singles], dtype=np.int32)[order]
        self._replacement: int | None = None  # only "replace" writes replacement ids
        if policy.action == "replace":
            if policy.replacement not in vocab.symbols:
                raise OptionError(
                    f"--unknown replace:{policy.replacement!r}: the vocabulary has no "
                    f"{policy.replacement!r}; pick a character it has, e.g. ' '"
                )
            self._replacement = vocab.symbols.index(policy.replacement)

    def encode(self, piece: str) -> tuple[np.ndarray, Counter]:
        """Token ids (int32) of a piece of text, and the characters it lacked (counted).

        Raises:
            UnknownCharacters: the policy is ``error`` and the piece has characters the
                vocabulary lacks (there is no id to give them).
        """
        if self.vocab.byte_level:
            codes = np.frombuffer(piece.encode("utf-8"), dtype=np.uint8).astype(np.int64)
        else:
            codes = np.frombuffer(piece.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        at = np.searchsorted(self._codes, codes).clip(max=len(self._codes) - 1)
        known = self._codes[at] == codes
        ids = self._ids[at]
        if known.all():
            return ids, Counter()
        values, counts = np.unique(codes[~known], return_counts=True)
        lacking = Counter({chr(int(v)): int(n) for v, n in zip(values, counts, strict=True)})
        if self.policy.action == "error":
            raise UnknownCharacters(lacking)
        if self.policy.action == "skip":
            return ids[known], lacking
        ids[~known] = self._replacement
        return ids, lacking


def text_pieces(path: str | Path, piece_bytes: int = PIECE_BYTES) -> Iterator[tuple[bytes, str]]:
    """(raw bytes, decoded text) pieces of a UTF-8 file; a bad byte is an error naming its offset.

    A leading byte-order mark is left out of the text (not of the bytes): it is not text.
    """
    path = Path(path)
    if not path.exists():
        raise TextError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise TextError(f"{path}: is a folder, not a text file")
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, start, began = 0, b"", False
    with open(path, "rb") as f:
        while True:
            raw = f.read(piece_bytes)
            start = start or raw[:2]
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                bad = (pending + raw)[e.start]
                raise not_utf8(path, offset - len(pending) + e.start, bad, start) from None
            offset += len(raw)
            if text and not began:
                began = True
                text = text.removeprefix(BOM)
            if raw or text:
                yield raw, text
            if not raw:
                return


def scan_text(path: str | Path, encoder: Encoder) -> TextScan:
    """Check a whole text before extraction starts; raises on anything that would stop it later."""
    digest = hashlib.sha256()
    n_bytes = n_chars = n_tokens = 0
    lacking: Counter = Counter()
    for raw, text in text_pieces(path):
        digest.update(raw)
        n_bytes += len(raw)
        n_chars += len(text)
        try:
            ids, missing = encoder.encode(text)
        except UnknownCharacters as e:  # go on counting: the error lists every such character
            ids, missing = (), e.lacking
        n_tokens += len(ids)
        lacking.update(missing)
    if n_chars == 0:
        raise TextError(f"{path}: the file is empty; give a text with at least {MIN_TOKENS} characters")
    if lacking and encoder.policy.action == "error":
        raise UnknownCharacters(lacking)
    if n_tokens < MIN_TOKENS:
        skipped = f" ({n_chars - n_tokens:,} skipped by --unknown skip)" if n_tokens < n_chars else ""
        raise TextError(
            f"{path}: the text has {n_tokens} usable character(s){skipped}; at least {MIN_TOKENS} are "
            "needed (each position is scored on the character after it)"
        )
    with open(path, "rb") as f:
        if f.read(3) == BOM.encode():
            log.warning(bom_note(path))
    return TextScan(n_bytes, n_chars, n_tokens, sum(lacking.values()), digest.hexdigest())


def encode_pieces(path: str | Path, encoder: Encoder) -> Iterator[np.ndarray]:
    """Token ids of a scanned text, piece by piece (int32)."""
    for _, text in text_pieces(path):
        yield encoder.encode(text)[0]
