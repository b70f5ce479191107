"""The extraction file: writing it atomically and reading windows of it lazily.

One HDF5 file per (model, text). Every per-character array shares the token axis T; activations are
``[T, H]`` datasets at ``h5_path(name)``, chunked along tokens at a width of a few dozen units, so a
window of one unit and a stream of all units both read few chunks. The format is specified in
``docs/file-format.md``; the root attributes ``encoding-type`` and ``encoding-version`` identify it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmviz.errors import LstmvizError, SchemaVersionError, StoreError, UnknownActivation, VocabError
from lstmviz.files import final_target, kind_of, temporary_sibling
from lstmviz.model.charlstm import LSTMConfig
from lstmviz.model.vocab import Vocab
from lstmviz.names import GATES, KINDS, act_name, h5_path, parse_name
from lstmviz.store.summaries import RANK_KEYS, SUMMARY_KEYS, fixed_range, summary_problems

FORMAT = "lstmviz-states"
VERSION = "1.2"  # 1.1 added /decoder; 1.2 the rank_* summaries
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
SLACK = 1e-3  # how far past its range a stored value may lie: float16 and foreign writers' rounding


def top_k(vocab_size: int) -> int:
    """Guesses stored per position: the top 5, or every symbol of a smaller vocabulary."""
    return min(TOP_K, vocab_size)


def vocab_dataset(vocab: Vocab) -> list[str]:
    """The symbols as ``/vocab`` holds them; the ``vocab`` attribute (JSON) holds them exactly.

    HDF5 strings cannot contain NUL, so a symbol that does (byte 0 of a byte-level vocabulary, or a
    NUL in the text) is stored as the empty string.
    """
    return ["" if "\0" in s else s for s in vocab.symbols]


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


@dataclass
class Predictions:
    """The model's guesses at positions [start, stop): what it predicts *after* reading each symbol."""

    top_ids: np.ndarray  # (n, K) int32, most likely first; K = top_k(V)
    top_probs: np.ndarray  # (n, K) float32
    p_next: np.ndarray  # (n,) float32, probability of the true next symbol; NaN at the text's end
    loss_nats: np.ndarray  # (n,) float32, -ln p_next
    loss_bits: np.ndarray  # (n,) float32, -log2 p_next


