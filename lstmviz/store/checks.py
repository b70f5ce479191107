"""The format's rules applied to what a file holds, in plain words.

The reader refuses a file (or a read) with the first problem found here; ``lstmviz validate`` lists
them all, so both say the same thing. The rules themselves are the table in
:mod:`lstmviz.store.spec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from lstmviz.errors import LstmvizError, SchemaVersionError, SpanError, StoreError
from lstmviz.files import kind_of
from lstmviz.kinds import GATES, KINDS
from lstmviz.model.config import LSTMConfig
from lstmviz.model.importers.keras_files import keras_hdf5_kind, keras_kind
from lstmviz.model.vocab import Vocab
from lstmviz.names import act_name, parse_name
from lstmviz.store.spec import (
    EXTREMES,
    FORMAT,
    ORDERED,
    SUMMARIES,
    TOKENS,
    VERSION,
    VOCAB,
    WINDOWED,
    Dataset,
    is_complete,
    text_attr,
    vocab_dataset,
)

KERAS_MODEL = ("a Keras model, not an extraction; extract it over a text: "
               "`lstmviz extract MODEL TEXT --vocab train.txt`")


def not_hdf5(path: Path) -> str:
    """What a file h5py cannot open is instead, and what to do: the words after its name."""
    with open(path, "rb") as f:
        kind = kind_of(f.read(8))
    if kind == "hdf5":
        return "not a readable HDF5 file (truncated or damaged); run `lstmviz extract` again"
    if keras_kind(path) is not None:
        return KERAS_MODEL
    if kind in ("zip", "pickle"):
        return "a PyTorch checkpoint, not an extraction; extract it over a text: `lstmviz extract MODEL TEXT`"
    what = "an empty file" if kind == "empty" else "not an HDF5 file"
    return f"{what}, not an extraction; make one with `lstmviz extract MODEL TEXT`"


def check_header(f: h5py.File) -> None:
    """Refuse foreign, incomplete and other-major-version files with a message saying what to do."""
    kind = text_attr(f.attrs, "encoding-type")
    version = text_attr(f.attrs, "encoding-version", "0")
    if kind is None and keras_hdf5_kind(f) is not None:
        raise StoreError(f"{f.filename}: {KERAS_MODEL}")
    if kind != FORMAT:
        raise StoreError(
            f"{f.filename}: not an lstmviz extraction (no '{FORMAT}' header); "
            "create one with `lstmviz extract MODEL TEXT`"
        )
    if version.split(".")[0] != VERSION.split(".")[0]:
        raise SchemaVersionError(
            f"{f.filename}: format version {version} is not readable by this lstmviz "
            f"(reads {VERSION.split('.')[0]}.x); re-run `lstmviz extract` or upgrade lstmviz"
        )
    if not is_complete(f.attrs):
        raise StoreError(
            f"{f.filename}: the extraction is incomplete (it was interrupted); "
            "run `lstmviz extract` again"
        )


def check_span(start: int, stop: int, n_tokens: int, text: str = "the text", *, empty: bool = False) -> None:
    """Refuse a span [start, stop) that is not within a text of ``n_tokens`` positions.

    ``text`` names the text in the message (``the text of val.h5``); ``empty`` lets start equal
    stop, as a read of nothing may. Every caller words the refusal so, whatever it reads.

    >>> check_span(3, 9, 5)
    Traceback (most recent call last):
    lstmviz.errors.SpanError: span 3:9 is not within the text (0:5); give START:END with 0 <= START < END <= 5
    """
    if not (0 <= start <= stop <= n_tokens and (empty or start < stop)):
        raise SpanError(f"span {start}:{stop} is not within {text} (0:{n_tokens}); "
                        f"give START:END with 0 <= START < END <= {n_tokens}")


def has_version(version: str | None, since: str) -> bool:
    """Whether a file of ``version`` must hold what format ``since`` introduced.

    A version that is not MAJOR.MINOR counts as the newest: its file is checked for everything.

    >>> has_version("1.0", "1.1"), has_version("1.2", "1.1"), has_version("x", "1.2")
    (False, True, True)
    """
    try:
        return tuple(int(p) for p in str(version).split(".")) >= tuple(int(p) for p in since.split("."))
    except ValueError:
        return True


def vocab_matches(ds: h5py.Dataset, vocab: Vocab) -> bool:
    """Whether a ``/vocab`` dataset lists the ``vocab`` attribute's symbols (as :func:`vocab_dataset`).

    The two are written together from one vocabulary; when they differ, one was damaged or edited,
    and the text shown from the attribute may not be the text the model read.
    """
    if ds.ndim != 1 or ds.dtype.kind not in "OSU":
        return False
    try:
        stored = [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]
    except (OSError, UnicodeDecodeError):
        return False
    return stored == vocab_dataset(vocab)


def config_problems(config: LSTMConfig, vocab: Vocab) -> list[str]:
    """What in the model's shape cannot be, in plain words: every dataset's shape follows from it."""
    problems = []
    for key in ("vocab_size", "n_layer", "n_hidden"):
        value = getattr(config, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"model_config gives {key} = {value!r}, not a positive whole number")
    if isinstance(config.vocab_size, int) and config.vocab_size != len(vocab):
        problems.append(f"model_config gives vocab_size = {config.vocab_size}, but the 'vocab' attribute "
                        f"holds {len(vocab)} symbols")
    return problems


def names_problems(names: Sequence[str], n_layer: int) -> list[str]:
    """What in the ``names`` attribute contradicts the format, in plain words.

    Readers list a file's activations from it: a name that is not one, or names a layer the model
    lacks, or twice, would reach every reader (the dashboard's lists, the search's tables).
    """
    problems = []
    for name in dict.fromkeys(names):
        try:
            layer, _ = parse_name(name)
        except LstmvizError:
            problems.append(f"{name!r} in the 'names' attribute is not an activation name")
            continue
        if layer >= n_layer:
            problems.append(f"{name} names layer {layer}, but the model has {n_layer} layer(s)")
        if names.count(name) > 1:
            problems.append(f"{name} is listed {names.count(name)} times in the 'names' attribute")
    for layer in range(n_layer):
        for kind in (k for k in KINDS.values() if not k.is_gate):
            if act_name(layer, kind.key) not in names:
                problems.append(f"{act_name(layer, kind.key)} is missing from the 'names' attribute")
        gates = [act_name(layer, g) in names for g in GATES]
        if any(gates) and not all(gates):
            problems.append(f"layer {layer} stores only some of its gates; expected all of "
                            f"{', '.join(KINDS[g].symbol for g in GATES)}")
    return problems


def opening_problem(f: h5py.File, n_tokens: int, config: LSTMConfig, vocab: Vocab,
                    names: Sequence[str]) -> str | None:
    """The first thing a reader opening ``f`` finds its header contradicting, or None.

    The model's shape, the names, the text's length and the vocabulary are checked against each
    other and against the shape of ``/tokens`` and the symbols of ``/vocab``: cheap, so every
    opening checks them.
    """
    problems = config_problems(config, vocab)
    problems += names_problems(names, config.n_layer) if not problems else []
    if problems:
        return problems[0]
    tokens = f.get(TOKENS)  # None when it cannot be opened: reading it will say so
    if isinstance(tokens, h5py.Dataset) and tokens.ndim == 1 and tokens.shape != (n_tokens,):
        return f"the 'n_tokens' attribute says {n_tokens} positions, but {TOKENS} holds {tokens.shape[0]}"
    stored = f.get(VOCAB)
    if isinstance(stored, h5py.Dataset) and not vocab_matches(stored, vocab):
        return f"dataset {VOCAB} does not match the 'vocab' attribute"
    return None


def layout_problem(what: str, shape: tuple[int, ...], dtype: np.dtype, entry: Dataset,
                   sizes: Mapping[str, int]) -> str | None:
    """What about a dataset's shape or dtype contradicts the table, or None.

    ``what`` names it (``dataset /tokens``, ``summary 'mean' of layer0.h``). One of another shape or
    type (written by a foreign tool, or edited by hand) would fail deep inside a reader, or read as
    nonsense; this needs its metadata alone.
    """
    expected = entry.shape_in(sizes)
    if shape != expected:
        return f"{what} has shape {shape}, expected {expected}"
    if dtype.kind not in entry.kinds:
        return f"{what} has dtype {dtype}, expected {entry.wanted} type"
    return None


def summary_problems(name: str, arrays: Mapping[str, np.ndarray], sizes: Mapping[str, int]) -> list[str]:
    """What makes one activation's summaries (as read from a file) impossible, in plain words.

    Readers show these numbers as they are: a profile's statistics, histogram and strongest
    contexts, the colour range of raw c, the ranks of cell search. A value damaged on disk would
    show as nonsense there (a NaN mean, a histogram of negative counts, a context past the text's
    end), so readers refuse summaries with any of these problems and ``lstmviz validate`` lists them.
    Checks only the keys present in ``arrays``; each is a few numbers per unit, so this costs little.
    """
    problems, whole = [], {}
    for key, values in arrays.items():
        what = f"summary {key!r} of {name}"
        problem = layout_problem(what, values.shape, values.dtype, SUMMARIES[key], sizes)
        if problem:
            problems.append(problem)
        else:
            whole[key] = values
    bad: dict[str, str] = {}  # key -> what is wrong with it; the first problem of each key
    for key, entry in SUMMARIES.items():
        values, rule = whole.get(key), entry.values
        if values is None or rule is None:
            continue
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad[key] = "holds NaN or infinite values"
        elif rule.impossible(values, sizes).any():
            bad[key] = rule.said.format(**sizes)
    for low, high in ORDERED:
        if low in whole and high in whole and low not in bad and np.any(whole[low] > whole[high]):
            bad[low] = f"lies above {high!r}"
    for look_back, window in WINDOWED:
        if look_back in whole and window in whole and look_back not in bad and window not in bad \
                and np.any(whole[look_back] > whole[window] + 1):
            bad[look_back] = f"lies beyond {window!r} + 1"
    for pos, val in EXTREMES:
        if pos in whole and val in whole:
            used = whole[pos] >= 0  # unused entries of a short text hold NaN by design
            if np.any(used & ~np.isfinite(whole[val])):
                bad[val] = "holds NaN or infinite values"
    return problems + [f"summary {key!r} of {name} {what}" for key, what in bad.items()]


def all_finite(block: np.ndarray) -> bool:
    """Whether a block of activations holds no NaN or infinity, without a temporary of floats.

    float16 (how h and the gates are stored) has no fast reductions in numpy: its bits are
    checked instead, a non-finite value being one whose exponent bits are all set.
    """
    if block.size == 0:
        return True
    if block.dtype == np.float16:
        return int(np.bitwise_and(np.ascontiguousarray(block).view(np.uint16), 0x7FFF).max()) < 0x7C00
    return bool(np.isfinite(block.min()) and np.isfinite(block.max()))
