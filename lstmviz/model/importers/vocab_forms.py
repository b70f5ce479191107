"""Reading one saved vocabulary value, in every form trainers save it, and the names they save it under.

Forms: a string of the characters; a list of characters (or of ``<special>`` tokens); a list of
byte values 0-255 or of one-byte ``bytes``; a ``{symbol: id}`` dict; an ``{id: symbol}`` dict
(JSON writes the ids as strings: ``"0"``, ``"1"`` …); lstmviz's own ``{"symbols": [...],
"byte_level": ...}``. A mapping's name says which way it goes when its contents cannot:
``char_to_ix`` and ``stoi`` map symbols to ids, ``ix_to_char`` and ``itos`` ids to symbols, and
``byte_to_id`` / ``id_to_byte`` hold byte values.

Byte-level rule (text fed as UTF-8 bytes, one step per byte): a vocabulary is byte-level when a
``byte_level`` (or ``bytes``, ``use_bytes``) flag beside it says so, when its entries are byte
values (ints 0-255 or one-byte ``bytes``), or when it is exactly the 256 one-character strings
``chr(0)`` … ``chr(255)`` in order. A flag ``byte_level: false`` keeps it character-level.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import torch

from lstmviz.errors import VocabError
from lstmviz.model.vocab import Vocab

VOCAB_KEYS = (
    "vocab", "vocabulary", "itos", "stoi", "chars", "characters", "symbols", "tokens",
    "alphabet", "charset", "id_to_char", "idx_to_char", "ix_to_char", "int_to_char",
    "index_to_char", "id_to_token", "idx_to_token", "char_to_ix", "char_to_idx", "char_to_id",
    "char_to_int", "char_to_index", "token_to_id", "token_to_idx", "ctoi", "vocab_itos",
    "vocab_stoi", "id_to_byte", "byte_to_id",
)  # fmt: skip
"""Names trainers save a vocabulary under. Any other ``X_to_Y`` / ``X2Y`` name between a symbol
word (char, token, byte …) and an id word (id, idx, ix, int …) counts too."""
GENERIC_KEYS = ("tokens", "symbols")
"""Names that may hold something else (the token ids of a text); others of the right size win."""
BYTE_FLAG_KEYS = ("byte_level", "bytes", "use_bytes", "byte_vocab")
ALL_BYTES = tuple(chr(b) for b in range(256))
TO_ID = "symbol-to-id"
TO_SYMBOL = "id-to-symbol"
_SPECIAL = re.compile(r"<[^<>\s]+>")  # <unk>, <pad>, <eos>: kept, never produced by encoding
_SYMBOL_WORDS = {"char", "chars", "c", "ch", "s", "sym", "symbol", "token", "tok", "letter", "byte",
                 "bytes", "b"}  # fmt: skip
_BYTE_WORDS = {"byte", "bytes", "b"}
_ID_WORDS = {"i", "ix", "idx", "id", "ids", "int", "index", "num"}


def _norm(key: str) -> str:
    """``idx2char``, ``idx_to_char`` and ``IdxToChar`` all become ``idxtochar``."""
    return re.sub(r"[^a-z0-9]", "", key.lower()).replace("2", "to")


_VOCAB_NORMS = {_norm(k) for k in VOCAB_KEYS}
_GENERIC_NORMS = {_norm(k) for k in GENERIC_KEYS}
_FLAG_NORMS = {_norm(k) for k in BYTE_FLAG_KEYS}


def _leaf(key: str) -> str:
    return _norm(key.rsplit(".", 1)[-1])


def direction(key: str) -> tuple[str, bool] | None:
    """Which way a mapping named ``key`` goes, and whether its symbols are bytes; None if unnamed.

    >>> direction("char_to_ix"), direction("itos"), direction("id2byte"), direction("vocab")
    (('symbol-to-id', False), ('id-to-symbol', False), ('id-to-symbol', True), None)
    """
    name = _leaf(key)
    if name.startswith("vocab") and len(name) > len("vocab"):
        name = name[len("vocab") :]
    for match in re.finditer("to", name):
        left, right = name[: match.start()], name[match.end() :]
        if left in _SYMBOL_WORDS and right in _ID_WORDS:
            return TO_ID, left in _BYTE_WORDS
        if left in _ID_WORDS and right in _SYMBOL_WORDS:
            return TO_SYMBOL, right in _BYTE_WORDS
    return None


def is_vocab_key(key: str) -> bool:
    """Whether a checkpoint key is one a vocabulary is saved under.

    >>> is_vocab_key("idx2char"), is_vocab_key("token_to_index"), is_vocab_key("vocab_size")
    (True, True, False)
    """
    return _leaf(key) in _VOCAB_NORMS or direction(key) is not None


def is_generic_key(key: str) -> bool:
    """A vocabulary name that may also hold other data (``tokens``): ranked after the others."""
    return _leaf(key) in _GENERIC_NORMS


def is_byte_flag(key: str) -> bool:
    """Whether a key is a byte-level flag's (``byte_level``, ``use_bytes`` …)."""
    return _leaf(key) in _FLAG_NORMS