class StatesWriter:
    """Builds an extraction file in a temporary sibling, renamed into place only by :meth:`finish`.

    Readers refuse files whose ``complete`` attribute is false, so an interrupted run can never be
    mistaken for a finished one, and the final path only ever holds complete files. Rows are best
    written in blocks whose start and length are multiples of :data:`CHUNK_ROWS`: each then fills
    whole chunks, which HDF5 writes without reading anything back.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        n_tokens: int,
        config: LSTMConfig,
        vocab: Vocab,
        names: Sequence[str],
        dtype: str = "float16",
        c_dtype: str = "float32",
        attrs: dict[str, Any] | None = None,
    ):
        if dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be 'float16' or 'float32', not {dtype!r}")
        self.path = final_target(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = temporary_sibling(self.path)  # the writer is long-lived: no context manager
        try:
            # No chunk cache: activation blocks fill whole chunks, and a write that fails (a full
            # disk) fails in the call, not again in every later flush of cached chunks (pages of
            # errors, then a crash at exit). Second passes read chunk columns (:meth:`read_rows`).
            self.file = h5py.File(self.tmp_path, "w", rdcc_nbytes=0)
            self._create(n_tokens, config, vocab, names, dtype, c_dtype, attrs or {})
        except BaseException:
            self.abort()
            raise

    def _create(self, n_tokens, config, vocab, names, dtype, c_dtype, attrs) -> None:
        f = self.file
        f.attrs["encoding-type"] = FORMAT
        f.attrs["encoding-version"] = VERSION
        f.attrs["complete"] = False
        f.attrs["n_tokens"] = n_tokens
        f.attrs["model_config"] = json.dumps(config.to_dict())
        f.attrs["vocab"] = json.dumps(vocab.to_dict())
        f.attrs["dtype"] = dtype
        f.attrs["c_dtype"] = c_dtype
        f.attrs["names"] = json.dumps(list(names))
        self.set_attrs(attrs)
        f.create_dataset(VOCAB, data=np.array(vocab_dataset(vocab), dtype=h5py.string_dtype()))
        rows = min(n_tokens, CHUNK_ROWS)
        long_rows = min(n_tokens, 1 << 16)
        f.create_dataset(TOKENS, shape=(n_tokens,), dtype="i4", chunks=(long_rows,))
        g = f.create_group(PREDICTIONS)
        K = top_k(len(vocab))
        g.create_dataset("top_ids", shape=(n_tokens, K), dtype="i4", chunks=(rows, K))
        g.create_dataset("top_probs", shape=(n_tokens, K), dtype="f4", chunks=(rows, K))
        for key in ("p_next", "loss_nats", "loss_bits"):
            g.create_dataset(key, shape=(n_tokens,), dtype="f4", chunks=(long_rows,))
        H = config.n_hidden
        for name in names:
            kind = parse_name(name)[1]
            f.create_dataset(
                h5_path(name),
                shape=(n_tokens, H),
                dtype=c_dtype if kind == "c" else dtype,
                chunks=(rows, min(H, CHUNK_UNITS)),
            )

    def write_tokens(self, start: int, tokens: np.ndarray) -> None:
        """Store token ids at positions [start, start + len(tokens))."""
        self.file[TOKENS][start : start + len(tokens)] = tokens

    def read_tokens(self, start: int, stop: int) -> np.ndarray:
        """Token ids already stored at [start, stop), so a long text need not stay in memory."""
        return self.file[TOKENS][start:stop]

    def read_top_ids(self, start: int, stop: int) -> np.ndarray:
        """Top-5 guesses already stored at [start, stop)."""
        return self.file[PREDICTIONS]["top_ids"][start:stop]

    def write_activations(self, start: int, acts: dict[str, np.ndarray]) -> None:
        """Store (n, H) rows of each named activation at positions [start, start + n)."""
        for name, values in acts.items():
            self.file[h5_path(name)][start : start + len(values)] = values

    def write_predictions(self, start: int, predictions: Predictions) -> None:
        """Store the top-5 guesses and true-next statistics at positions [start, start + n)."""
        g = self.file[PREDICTIONS]
        stop = start + len(predictions.p_next)
        for key in PREDICTION_KEYS:
            g[key][start:stop] = getattr(predictions, key)

    def write_summary(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Store per-unit summary arrays of one activation under ``/summaries/<path>/``."""
        group = self.file.require_group(SUMMARY_ROOT + h5_path(name))
        for key, value in arrays.items():
            # rank_hist is H x 2048 counts, mostly zeros: compressed, it takes a few percent
            packed = key.startswith(RANK_PREFIX) and value.ndim == 2
            filters = {"compression": "gzip", "shuffle": True} if packed else {}
            group.create_dataset(key, data=value, **filters)

    def write_decoder(self, weight: np.ndarray, bias: np.ndarray | None) -> None:
        """Store the decoder (V, H) and its bias, so a profile can say what a top-layer unit predicts."""
        group = self.file.require_group(DECODER)
        group.create_dataset("weight", data=np.asarray(weight, dtype=np.float32))
        if bias is not None:
            group.create_dataset("bias", data=np.asarray(bias, dtype=np.float32))

    def read_rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of an activation already written, for a second pass over it.

        Read one column of chunks at a time: without a chunk cache, HDF5 reads a selection that
        spans several chunks' columns row by row, 18x slower (measured on 100 k x 128 float32).
        """
        ds = self.file[h5_path(name)]
        out = np.empty((stop - start, ds.shape[1]), ds.dtype)
        width = ds.chunks[1]
        for u in range(0, ds.shape[1], width):
            out[:, u : u + width] = ds[start:stop, u : u + width]
        return out

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        """Store root attributes; str subclasses (such as ``torch.__version__``) as plain strings."""
        for key, value in attrs.items():
            self.file.attrs[key] = str(value) if isinstance(value, str) else value

    def finish(self, attrs: dict[str, Any] | None = None) -> Path:
        """Add the last attributes, mark complete, close, and move into place."""
        self.set_attrs(attrs or {})
        self.file.attrs["complete"] = True
        self.file.close()
        os.replace(self.tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the final path is left untouched.

        The file is emptied first: on a full disk, HDF5's closing writes (its metadata) would fail,
        and the error would hide the one that stopped the run.
        """
        try:
            if getattr(self, "file", None) is not None and self.file.id.valid:
                with contextlib.suppress(OSError):
                    os.truncate(self.tmp_path, 0)
                self.file.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)


