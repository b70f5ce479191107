"""Writing an extraction file atomically: a temporary sibling, renamed into place when complete."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmviz.files import final_target, temporary_sibling
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab
from lstmviz.names import h5_path, parse_name
from lstmviz.store.spec import (
    ACTIVATIONS,
    CHUNK_ROWS,
    CHUNK_UNITS,
    DATASETS,
    DECODER,
    FORMAT,
    PREDICTION_KEYS,
    PREDICTIONS,
    RANK_PREFIX,
    SUMMARY_ROOT,
    TOKENS,
    VERSION,
    VOCAB,
    Predictions,
    dims,
    vocab_dataset,
)


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
        sizes = dims(n_tokens, config.n_hidden, len(vocab))
        rows = min(n_tokens, CHUNK_ROWS)
        for path in (TOKENS, *(f"{PREDICTIONS}/{key}" for key in PREDICTION_KEYS)):
            entry = DATASETS[path]  # 32-bit; a 1-D one in longer chunks
            shape = entry.shape_in(sizes)
            f.create_dataset(entry.path, shape=shape, dtype="i4" if entry.kinds == "iu" else "f4",
                             chunks=(rows, *shape[1:]) if len(shape) > 1 else (min(n_tokens, 1 << 16),))
        for name in names:
            kind = parse_name(name)[1]
            f.create_dataset(
                ACTIVATIONS[kind].at(name),
                shape=ACTIVATIONS[kind].shape_in(sizes),
                dtype=c_dtype if kind == "c" else dtype,
                chunks=(rows, min(config.n_hidden, CHUNK_UNITS)),
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