def _symbols(entries: list[Any]) -> tuple[list[str], bool] | None:
    """Symbols for a list of entries, and whether the entries were bytes; None if not a vocab."""
    if all(isinstance(e, str) for e in entries):
        words = [e for e in entries if len(e) != 1 and not _SPECIAL.fullmatch(e)]
        if words:
            raise VocabError(
                f"it holds multi-character tokens ({', '.join(map(repr, words[:3]))}); "
                "lstmviz reads character-level models"
            )
        symbols, as_bytes = list(entries), False
    elif all(isinstance(e, bytes) and len(e) == 1 for e in entries):
        symbols, as_bytes = [chr(e[0]) for e in entries], True
    elif all(_is_int(e) and e >= 0 for e in entries):
        as_bytes = all(e < 256 for e in entries)  # else Unicode code points
        symbols = [chr(e) for e in entries]
    else:
        return None
    if len(set(symbols)) != len(symbols):
        dupes = [s for s, n in Counter(symbols).items() if n > 1]
        raise VocabError(f"it lists {', '.join(map(repr, dupes[:5]))} more than once")
    return symbols, as_bytes


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(key: Any) -> bool:
    """An id as a dict key: an int, or the digits JSON turns one into."""
    return _is_int(key) or (isinstance(key, str) and key.isascii() and key.isdigit())


def _is_symbol_key(key: Any) -> bool:
    if isinstance(key, bytes):
        return len(key) == 1
    return isinstance(key, str) and (len(key) == 1 or bool(_SPECIAL.fullmatch(key)))


def _by_index(pairs: list[tuple[int, Any]], what: str) -> list[Any]:
    indices = sorted(i for i, _ in pairs)
    if indices != list(range(len(pairs))):
        raise VocabError(f"its {what} ids are not 0…{len(pairs) - 1} (found {indices[:5]}…)")
    return [v for _, v in sorted(pairs, key=lambda p: p[0])]


def _mapping_entries(value: Mapping, name: str) -> list[Any] | None:
    """The entries in id order of a ``{symbol: id}`` or ``{id: symbol}`` dict; None if neither.

    The name decides first (``byte_to_id`` keys are byte values, even written as ``"97"``); the
    contents decide when the name says nothing or does not fit.
    """
    keys, values = list(value), list(value.values())
    named = direction(name)
    ways = [named] if named else []
    if all(_is_int(v) for v in values) and all(_is_symbol_key(k) for k in keys):
        ways.append((TO_ID, False))
    if all(_is_id(k) for k in keys):
        ways.append((TO_SYMBOL, False))
    for way, of_bytes in ways:
        if way == TO_ID and all(_is_int(v) for v in values):
            symbols = [int(k) if of_bytes and _is_id(k) else k for k in keys]
            return _by_index(list(zip(values, symbols, strict=True)), TO_ID)
        if way == TO_SYMBOL and all(_is_id(k) for k in keys):
            return _by_index([(int(k), v) for k, v in value.items()], TO_SYMBOL)
    return None


def vocab_from_value(value: Any, byte_flag: bool | None = None, name: str = "") -> Vocab | None:
    """Read one saved vocabulary value; None when it is not one.

    Args:
        value: what was saved: a string, list, dict, bytes, or a :class:`Vocab`.
        byte_flag: a ``byte_level`` flag found beside it, which overrides what the entries say.
        name: the key it was saved under, which tells a mapping's direction.

    Raises:
        VocabError: it is meant as a vocabulary but is broken (ids with gaps, duplicates, words).

    >>> vocab_from_value({"b": 1, "a": 0}).symbols
    ('a', 'b')
    >>> vocab_from_value({"0": 104, "1": 195}, name="id_to_byte").byte_level
    True
    """
    unknown = None
    if isinstance(value, Vocab):
        return value
    if hasattr(value, "tolist") and not isinstance(value, torch.Tensor):  # a NumPy array
        value = value.tolist()
    if isinstance(value, Mapping) and isinstance(value.get("symbols"), (list, tuple, str)):
        flag = value.get("byte_level")
        byte_flag = flag if isinstance(flag, bool) else byte_flag
        unknown, entries = value.get("unknown"), list(value["symbols"])
    elif isinstance(value, Mapping) and value:
        entries = _mapping_entries(value, name)
        if entries is None:
            return None
    elif isinstance(value, str):
        entries = list(value)
    elif isinstance(value, (bytes, bytearray)):
        entries = [bytes([b]) for b in value]
    elif isinstance(value, (list, tuple)) and value:
        entries = list(value)
    else:
        return None
    read = _symbols(entries)
    if read is None:
        return None
    symbols, as_bytes = read
    byte_level = byte_flag if byte_flag is not None else as_bytes or tuple(symbols) == ALL_BYTES
    return Vocab(tuple(symbols), byte_level=byte_level, unknown=unknown)
