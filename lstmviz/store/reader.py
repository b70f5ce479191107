"""Reading an extraction file lazily: windows, predictions and summaries, each checked as read."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmviz.errors import StoreError, UnknownActivation, VocabError
from lstmviz.kinds import GATES, KINDS
from lstmviz.names import Neuron, h5_path, parse_name
from lstmviz.store.checks import (
    all_finite,
    check_header,
    check_span,
    layout_problem,
    not_hdf5,
    opening_problem,
    summary_problems,
)
from lstmviz.store.spec import (
    ACTIVATIONS,
    ATTRIBUTES,
    CHUNK_ROWS,
    DATASETS,
    DECODER,
    HEADER,
    HORIZON_KEYS,
    OPTIONAL_PREFIXES,
    PREDICTION_KEYS,
    PREDICTIONS,
    RANK_KEYS,
    SUMMARY_KEYS,
    SUMMARY_ROOT,
    SYMBOL_IDS,
    TOKENS,
    Dataset,
    Predictions,
    dims,
)


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
            self._open()
        except BaseException:
            self.file.close()
            raise

    def _open(self) -> None:
        """Read the header and refuse one that contradicts itself: every read relies on it.

        Only attributes, the shape and type of ``/tokens`` and the few symbols of ``/vocab`` are
        read, so opening stays instant; every other dataset is checked when first read
        (:meth:`_checked`).
        """
        check_header(self.file)
        try:
            header = {key: ATTRIBUTES[key].parse(self.file.attrs[key]) for key in HEADER}
        except (KeyError, TypeError, ValueError, VocabError) as e:
            raise StoreError(f"{self.path}: the file's header is damaged ({type(e).__name__}: {e}); "
                             "run `lstmviz extract` again") from None
        self.n_tokens: int = header["n_tokens"]
        self.config, self.vocab, self.names = header["model_config"], header["vocab"], header["names"]
        problem = opening_problem(self.file, self.n_tokens, self.config, self.vocab, self.names)
        if problem:
            raise self._damaged(problem)
        self.sizes = dims(self.n_tokens, self.config.n_hidden, len(self.vocab))  # what shapes are in
        if self.file.get(TOKENS) is not None:  # every view needs the text: a file without one is refused
            self._checked(DATASETS[TOKENS])

    def _damaged(self, what: str) -> StoreError:
        """The error for a damaged file: what is wrong, and how to list every problem and start over."""
        return StoreError(f"{self.path}: the file is damaged: {what}; `lstmviz validate` lists every "
                          "problem, and `lstmviz extract` writes the file again")

    def _checked(self, entry: Dataset, name: str | None = None) -> h5py.Dataset:
        """The dataset ``entry`` of the table (for ``name``), once checked to have its shape and dtype.

        Checked once per dataset, from its metadata alone (:func:`~lstmviz.store.checks.layout_problem`).
        """
        path = entry.at(name)
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
        problem = layout_problem(f"dataset {path}", ds.shape, ds.dtype, entry, self.sizes)
        if problem:
            raise self._damaged(problem)
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
        """Every root attribute (metadata), JSON strings left as they are.

        Read once: the file is open read-only, and reading every attribute through h5py costs more
        than a replay's block of arithmetic (a provenance asks for them at every block). A copy is
        returned, so a caller's changes stay its own.
        """
        return dict(self._root_attrs)

    @cached_property
    def _root_attrs(self) -> dict[str, Any]:
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
        return any(k in GATES for k in self.kinds())

    def kinds(self) -> list[str]:
        """Activation kinds present, in canonical order: h, c, then gates i, f, g, o."""
        present = {parse_name(n)[1] for n in self.names}
        return [k for k in KINDS if k in present]

    def activation(self, name: str) -> str:
        """``name``, once checked to be an activation the file holds.

        Raises:
            UnknownActivation: the file lacks it; the message lists what it holds.
        """
        if name not in self.names:
            raise UnknownActivation(
                f"{self.path.name} has no activation {name!r}; available: {', '.join(self.names)}"
            )
        return name

    def neuron(self, neuron: Neuron | str) -> Neuron:
        """A neuron (``Neuron`` or ``"layer1.c.117"``), once checked to be in the file.

        Its activation must be stored and its unit below H. Every reader of a neuron asks here, so
        a neuron the file lacks is refused in the same words wherever it is asked for.

        Raises:
            UnknownActivation: not a neuron, an activation the file lacks, or no such unit.
        """
        n = neuron if isinstance(neuron, Neuron) else Neuron.parse(str(neuron))
        self.activation(n.name)
        if not 0 <= n.unit < self.n_hidden:
            raise UnknownActivation(f"{n.name} has units 0..{self.n_hidden - 1}; there is no unit {n.unit}")
        return n

    def span(self, start: int, stop: int, *, empty: bool = False) -> tuple[int, int]:
        """``(start, stop)``, once checked to be a span of positions within the text.

        ``empty`` lets start equal stop (a read of nothing); otherwise the span holds a position.

        Raises:
            SpanError: the span reaches outside the text, runs backwards, or is empty.
        """
        check_span(start, stop, self.n_tokens, f"the text of {self.path.name}", empty=empty)
        return start, stop

    def _dataset(self, name: str) -> h5py.Dataset:
        return self._checked(ACTIVATIONS[parse_name(self.activation(name))[1]], name)

    def window(
        self, name: str, start: int, stop: int, units: Sequence[int] | int | None = None
    ) -> np.ndarray:
        """Activations at positions [start, stop) as float32: (n, H), or (n, len(units)), or (n,)."""
        start, stop = self.span(start, stop, empty=True)
        ds = self._dataset(name)
        if isinstance(units, int | np.integer):
            self.neuron(Neuron(*parse_name(name), int(units)))
            return _read(ds, np.s_[start:stop, int(units)]).astype(np.float32)
        block = _read(ds, np.s_[start:stop])  # one contiguous slice; units picked in numpy
        if units is not None:
            for u in units:
                self.neuron(Neuron(*parse_name(name), int(u)))
            block = block[:, list(units)]
        return block.astype(np.float32)

    def possible_values(self, name: str, values: np.ndarray, start: int, unit: int) -> np.ndarray:
        """One unit's ``values`` of ``name`` from position ``start``, once checked to be possible.

        NaN, infinity and, for h and the gates, values outside their range (beyond rounding) come
        from damage, never from an LSTM. A viewer can show such a value as missing; a figure made
        for others (an export) must not pass it off as an activation.
        """
        bad = ACTIVATIONS[parse_name(name)[1]].values.impossible(values)
        if bad.any():
            at = int(np.argmax(bad))
            raise self._damaged(f"{Neuron(*parse_name(name), unit)} holds the impossible value "
                                f"{values[at]} at position {start + at}")
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

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Token ids at positions [start, stop)."""
        start, stop = self.span(start, stop, empty=True)
        ds = self._checked(DATASETS[TOKENS])
        return self._symbol_ids(_read(ds, np.s_[start:stop]), TOKENS, start)

    def symbols(self, start: int, stop: int) -> list[str]:
        """One vocabulary symbol per position (a byte as ``chr(b)`` in byte mode)."""
        return [self.vocab.symbols[i] for i in self.tokens(start, stop)]

    def text(self, start: int = 0, stop: int | None = None) -> str:
        """The text of positions [start, stop), decoded (byte mode reassembles UTF-8)."""
        return self.vocab.decode(self.tokens(start, self.n_tokens if stop is None else stop))

    def predictions(self, start: int, stop: int) -> Predictions:
        """Top-5 guesses and the true next symbol's probability and loss at [start, stop)."""
        start, stop = self.span(start, stop, empty=True)
        values = {}
        for key in PREDICTION_KEYS:
            entry = DATASETS[f"{PREDICTIONS}/{key}"]
            values[key] = self._possible(entry, _read(self._checked(entry), np.s_[start:stop]), start)
        return Predictions(**values)

    def _possible(self, entry: Dataset, values: np.ndarray, start: int) -> np.ndarray:
        """``values`` of ``entry`` read from ``start``, once checked to lie in the range the table gives.

        Shown as they are, impossible ones would make a nonsense strip or details box (a 700 % guess),
        or name the wrong symbol.
        """
        if entry.values is SYMBOL_IDS:
            return self._symbol_ids(values, entry.path, start)
        bad = entry.values.impossible(values, self.sizes, start)
        if bad.any():
            first = tuple(np.argwhere(bad)[0])
            raise self._damaged(f"{entry.path} holds the impossible value {values[first]} at "
                                f"position {start + int(first[0])}")
        return values

    def _symbol_ids(self, ids: np.ndarray, where: str, start: int) -> np.ndarray:
        """``ids``, once checked to name vocabulary symbols: a damaged id would index the wrong one."""
        wrong = SYMBOL_IDS.impossible(ids, self.sizes)
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
        self.neuron(Neuron(self.n_layer - 1, "h", unit))
        entry = DATASETS[f"{DECODER}/weight"]
        column = _read(self._checked(entry), np.s_[:, unit]).astype(np.float32)
        if entry.values.impossible(column).any():
            raise self._damaged(f"{DECODER}/weight holds NaN or infinite values for unit {unit}")
        return column

    def summary(self, name: str) -> dict[str, np.ndarray]:
        """Per-unit summary arrays of an activation, computed at extraction time.

        Leaves out the summaries a file may lack: the large ``rank_*`` histograms, which only cell
        search needs (:meth:`rank_histogram`), and the memory horizons (:meth:`horizon`).
        """
        group = self._summary_group(name)
        for key in SUMMARY_KEYS:
            if not isinstance(group.get(key), h5py.Dataset):
                raise self._damaged(f"summary {key!r} of {name} is missing")
        out = {key: _read(group[key], ()) for key in group
               if not key.startswith(OPTIONAL_PREFIXES) and isinstance(group.get(key), h5py.Dataset)}
        self._possible_summaries(name, {key: out[key] for key in SUMMARY_KEYS})
        return out

    def rank_histogram(self, name: str) -> dict[str, np.ndarray] | None:
        """The ``rank_hist``, ``rank_lo`` and ``rank_width`` summaries, or None in files before 1.2."""
        return self._optional_summaries(name, RANK_KEYS)

    def horizon(self, name: str) -> dict[str, np.ndarray] | None:
        """The memory horizons of a c activation, or None where they were not computed.

        ``horizon_median`` and ``horizon_p90`` (H,) are each unit's median and 90th percentile over
        positions of the characters back that hold 90 % of the absolute contributions to c;
        ``horizon_window`` (H,) is the look-back they were measured within (a quantile of
        ``horizon_window + 1`` lies further back) and ``horizon_beyond`` (H,) the share of positions
        whose 90 % lies further back. Files hold them from format 1.3 on when extracted with
        ``--gates``, or once ``lstmviz profile FILE --horizon`` added them.
        """
        return self._optional_summaries(name, HORIZON_KEYS)

    def _optional_summaries(self, name: str, keys: Sequence[str]) -> dict[str, np.ndarray] | None:
        """One family of summaries a file may lack, all of ``keys``, checked; None where none is there."""
        group = self._summary_group(name)
        present = [key for key in keys if key in group]
        if not present:
            return None
        for key in keys:
            if not isinstance(group.get(key), h5py.Dataset):
                raise self._damaged(f"summary {key!r} of {name} is missing while {present[0]!r} is there")
        out = {key: _read(group[key], ()) for key in keys}
        self._possible_summaries(name, out)
        return out

    def _possible_summaries(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Refuse summaries of the wrong shape or with impossible values, which would show as nonsense."""
        problems = summary_problems(name, arrays, self.sizes)
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
