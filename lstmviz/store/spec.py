"""The extraction file's format in code: one table of its attributes and datasets.

One HDF5 file per (model, text). Every per-character array shares the token axis T; activations are
``[T, H]`` datasets at ``h5_path(name)``, chunked along tokens at a width of a few dozen units, so a
window of one unit and a stream of all units both read few chunks. The format is specified in
``docs/file-format.md``; the root attributes ``encoding-type`` and ``encoding-version`` identify it.

:data:`ATTRIBUTES`, :data:`DATASETS`, :data:`ACTIVATIONS` and :data:`SUMMARIES` say, for everything
a file holds, where it is, its shape (in T positions, H units, V symbols, K guesses), its dtype, the
values it may hold and the version that introduced it. The writer, the reader and ``lstmviz
validate`` all take these facts from here, so a new dataset is added in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from lstmviz.kinds import KINDS
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab
from lstmviz.names import h5_path
from lstmviz.search.histograms import DEFAULT_BINS as RANK_BINS  # a default search reads them as stored

FORMAT = "lstmviz-states"
VERSION = "1.3"  # 1.1 added /decoder; 1.2 the rank_* summaries; 1.3 the horizon_* summaries of c
CHUNK_ROWS = 4096  # token rows per chunk; writers append in multiples of this
CHUNK_UNITS = 64  # units per chunk
TOP_K = 5
SUMMARY_ROOT = "/summaries"
PREDICTIONS = "/predictions"
DECODER = "/decoder"
TOKENS = "/tokens"
VOCAB = "/vocab"
PREDICTION_KEYS = ("top_ids", "top_probs", "p_next", "loss_nats", "loss_bits")
RANK_PREFIX = "rank_"  # summaries only cell search reads (format 1.2)
HORIZON_PREFIX = "horizon_"  # memory horizons of c (format 1.3): lstmviz.intervene.horizon
SLACK = 1e-3  # how far past its range a stored value may lie: float16 and foreign writers' rounding
STORAGE_TYPES = ("float16", "float32")
N_BINS = 50  # bins of the ``hist`` summary
N_TOP = 20  # strongest positions kept per unit, at most one per segment
SEGMENT = 256  # positions per segment of the ``top_*`` and ``bottom_*`` summaries


def top_k(vocab_size: int) -> int:
    """Guesses stored per position: the top 5, or every symbol of a smaller vocabulary."""
    return min(TOP_K, vocab_size)


def dims(n_tokens: int, n_hidden: int, vocab_size: int) -> dict[str, int]:
    """The dimensions shapes are written in: T positions, H units, V symbols, K guesses.

    >>> dims(100, 16, 3)
    {'T': 100, 'H': 16, 'V': 3, 'K': 3}
    """
    return {"T": n_tokens, "H": n_hidden, "V": vocab_size, "K": top_k(vocab_size)}


@dataclass(frozen=True)
class Values:
    """The values a dataset may hold: a range (bounds may be dimensions, as ``"V"``), finite.

    ``said`` is how a summary that breaks the range is described (a non-finite value is always
    "holds NaN or infinite values").
    """

    lo: float | str = -math.inf
    hi: float | str = math.inf
    lo_open: bool = False  # lo itself excluded (a bin width must be positive)
    hi_open: bool = False  # hi itself excluded (a symbol id must be below V)
    slack: float = 0.0  # allowed past a bound: float16's and foreign writers' rounding
    nan_at_end: bool = False  # NaN allowed at position T-1, which no symbol follows
    rows_sum_to: str | None = None  # a dimension each row (of counts) must add up to
    said: str = "holds impossible values"

    @property
    def dims(self) -> set[str]:
        """The dimensions the range is written in (``V`` for symbol ids), which a check must know."""
        return {b for b in (self.lo, self.hi, self.rows_sum_to) if isinstance(b, str)}

    def bounds(self, sizes: Mapping[str, int] | None = None) -> tuple[float, float]:
        """The range with dimensions resolved, slack not included."""
        lo, hi = ((sizes or {})[b] if isinstance(b, str) else b for b in (self.lo, self.hi))
        return float(lo), float(hi)

    @property
    def bounded(self) -> bool:
        """Whether both bounds are fixed numbers, as the range of h (and not of c)."""
        return all(isinstance(b, float | int) and math.isfinite(b) for b in (self.lo, self.hi))

    def impossible(self, values: np.ndarray, sizes: Mapping[str, int] | None = None,
                   start: int = 0) -> np.ndarray:
        """Which of ``values`` (read from position ``start`` on) cannot be: NaN, infinity, out of range."""
        lo, hi = self.bounds(sizes)
        lo, hi = lo - self.slack, hi + self.slack
        with np.errstate(invalid="ignore"):
            good = values > lo if self.lo_open else values >= lo
            good &= values < hi if self.hi_open else values <= hi
            if values.dtype.kind == "f":
                good &= np.isfinite(values)
        if self.rows_sum_to is not None:
            good &= (values.sum(axis=-1, keepdims=True) == (sizes or {})[self.rows_sum_to])
        bad = ~good
        if self.nan_at_end and len(values) and sizes is not None and start + len(values) == sizes["T"]:
            bad[-1] &= ~np.isnan(values[-1])
        return bad


FINITE = Values()
SYMBOL_IDS = Values(0, "V", hi_open=True)
PROBABILITIES = Values(0, 1 + SLACK)  # rounding can only pass 1
FRACTIONS = Values(0, 1, said="holds fractions outside [0, 1]")
COUNTS = Values(0, rows_sum_to="T", said="holds counts that do not add up to the {T} positions")
LOOK_BACKS = Values(1, said="holds look-backs shorter than 1 character")


@dataclass(frozen=True)
class Dataset:
    """One dataset of the format, or a family of them: one per activation, or per summary of one.

    ``path`` is written as ``docs/file-format.md`` writes it; :meth:`at` gives a real one.
    """

    path: str
    shape: tuple[str | int, ...]  # dimensions (T, H, V, K) or fixed sizes
    kinds: str  # numpy dtype kinds it may have: "iu" integers, "f" floats, "OSU" strings
    values: Values | None  # None: strings, not checked
    since: str = "1.0"  # the format version that introduced it
    family: str = ""  # "activation" or "summary": one per activation, at :meth:`at`
    when: str = ""  # the model_config flag without which it is absent

    def at(self, name: str | None = None) -> str:
        """The path in a file; ``name`` is the activation for the families."""
        if self.family == "activation":
            return h5_path(name)
        if self.family == "summary":
            return f"{SUMMARY_ROOT}{h5_path(name)}/{self.path.rsplit('/', 1)[1]}"
        return self.path

    def shape_in(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The shape with dimensions resolved.

        >>> DATASETS["/predictions/top_ids"].shape_in(dims(100, 16, 3))
        (100, 3)
        """
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

    @property
    def wanted(self) -> str:
        """The dtype kinds in words, as an error message says them."""
        return "an integer" if self.kinds == "iu" else "a float"


