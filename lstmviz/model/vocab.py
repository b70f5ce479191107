"""The vocabulary: an ordered list of symbols, either characters or UTF-8 bytes.

Character mode is what most char-LSTM scripts build (sorted unique characters of the training text).
Byte mode is char-rnn's and enwik8's: the text is encoded to UTF-8 and every byte is one step, so a
non-ASCII character takes several steps. Bytes are held as the one-character strings ``chr(b)`` so
both modes share one symbol type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lstmviz.errors import VocabError

UNKNOWN_DEFAULT = "\ufffd"
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def visible(symbol: str) -> str:
    r"""A printable stand-in for whitespace and control symbols, for prediction strips.

    >>> visible(" "), visible("\n"), visible("a")
    ('␣', '↵', 'a')
    """
    if symbol in _VISIBLE:
        return _VISIBLE[symbol]
    if len(symbol) == 1 and (ord(symbol) < 32 or 127 <= ord(symbol) < 160):
        return f"\\x{ord(symbol):02x}"
    return symbol


@dataclass(frozen=True)
class Vocab:
    """Symbols in token-id order, with optional byte mode and unknown-symbol fallback.

    >>> v = Vocab.from_text("hello")
    >>> v.symbols
    ('e', 'h', 'l', 'o')
    >>> v.decode(v.encode("hole"))
    'hole'
    """

    symbols: tuple[str, ...]
    byte_level: bool = False
    unknown: str | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        symbols = tuple(self.symbols)
        object.__setattr__(self, "symbols", symbols)
        if not symbols:
            raise VocabError("the vocabulary is empty; pass one with --vocab FILE")
        if len(set(symbols)) != len(symbols):
            dupes = sorted({s for s in symbols if symbols.count(s) > 1})
            raise VocabError(f"the vocabulary lists {dupes!r} more than once; each symbol must be unique")
        if self.byte_level and any(len(s) != 1 or ord(s) > 255 for s in symbols):
            raise VocabError("a byte-level vocabulary may only hold the 256 byte values")
        if self.unknown is not None and self.unknown not in symbols:
            raise VocabError(f"the unknown symbol {self.unknown!r} is not in the vocabulary")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(symbols)})

    def __len__(self) -> int:
        return len(self.symbols)

    @classmethod
    def from_text(
        cls, text: str, *, byte_level: bool = False, min_count: int = 1, unknown: str | None = None
    ) -> Vocab:
        """The sorted unique symbols of ``text``, as most char-LSTM trainers build them.

        Symbols seen fewer than ``min_count`` times are folded into ``unknown`` (default U+FFFD
        when ``min_count > 1``), which keeps a vocabulary small on text with many rare characters.
        """
        counts = Counter(text.encode("utf-8").decode("latin-1") if byte_level else text)
        if min_count > 1 and not byte_level:
            unknown = unknown or UNKNOWN_DEFAULT
            kept = {s for s, n in counts.items() if n >= min_count} | {unknown}
        else:
            kept = set(counts)
        if unknown is not None:
            kept.add(unknown)
        return cls(tuple(sorted(kept)), byte_level=byte_level, unknown=unknown)

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        """Rebuild from :meth:`to_dict` output."""
        return cls(tuple(data["symbols"]), bool(data.get("byte_level", False)), data.get("unknown"))

    def to_dict(self) -> dict:
        """A JSON- and ``torch.load(weights_only=True)``-safe description."""
        return {"symbols": list(self.symbols), "byte_level": self.byte_level, "unknown": self.unknown}

    def symbols_of(self, text: str) -> str:
        """The text as a string of symbols: itself, or its UTF-8 bytes as ``chr(b)`` in byte mode."""
        return text.encode("utf-8").decode("latin-1") if self.byte_level else text

    def missing(self, text: str) -> Counter:
        """Symbols of ``text`` the vocabulary lacks (and cannot map to its unknown symbol), counted."""
        if self.unknown is not None:
            return Counter()
        index = self._index
        return Counter(s for s in self.symbols_of(text) if s not in index)

    def encode(self, text: str) -> np.ndarray:
        """Token ids, shape (T,), int64; raises listing every symbol outside the vocabulary."""
        symbols = self.symbols_of(text)
        lacking = self.missing(text)
        if lacking:
            raise VocabError(describe_missing(lacking))
        index = self._index
        unk = index.get(self.unknown, -1) if self.unknown is not None else -1
        return np.fromiter((index.get(s, unk) for s in symbols), dtype=np.int64, count=len(symbols))

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Text for token ids; byte mode reassembles UTF-8 (broken sequences become U+FFFD)."""
        joined = "".join(self.symbols[int(i)] for i in ids)
        if self.byte_level:
            return joined.encode("latin-1").decode("utf-8", errors="replace")
        return joined


def describe_missing(
    lacking: Counter,
    what: str = "the text",
    fix: str = "use --unknown skip or --unknown replace:<char>, or a model trained on such text",
    limit: int = 12,
) -> str:
    """One line naming the characters ``what`` has that the vocabulary lacks, with counts, and the fix.

    >>> describe_missing(Counter("éé"), "the prime", "remove them")
    "the prime has 2 character(s) the model's vocabulary lacks: 'é'×2; remove them"
    """
    shown = ", ".join(f"{s!r}×{n}" for s, n in lacking.most_common(limit))
    more = f" and {len(lacking) - limit} more" if len(lacking) > limit else ""
    total = sum(lacking.values())
    return f"{what} has {total} character(s) the model's vocabulary lacks: {shown}{more}; {fix}"
