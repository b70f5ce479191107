"""Finding a model's vocabulary: given with ``--vocab``, saved in the checkpoint, or in a file beside it.

Weights alone do not say which character each output is, so the vocabulary must come from
somewhere. In order:

1. ``--vocab FILE``: a ``.json`` file (see below), or any other file read as text whose sorted
   unique characters are the vocabulary, as most char-LSTM trainers build it.
2. The checkpoint: any key (at any depth, also attributes of a pickled model) named like
   ``vocab``, ``chars``, ``itos``, ``stoi``, ``char_to_ix``, ``idx2char`` … (see :data:`VOCAB_KEYS`).
3. A JSON file beside the weights: ``<stem>.vocab.json``, ``<stem>.json``, then ``vocab.json``.

A vocabulary value may be a string of the characters, a list of symbols in id order, an
``{id: symbol}`` dict, a ``{symbol: id}`` dict, lstmviz's ``{"symbols": [...], "byte_level": ...}``,
or bytes. When several are found, the first whose size equals the decoder's output wins.

Byte-level rule (text fed as UTF-8 bytes, one step per byte): a vocabulary is byte-level when a
``byte_level`` (or ``bytes``, ``use_bytes``) flag beside it says so, when its entries are byte
values (ints 0-255 or one-byte ``bytes``), or when it is exactly the 256 one-character strings
``chr(0)`` … ``chr(255)`` in order. A flag ``byte_level: false`` keeps it character-level. A flag
alone, with no symbols, stands for all 256 bytes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lstmviz.errors import VocabError
from lstmviz.model.importers.containers import walk
from lstmviz.model.vocab import Vocab
from lstmviz.textio import read_text

VOCAB_KEYS = (
    "vocab", "vocabulary", "itos", "stoi", "chars", "characters", "symbols", "tokens",
    "alphabet", "charset", "id_to_char", "idx_to_char", "ix_to_char", "int_to_char",
    "index_to_char", "id_to_token", "idx_to_token", "char_to_ix", "char_to_idx", "char_to_id",
    "char_to_int", "char_to_index", "token_to_id", "ctoi", "vocab_itos", "vocab_stoi",
)  # fmt: skip
BYTE_FLAG_KEYS = ("byte_level", "bytes", "use_bytes", "byte_vocab")
ALL_BYTES = tuple(chr(b) for b in range(256))
_SPECIAL = re.compile(r"<[^<>\s]+>")  # <unk>, <pad>, <eos>: kept, never produced by encoding


def _norm(key: str) -> str:
    """``idx2char``, ``idx_to_char`` and ``IdxToChar`` all become ``idxtochar``."""
    return re.sub(r"[^a-z0-9]", "", key.lower()).replace("2", "to")


_VOCAB_NORMS = {_norm(k) for k in VOCAB_KEYS}
_FLAG_NORMS = {_norm(k) for k in BYTE_FLAG_KEYS}


def is_vocab_key(key: str) -> bool:
    """Whether a checkpoint key is one a vocabulary is saved under.

    >>> is_vocab_key("idx2char"), is_vocab_key("char_to_ix"), is_vocab_key("vocab_size")
    (True, True, False)
    """
    return _norm(key.rsplit(".", 1)[-1]) in _VOCAB_NORMS


@dataclass(frozen=True)
class FoundVocab:
    """A vocabulary and where it came from, in words (``checkpoint key 'chars'``)."""

    vocab: Vocab
    source: str


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
    elif all(isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in entries):
        as_bytes = all(e < 256 for e in entries)  # else Unicode code points
        symbols = [chr(e) for e in entries]
    else:
        return None
    if len(set(symbols)) != len(symbols):
        dupes = [s for s, n in Counter(symbols).items() if n > 1]
        raise VocabError(f"it lists {', '.join(map(repr, dupes[:5]))} more than once")
    return symbols, as_bytes


def _is_symbol_key(key: Any) -> bool:
    if isinstance(key, bytes):
        return len(key) == 1
    return isinstance(key, str) and (len(key) == 1 or bool(_SPECIAL.fullmatch(key)))


def _by_index(pairs: list[tuple[int, Any]], what: str) -> list[Any]:
    indices = sorted(i for i, _ in pairs)
    if indices != list(range(len(pairs))):
        raise VocabError(f"its {what} ids are not 0…{len(pairs) - 1} (found {indices[:5]}…)")
    return [v for _, v in sorted(pairs, key=lambda p: p[0])]


def vocab_from_value(value: Any, byte_flag: bool | None = None) -> Vocab | None:
    """Read one saved vocabulary value; None when it is not one.

    Raises:
        VocabError: it is meant as a vocabulary but is broken (ids with gaps, duplicates, words).

    >>> vocab_from_value({"b": 1, "a": 0}).symbols
    ('a', 'b')
    >>> vocab_from_value(list(range(256))).byte_level
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
        keys, vals = list(value), list(value.values())
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in vals)
        if ints and all(_is_symbol_key(k) for k in keys):
            entries = _by_index([(v, k) for k, v in value.items()], "symbol-to-id")
        elif all(isinstance(k, int) or (isinstance(k, str) and k.isdigit()) for k in keys):
            entries = _by_index([(int(k), v) for k, v in value.items()], "id-to-symbol")
        else:
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