class BackgroundWrites:
    """Runs a writer's row writes on one background thread, so the next block computes meanwhile.

    HDF5 writes release the GIL, so they overlap with torch (which does too) and with waiting on a
    GPU. At most ``depth`` blocks wait in the queue, which bounds the memory they hold. An error in
    the thread (a full disk, say) is raised again in the caller at its next call.
    """

    def __init__(self, writer: StatesWriter, depth: int = 8):
        self.writer = writer
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._work, name="lstmviz-writes", daemon=True)
        self._thread.start()

    def rows(self, start: int, acts: dict[str, np.ndarray], predictions: Predictions) -> None:
        """Queue (n, H) activation rows and their predictions for positions [start, start + n)."""
        self._raise()
        self._jobs.put((start, acts, predictions))

    def drain(self) -> None:
        """Wait until everything queued is written."""
        self._jobs.join()
        self._raise()

    def close(self, cancel: bool = False) -> None:
        """Stop the thread, after writing what is queued unless ``cancel``."""
        self._cancelled = cancel
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None and not self._cancelled:
                    start, acts, predictions = job
                    self.writer.write_activations(start, acts)
                    self.writer.write_predictions(start, predictions)
            except BaseException as e:  # handed to the caller's thread by _raise
                self._error = e
            finally:
                self._jobs.task_done()


def not_hdf5(path: Path) -> str:
    """What a file h5py cannot open is instead, and what to do: the words after its name."""
    with open(path, "rb") as f:
        kind = kind_of(f.read(8))
    if kind == "hdf5":
        return "not a readable HDF5 file (truncated or damaged); run `lstmviz extract` again"
    if kind in ("zip", "pickle"):
        return "a PyTorch checkpoint, not an extraction; extract it over a text: `lstmviz extract MODEL TEXT`"
    what = "an empty file" if kind == "empty" else "not an HDF5 file"
    return f"{what}, not an extraction; make one with `lstmviz extract MODEL TEXT`"


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


def check_header(f: h5py.File) -> None:
    """Refuse foreign, incomplete and other-major-version files with a message saying what to do."""
    kind = text_attr(f.attrs, "encoding-type")
    version = text_attr(f.attrs, "encoding-version", "0")
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
        for kind in ("h", "c"):
            if act_name(kind, layer) not in names:
                problems.append(f"{act_name(kind, layer)} is missing from the 'names' attribute")
        gates = [act_name("gates", layer, g) in names for g in GATES]
        if any(gates) and not all(gates):
            problems.append(f"layer {layer} stores only some of its gates; expected all of i, f, g, o")
    return problems


def impossible_predictions(key: str, values: np.ndarray, start: int, n_tokens: int) -> np.ndarray:
    """Which of ``values``, read from ``/predictions/<key>`` at positions from ``start``, cannot be.

    Probabilities lie in [0, 1] (up to rounding), losses are finite and not negative. Only at the
    text's last position, which no symbol follows, may ``p_next`` and the losses be NaN.
    """
    if key in ("top_probs", "p_next"):
        bad = ~((values >= 0) & (values <= 1 + SLACK))
    else:
        bad = ~(np.isfinite(values) & (values >= 0))
    if key != "top_probs" and len(values) and start + len(values) == n_tokens:
        bad[-1] &= not np.isnan(values[-1])
    return bad


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