DATASETS: dict[str, Dataset] = {d.path: d for d in (
    Dataset(VOCAB, ("V",), "OSU", None),  # the symbols; one holding NUL is stored as ""
    Dataset(TOKENS, ("T",), "iu", SYMBOL_IDS),
    Dataset(f"{PREDICTIONS}/top_ids", ("T", "K"), "iu", SYMBOL_IDS),  # most likely first
    Dataset(f"{PREDICTIONS}/top_probs", ("T", "K"), "f", PROBABILITIES),
    Dataset(f"{PREDICTIONS}/p_next", ("T",), "f", Values(0, 1 + SLACK, nan_at_end=True)),
    Dataset(f"{PREDICTIONS}/loss_nats", ("T",), "f", Values(0, nan_at_end=True)),
    Dataset(f"{PREDICTIONS}/loss_bits", ("T",), "f", Values(0, nan_at_end=True)),
    Dataset(f"{DECODER}/weight", ("V", "H"), "f", FINITE, since="1.1"),
    Dataset(f"{DECODER}/bias", ("V",), "f", FINITE, since="1.1", when="decoder_bias"),
)}

# Every kind of activation, in the range the kinds' table gives (stored values may pass it by the
# rounding SLACK); h and the gates are stored as the ``dtype`` attribute says, c as ``c_dtype``.
ACTIVATIONS: dict[str, Dataset] = {
    key: Dataset(f"/layer{{L}}/{key.replace('.', '/')}", ("T", "H"), "f",
                 Values(*kind.value_range, slack=SLACK) if kind.value_range else FINITE, family="activation")
    for key, kind in KINDS.items()
}