def _byte_flag(root: Any) -> bool | None:
    for path, value in walk(root):
        if isinstance(value, bool) and _norm(path.rsplit(".", 1)[-1]) in _FLAG_NORMS:
            return value
    return None


def candidates(root: Any, source: str, *, whole: bool = False) -> tuple[list[FoundVocab], list[str]]:
    """Every vocabulary saved in ``root``, and the problems of those that are broken.

    Args:
        root: a loaded checkpoint, safetensors metadata, or a parsed JSON file.
        source: how to name ``root`` in messages (``checkpoint``, ``file vocab.json``).
        whole: also try ``root`` itself as a vocabulary (JSON files).
    """
    flag = _byte_flag(root)
    found, problems = [], []
    for path, value in walk(root):
        if isinstance(value, torch.Tensor):
            continue
        if (not path and not whole) or (path and not is_vocab_key(path)):
            continue
        where = f"{source} key '{path}'" if path else source
        try:
            vocab = vocab_from_value(value, flag)
        except VocabError as e:
            problems.append(f"{where}: {e}")
            continue
        if vocab is not None:
            found.append(FoundVocab(vocab, where))
    if not found and flag:
        found.append(FoundVocab(Vocab(ALL_BYTES, byte_level=True), f"{source} (byte_level flag)"))
    return found, problems


def sidecar_paths(weights: Path) -> list[Path]:
    """Where a vocabulary JSON beside ``weights`` may be, most specific first.

    >>> [p.name for p in sidecar_paths(Path("runs/austen.pt"))]
    ['austen.vocab.json', 'austen.json', 'vocab.json']
    """
    stem = weights.name.rsplit(".", 1)[0]
    return [weights.with_name(f"{stem}.vocab.json"), weights.with_name(f"{stem}.json"),
            weights.with_name("vocab.json")]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise VocabError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
            "fix it, or pass the vocabulary with --vocab FILE"
        ) from None


def from_file(path: str | Path) -> list[FoundVocab]:
    """The vocabulary in a file given with ``--vocab``: JSON by its ``.json`` suffix, else text.

    Raises:
        VocabError: the file is missing, or holds no usable vocabulary.
    """
    path = Path(path)
    if not path.is_file():
        raise VocabError(f"{path}: no such vocabulary file; check the --vocab path")
    if path.suffix.lower() != ".json":
        return [FoundVocab(Vocab.from_text(read_text(path)), f"the characters of {path}")]
    found, problems = candidates(_read_json(path), f"file {path}", whole=True)
    if found:
        return found
    if problems:
        raise VocabError(problems[0])
    raise VocabError(
        f"{path}: holds no vocabulary; expected a JSON list of symbols in id order, a "
        '{"symbol": id} object, or {"symbols": [...], "byte_level": false}'
    )


def resolve(
    *, given: str | Path | None, roots: list[tuple[Any, str]], weights: Path, n_symbols: int,
    advice: str | None = None,
) -> FoundVocab:
    """The vocabulary for a model whose decoder has ``n_symbols`` outputs.

    Args:
        given: the ``--vocab`` file, which overrides everything else.
        roots: loaded objects to search, each with its name for messages.
        weights: the checkpoint path, to find JSON files beside it.
        n_symbols: the decoder's output size; the vocabulary must have exactly this many.
        advice: how to pass a vocabulary when none is found, where the file's kind knows better.

    Raises:
        VocabError: none found, or none of the right size (both sizes are named).
    """
    problems: list[str] = []
    if given is not None:
        found = from_file(given)
    else:
        found = []
        for root, source in roots:
            more, bad = candidates(root, source)
            found += more
            problems += bad
        for side in sidecar_paths(weights):
            if side.is_file():
                more, bad = candidates(_read_json(side), f"file {side}", whole=True)
                found += more
                problems += bad
    for option in found:
        if len(option.vocab) == n_symbols:
            return option
    if found:
        first = found[0]
        raise VocabError(
            f"the vocabulary ({first.source}) has {len(first.vocab)} symbols but the model's "
            f"decoder has {n_symbols} outputs; pass the vocabulary it was trained with: --vocab FILE"
        )
    if problems:
        raise VocabError(f"no usable vocabulary: {problems[0]}; pass one with --vocab FILE")
    names = ", ".join(p.name for p in sidecar_paths(weights))
    hint = (
        ' (256 outputs: if the model reads UTF-8 bytes, pass a JSON file {"byte_level": true})'
        if n_symbols == 256 else ""
    )
    advice = advice or (f"pass one with --vocab FILE: a JSON list of the {n_symbols} symbols in id "
                        f"order, or the training text{hint}")
    raise VocabError(
        f"{weights}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, "
        f"stoi) and there is no {names} beside it; {advice}"
    )