class States:
    """Read-only, lazy view of an extraction file; only the slices asked for are read.

    >>> # with open_states("cache/model__val.h5") as s: s.window("layer1.c", 0, 2000, [117])
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such file; create it with `lstmviz extract`")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError:
            raise StoreError(f"{self.path}: {not_hdf5(self.path)}") from None
        self._valid: dict[str, h5py.Dataset] = {}  # datasets whose shape and type were checked
        try:
            check_header(self.file)
            attrs = self.file.attrs
            self.n_tokens = int(attrs["n_tokens"])
            self.config = config_from_attr(attrs["model_config"])
            self.vocab = vocab_from_attr(attrs["vocab"])
            self.names: list[str] = names_from_attr(attrs["names"])
        except (KeyError, TypeError, ValueError, VocabError) as e:
            self.file.close()
            raise StoreError(
                f"{self.path}: the file's header is damaged ({type(e).__name__}: {e}); "
                "run `lstmviz extract` again"
            ) from None
        except BaseException:
            self.file.close()
            raise
        try:
            self._check_layout()
        except BaseException:
            self.file.close()
            raise

    def _check_layout(self) -> None:
        """Refuse a header that contradicts itself or the text's length: every read relies on it.

        Only attributes, the shape and type of ``/tokens`` and the few symbols of ``/vocab`` are
        read, so opening stays instant; every other dataset is checked when first read
        (:meth:`_checked`).
        """
        problems = config_problems(self.config, self.vocab)
        problems += names_problems(self.names, self.config.n_layer) if not problems else []
        if problems:
            raise self._damaged(problems[0])
        tokens = self.file.get(TOKENS)  # None when it cannot be opened: reading it will say so
        if isinstance(tokens, h5py.Dataset) and tokens.ndim == 1 and tokens.shape != (self.n_tokens,):
            raise self._damaged(f"the 'n_tokens' attribute says {self.n_tokens} positions, but {TOKENS} "
                                f"holds {tokens.shape[0]}")
        if tokens is not None:  # every view needs the text: a file without a usable one is refused
            self._checked(TOKENS, (self.n_tokens,), "iu")
        stored = self.file.get(VOCAB)
        if isinstance(stored, h5py.Dataset) and not vocab_matches(stored, self.vocab):
            raise self._damaged(f"dataset {VOCAB} does not match the 'vocab' attribute")

    def _damaged(self, what: str) -> StoreError:
        """The error for a damaged file: what is wrong, and how to list every problem and start over."""
        return StoreError(f"{self.path}: the file is damaged: {what}; `lstmviz validate` lists every "
                          "problem, and `lstmviz extract` writes the file again")

    def _checked(self, path: str, shape: tuple[int, ...], kinds: str) -> h5py.Dataset:
        """The dataset at ``path``, once checked to have the shape and dtype kind the format gives it.

        One of another shape or type (written by a foreign tool, or edited by hand) would fail deep
        inside a reader, or read as nonsense. Checked once per dataset, from its metadata alone.
        """
        ds = self._valid.get(path)
        if ds is not None:
            return ds
        try:
            ds = self.file[path]
        except (KeyError, OSError) as e:  # missing, or its group's index is damaged
            raise StoreError(f"{self.path}: cannot open {path} ({e}); the file is damaged: `lstmviz "
                             "validate` lists every problem, and `lstmviz extract` writes the file again"
                             ) from None
        if not isinstance(ds, h5py.Dataset):
            raise self._damaged(f"{path} is not a dataset")
        if ds.shape != shape:
            raise self._damaged(f"dataset {path} has shape {ds.shape}, expected {shape}")
        if ds.dtype.kind not in kinds:
            wanted = "an integer" if kinds == "iu" else "a float"
            raise self._damaged(f"dataset {path} has dtype {ds.dtype}, expected {wanted} type")
        self._valid[path] = ds
        return ds

    def __enter__(self) -> States:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file handle."""
        self.file.close()

    @property
    def attrs(self) -> dict[str, Any]:
        """Every root attribute (metadata), JSON strings left as they are."""
        return dict(self.file.attrs)

    @property
    def n_layer(self) -> int:
        """Number of LSTM layers."""
        return self.config.n_layer

    @property
    def n_hidden(self) -> int:
        """Units per layer."""
        return self.config.n_hidden

    @property
    def has_gates(self) -> bool:
        """Whether the gates were stored (``lstmviz extract --gates``)."""
        return any(".gates." in n for n in self.names)

    def kinds(self) -> list[str]:
        """Activation kinds present, in canonical order: h, c, then gates i, f, g, o."""
        present = {parse_name(n)[1] for n in self.names}
        return [k for k in KINDS if k in present]

    def _dataset(self, name: str) -> h5py.Dataset:
        if name not in self.names:
            raise UnknownActivation(
                f"{self.path.name} has no activation {name!r}; available: {', '.join(self.names)}"
            )
        return self._checked(h5_path(name), (self.n_tokens, self.n_hidden), "f")

    def _span(self, start: int, stop: int) -> tuple[int, int]:
        if not 0 <= start <= stop <= self.n_tokens:
            raise StoreError(
                f"positions {start}:{stop} are outside the text (0:{self.n_tokens}); "
                f"choose a span within 0 and {self.n_tokens}"
            )
        return start, stop

    def window(
        self, name: str, start: int, stop: int, units: Sequence[int] | int | None = None
    ) -> np.ndarray:
        """Activations at positions [start, stop) as float32: (n, H), or (n, len(units)), or (n,)."""
        start, stop = self._span(start, stop)
        ds = self._dataset(name)
        if isinstance(units, int | np.integer):
            self._check_unit(name, int(units))
            return _read(ds, np.s_[start:stop, int(units)]).astype(np.float32)
        block = _read(ds, np.s_[start:stop])  # one contiguous slice; units picked in numpy
        if units is not None:
            for u in units:
                self._check_unit(name, int(u))
            block = block[:, list(units)]
        return block.astype(np.float32)

    def possible_values(self, name: str, values: np.ndarray, start: int, unit: int) -> np.ndarray:
        """One unit's ``values`` of ``name`` from position ``start``, once checked to be possible.

        NaN, infinity and, for h and the gates, values outside their range (beyond rounding) come
        from damage, never from an LSTM. A viewer can show such a value as missing; a figure made
        for others (an export) must not pass it off as an activation.
        """
        span = fixed_range(parse_name(name)[1])
        bad = ~np.isfinite(values)
        if span is not None:
            bad |= (values < span[0] - SLACK) | (values > span[1] + SLACK)
        if bad.any():
            at = int(np.argmax(bad))
            raise self._damaged(f"{name}.{unit} holds the impossible value {values[at]} at position "
                                f"{start + at}")
        return values

    def _finite(self, name: str, block: np.ndarray, start: int) -> np.ndarray:
        """Rows of ``name`` from ``start``, once checked to hold no NaN or infinity.

        Streaming readers (cell search) do arithmetic over whole columns, which such a value spoils
        or crashes; the check is one reduction over rows already in memory.
        """
        if not all_finite(block):
            raise self.nonfinite_error(name, block, start)
        return block

    def nonfinite_error(self, name: str, block: np.ndarray, start: int) -> StoreError:
        """The error for rows of ``name`` from ``start`` that hold NaN or infinity: where the first is."""
        row, unit = (int(i) for i in np.argwhere(~np.isfinite(block))[0])
        return self._damaged(f"{name} holds {block[row, unit]} at position {start + row}, unit {unit}")

    def _check_unit(self, name: str, unit: int) -> None:
        if not 0 <= unit < self.n_hidden:
            raise UnknownActivation(
                f"{name} has units 0..{self.n_hidden - 1}; there is no unit {unit}"
            )

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Token ids at positions [start, stop)."""
        start, stop = self._span(start, stop)
        ds = self._checked(TOKENS, (self.n_tokens,), "iu")
        return self._symbol_ids(_read(ds, np.s_[start:stop]), TOKENS, start)

    def symbols(self, start: int, stop: int) -> list[str]:
        """One vocabulary symbol per position (a byte as ``chr(b)`` in byte mode)."""
        return [self.vocab.symbols[i] for i in self.tokens(start, stop)]

    def text(self, start: int = 0, stop: int | None = None) -> str:
        """The text of positions [start, stop), decoded (byte mode reassembles UTF-8)."""
        return self.vocab.decode(self.tokens(start, self.n_tokens if stop is None else stop))

    def predictions(self, start: int, stop: int) -> Predictions:
        """Top-5 guesses and the true next symbol's probability and loss at [start, stop)."""
        start, stop = self._span(start, stop)
        K = top_k(len(self.vocab))
        values = {}
        for key in PREDICTION_KEYS:
            shape = (self.n_tokens, K) if key.startswith("top") else (self.n_tokens,)
            ds = self._checked(f"{PREDICTIONS}/{key}", shape, "iu" if key == "top_ids" else "f")
            values[key] = _read(ds, np.s_[start:stop])
            if key != "top_ids":
                self._possible_predictions(key, values[key], start)
        self._symbol_ids(values["top_ids"], f"{PREDICTIONS}/top_ids", start)
        return Predictions(**values)

    def _possible_predictions(self, key: str, values: np.ndarray, start: int) -> None:
        """Refuse a probability outside [0, 1] or a negative, infinite or NaN loss read from ``start``.

        Shown as they are, they would make a nonsense strip or details box (a 700 % guess).
        """
        bad = impossible_predictions(key, values, start, self.n_tokens)
        if bad.any():
            first = tuple(np.argwhere(bad)[0])
            raise self._damaged(f"{PREDICTIONS}/{key} holds the impossible value {values[first]} at "
                                f"position {start + int(first[0])}")

    def _symbol_ids(self, ids: np.ndarray, where: str, start: int) -> np.ndarray:
        """``ids``, once checked to name vocabulary symbols: a damaged id would index the wrong one."""
        wrong = (ids < 0) | (ids >= len(self.vocab))
        if wrong.any():
            first = tuple(np.argwhere(wrong)[0])
            raise self._damaged(f"{where} holds the symbol id {ids[first]} at position "
                                f"{start + int(first[0])}, outside the vocabulary of {len(self.vocab)}")
        return ids

    def decoder_column(self, unit: int) -> np.ndarray | None:
        """The decoder weights from top-layer unit ``unit`` to every symbol, (V,); None before 1.1.

        A positive entry means the unit, when positive, raises that symbol's logit.
        """
        if DECODER not in self.file:
            return None
        self._check_unit(f"layer{self.n_layer - 1}.h", unit)
        ds = self._checked(f"{DECODER}/weight", (len(self.vocab), self.n_hidden), "f")
        column = _read(ds, np.s_[:, unit]).astype(np.float32)
        if not np.isfinite(column).all():
            raise self._damaged(f"{DECODER}/weight holds NaN or infinite values for unit {unit}")
        return column

    def summary(self, name: str) -> dict[str, np.ndarray]:
        """Per-unit summary arrays of an activation, computed at extraction time.

        Leaves out the large ``rank_*`` histograms, which only cell search needs
        (:meth:`rank_histogram`).
        """
        group = self._summary_group(name)
        for key in SUMMARY_KEYS:
            if not isinstance(group.get(key), h5py.Dataset):
                raise self._damaged(f"summary {key!r} of {name} is missing")
        out = {key: _read(group[key], ()) for key in group
               if not key.startswith(RANK_PREFIX) and isinstance(group.get(key), h5py.Dataset)}
        self._possible_summaries(name, {key: out[key] for key in SUMMARY_KEYS})
        return out

    def rank_histogram(self, name: str) -> dict[str, np.ndarray] | None:
        """The ``rank_hist``, ``rank_lo`` and ``rank_width`` summaries, or None in files before 1.2."""
        group = self._summary_group(name)
        present = [key for key in RANK_KEYS if key in group]
        if not present:
            return None
        for key in RANK_KEYS:
            if not isinstance(group.get(key), h5py.Dataset):
                raise self._damaged(f"summary {key!r} of {name} is missing while {present[0]!r} is there")
        out = {key: _read(group[key], ()) for key in RANK_KEYS}
        self._possible_summaries(name, out)
        return out

    def _possible_summaries(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Refuse summaries of the wrong shape or with impossible values, which would show as nonsense."""
        problems = summary_problems(name, arrays, self.n_hidden, self.n_tokens)
        if problems:
            raise self._damaged(problems[0])

    def _summary_group(self, name: str) -> h5py.Group:
        self._dataset(name)
        group = self.file.get(SUMMARY_ROOT + h5_path(name))
        if not isinstance(group, h5py.Group):
            raise StoreError(f"{self.path.name} holds no summaries for {name}; re-run `lstmviz extract`")
        return group

    def blocks(
        self, names: Sequence[str], rows: int = 16 * CHUNK_ROWS
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Stream every activation in ``names`` block by block: (start, {name: (n, H) float32}).

        Memory is bounded by ``rows`` whatever the text length; each block reads whole chunks. A
        block holding NaN or infinity raises :class:`StoreError`: no statistic over it can be right.
        """
        datasets = {n: self._dataset(n) for n in names}
        for start in range(0, self.n_tokens, rows):
            stop = min(start + rows, self.n_tokens)
            yield start, {n: self._finite(n, _read(ds, np.s_[start:stop]).astype(np.float32), start)
                          for n, ds in datasets.items()}

    def read_ahead(
        self, spans: Sequence[tuple[str, int, int]], *, allocate: Callable[..., np.ndarray] = np.empty
    ) -> Iterator[tuple[tuple[str, int, int], np.ndarray]]:
        """Each ``(name, start, stop)`` slice, as stored, read one ahead in a background thread.

        While the caller works on one slice the next is read (h5py releases the GIL while HDF5
        reads), so reading and computing overlap. Slices go to two buffers per dtype, made once by
        ``allocate(shape, dtype)`` and used in turn: a fresh array per slice would cost more than
        the read (its pages are mapped and zeroed anew each time). So a slice is valid only until
        the next is asked for. Slices are not checked for NaN: the caller's arithmetic checks more
        cheaply (see :meth:`nonfinite_error`).
        """
        datasets = {name: self._dataset(name) for name in {s[0] for s in spans}}
        rows = max((b - a for _, a, b in spans), default=0)
        buffers = {ds.dtype: [allocate((rows, self.n_hidden), ds.dtype) for _ in range(2)]
                   for ds in datasets.values()}

        def read(k: int, name: str, a: int, b: int) -> np.ndarray:
            ds = datasets[name]
            return _read(ds, np.s_[a:b], out=buffers[ds.dtype][k % 2][: b - a])

        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = [reader.submit(read, 0, *span) for span in spans[:1]]
            for k, span in enumerate(spans):
                if k + 1 < len(spans):  # into the buffer of slice k - 1, which the caller is done with
                    pending.append(reader.submit(read, k + 1, *spans[k + 1]))
                yield span, pending.pop(0).result()


def _read(ds: h5py.Dataset, selection, out: np.ndarray | None = None) -> np.ndarray:
    """Read a selection (into ``out`` if given), turning HDF5's errors into a :class:`StoreError`."""
    try:
        if out is None:
            return ds[selection]
        ds.read_direct(out, selection)
        return out
    except OSError as e:
        raise StoreError(
            f"{ds.file.filename}: cannot read {ds.name} ({e}); the file is damaged, "
            "run `lstmviz extract` again"
        ) from None


def open_states(path: str | Path) -> States:
    """Open an extraction file for reading, checking its header.

    Raises:
        StoreError: missing, damaged, incomplete or foreign file (a message says what to do).
        SchemaVersionError: a major format version this lstmviz cannot read.
    """
    return States(path)