_PER_UNIT = ("H",)
SUMMARIES: dict[str, Dataset] = {d.path.rsplit("/", 1)[1]: d for d in (
    Dataset("/summaries/<activation>/mean", _PER_UNIT, "f", FINITE, family="summary"),
    Dataset("/summaries/<activation>/std", _PER_UNIT, "f", Values(0, said="holds negative values"),
            family="summary"),  # population standard deviation
    Dataset("/summaries/<activation>/min", _PER_UNIT, "f", FINITE, family="summary"),
    Dataset("/summaries/<activation>/max", _PER_UNIT, "f", FINITE, family="summary"),
    Dataset("/summaries/<activation>/hist", ("H", N_BINS), "iu", COUNTS, family="summary"),
    Dataset("/summaries/<activation>/hist_lo", _PER_UNIT, "f", FINITE, family="summary"),
    Dataset("/summaries/<activation>/hist_hi", _PER_UNIT, "f", FINITE, family="summary"),
    Dataset("/summaries/<activation>/sat_hi", _PER_UNIT, "f", FRACTIONS, family="summary"),
    Dataset("/summaries/<activation>/sat_lo", _PER_UNIT, "f", FRACTIONS, family="summary"),
    Dataset("/summaries/<activation>/top_pos", ("H", N_TOP), "iu",
            Values(-1, "T", hi_open=True, said="holds positions outside the text"), family="summary"),
    Dataset("/summaries/<activation>/top_val", ("H", N_TOP), "f", None, family="summary"),
    Dataset("/summaries/<activation>/bottom_pos", ("H", N_TOP), "iu",
            Values(-1, "T", hi_open=True, said="holds positions outside the text"), family="summary"),
    Dataset("/summaries/<activation>/bottom_val", ("H", N_TOP), "f", None, family="summary"),
    Dataset("/summaries/<activation>/rank_hist", ("H", RANK_BINS), "iu", COUNTS, since="1.2",
            family="summary"),
    Dataset("/summaries/<activation>/rank_lo", _PER_UNIT, "f", FINITE, since="1.2", family="summary"),
    Dataset("/summaries/<activation>/rank_width", _PER_UNIT, "f",
            Values(0, lo_open=True, said="has bins that are not positive"), since="1.2", family="summary"),
    # Of c only: per position, the characters back that hold 90 % of the absolute contributions to c
    # (docs/provenance.md); the median and 90th percentile over positions, measured within a
    # look-back of horizon_window characters, horizon_window + 1 standing for "further back".
    Dataset("/summaries/<activation>/horizon_median", _PER_UNIT, "iu", LOOK_BACKS, since="1.3",
            family="summary"),
    Dataset("/summaries/<activation>/horizon_p90", _PER_UNIT, "iu", LOOK_BACKS, since="1.3",
            family="summary"),
    Dataset("/summaries/<activation>/horizon_beyond", _PER_UNIT, "f", FRACTIONS, since="1.3",
            family="summary"),
    Dataset("/summaries/<activation>/horizon_window", _PER_UNIT, "iu", LOOK_BACKS, since="1.3",
            family="summary"),
)}
OPTIONAL_PREFIXES = (RANK_PREFIX, HORIZON_PREFIX)  # summaries a file MAY hold, each family all or none
SUMMARY_KEYS = tuple(key for key in SUMMARIES if not key.startswith(OPTIONAL_PREFIXES))
RANK_KEYS = tuple(key for key in SUMMARIES if key.startswith(RANK_PREFIX))  # all or none (1.2)
HORIZON_KEYS = tuple(key for key in SUMMARIES if key.startswith(HORIZON_PREFIX))  # all or none, c only (1.3)
# What the table's ranges cannot say: pairs that must be ordered, and values that need only be
# finite where their position is used (a text of fewer than N_TOP segments leaves -1 and NaN).
ORDERED = (("min", "max"), ("hist_lo", "hist_hi"), ("horizon_median", "horizon_p90"))
WINDOWED = (("horizon_median", "horizon_window"), ("horizon_p90", "horizon_window"))  # at most window + 1
EXTREMES = (("top_pos", "top_val"), ("bottom_pos", "bottom_val"))



def text_attr(attrs: h5py.AttributeManager, key: str, default: str | None = None) -> str | None:
    """A string attribute, whether written as variable-length (h5py) or fixed-length bytes (C, MATLAB)."""
    value = attrs.get(key, default)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def is_complete(attrs: h5py.AttributeManager) -> bool:
    """The ``complete`` flag, read strictly: only a true boolean (or integer 1) says complete.

    A string such as "false" is truthy in Python; a file that says so must not pass for complete.
    """
    flag = attrs.get("complete", False)
    return isinstance(flag, (bool, np.bool_, np.integer)) and bool(flag)


def config_from_attr(value: Any) -> LSTMConfig:
    """The ``model_config`` attribute as an :class:`LSTMConfig`; ValueError or TypeError if it is not one."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    return LSTMConfig(**data)


def vocab_from_attr(value: Any) -> Vocab:
    """The ``vocab`` attribute as a :class:`Vocab`; ValueError, TypeError or VocabError if it is not one."""
    data = json.loads(value)
    symbols = data.get("symbols") if isinstance(data, dict) else None
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ValueError("expected a JSON object whose 'symbols' is a list of strings")
    return Vocab.from_dict(data)


def names_from_attr(value: Any) -> list[str]:
    """The ``names`` attribute as a list of strings; ValueError if it is not one."""
    names = json.loads(value)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("expected a JSON list of activation names")
    return names


@dataclass(frozen=True)
class Attribute:
    """One root attribute every file carries; readers check the first three before anything else."""

    key: str
    parse: Callable[[Any], Any]  # stored value -> meaning; ValueError, TypeError or KeyError if none
    choices: tuple[str, ...] = ()  # the only values it may take, if so limited
    since: str = "1.0"


ATTRIBUTES: dict[str, Attribute] = {a.key: a for a in (
    Attribute("encoding-type", str),  # always FORMAT; checked first (checks.check_header)
    Attribute("encoding-version", str),  # MAJOR.MINOR
    Attribute("complete", bool),  # read strictly: :func:`is_complete`
    Attribute("n_tokens", int),  # T
    Attribute("model_config", config_from_attr),  # JSON; H is its n_hidden
    Attribute("vocab", vocab_from_attr),  # JSON; V is its number of symbols
    Attribute("names", names_from_attr),  # JSON list of the activations stored, in order
    Attribute("dtype", str, STORAGE_TYPES),  # storage of h and the gates
    Attribute("c_dtype", str, STORAGE_TYPES),  # storage of c
)}
HEADER = ("n_tokens", "model_config", "vocab", "names")  # what a reader parses on opening


def vocab_dataset(vocab: Vocab) -> list[str]:
    """The symbols as ``/vocab`` holds them; the ``vocab`` attribute (JSON) holds them exactly.

    HDF5 strings cannot contain NUL, so a symbol that does (byte 0 of a byte-level vocabulary, or a
    NUL in the text) is stored as the empty string.
    """
    return ["" if "\0" in s else s for s in vocab.symbols]


@dataclass
class Predictions:
    """The model's guesses at positions [start, stop): what it predicts *after* reading each symbol."""

    top_ids: np.ndarray  # (n, K) int32, most likely first; K = top_k(V)
    top_probs: np.ndarray  # (n, K) float32
    p_next: np.ndarray  # (n,) float32, probability of the true next symbol; NaN at the text's end
    loss_nats: np.ndarray  # (n,) float32, -ln p_next
    loss_bits: np.ndarray  # (n,) float32, -log2 p_next
