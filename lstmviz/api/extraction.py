"""An extraction file opened from Python: lazy arrays, DataFrames, figures and the dashboard.

:class:`Extraction` is what ``lstmviz.open`` and ``lstmviz.extract`` return. Everything it gives
is read from the file when asked for, a window at a time (:mod:`lstmviz.api.views`), through the
same reader, search and renderer as the command line, so its numbers, figures and error messages
are the command line's.

Worked example, on the bundled model and the first 1,000 characters of its text:

>>> import lstmviz
>>> from lstmviz.demo import MODEL, TEXT
>>> ex = lstmviz.extract(MODEL, TEXT.read_text()[:1000], device="cpu")
>>> len(ex), ex.names[:2], len(ex.neurons)
(1000, ['layer0.h', 'layer0.c'], 1536)
>>> ex.text[:11]
'Azerbaijan '
>>> ex["layer2.c.182"][100:105].shape, ex["layer2.c"][100:105, [182, 3]].shape
((5,), (5, 2))
>>> ex.predictions(0, 6)[["char", "next", "top1"]].to_numpy().tolist()
[['A', 'z', ' '], ['z', 'e', ' '], ['e', 'r', ' '], ['r', 'b', 'i'], ['b', 'a', 'o'], ['a', 'i', 'c']]
>>> ex.show("layer2.c.182", 100, 50)
<Figure of layer2.c.182 at positions 100..149>
>>> ex["layer9.c.1"]  # doctest: +ELLIPSIS
Traceback (most recent call last):
lstmviz.errors.UnknownKey: wiki_lstm__text.h5 has no activation 'layer9.c'; available: layer0.h, ...
>>> ex.close()
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmviz.api.figure import Figure
from lstmviz.api.intervening import Interventions
from lstmviz.api.views import ActivationView, NeuronView, TextView, positions, python_errors
from lstmviz.errors import (
    BadIndex,
    ExtractionClosed,
    ExtractionNotFound,
    OptionError,
    SearchError,
    StoreError,
    UnknownActivation,
)
from lstmviz.model.vocab import Vocab
from lstmviz.names import Neuron, parse_name
from lstmviz.render.spec import ExportSpec
from lstmviz.store.reader import States, open_states
from lstmviz.store.spec import SUMMARIES, SUMMARY_KEYS

if TYPE_CHECKING:
    from lstmviz.search.hypotheses import Hypothesis

# per-unit summaries that are one number per unit, shown as columns by :meth:`Extraction.summaries`
SUMMARY_COLUMNS = tuple(k for k in SUMMARY_KEYS if SUMMARIES[k].shape == ("H",))


def _is_activation(name: str) -> bool:
    try:
        parse_name(name)
    except UnknownActivation:
        return False
    return True


def open_extraction(path: str | Path) -> Extraction:
    """Open an extraction file (``lstmviz extract``'s output) for reading from Python.

    Only the header is read; everything else is read when asked for. Close it with ``close()`` or
    a ``with`` block (a garbage-collected Extraction is closed too).

    Raises:
        ExtractionNotFound: no such file (a ``FileNotFoundError`` too).
        StoreError: not an extraction, incomplete, damaged, or of a format version this lstmviz
            cannot read; the message says what to do, as ``lstmviz info`` would.

    >>> open_extraction("cache/none.h5")
    Traceback (most recent call last):
    lstmviz.errors.ExtractionNotFound: cache/none.h5: no such file; create it with `lstmviz extract`
    """
    path = Path(path)
    try:
        return Extraction(open_states(path))
    except StoreError as e:
        if not path.exists():
            raise ExtractionNotFound(str(e)) from None
        raise


def _release(states: States, dashboards: list[Any], temporary: Path | None) -> None:
    """Stop the dashboards, close the file, remove a temporary extraction: what closing means."""
    for dashboard in dashboards:
        dashboard.stop()
    states.close()
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)


class Extraction(Interventions):
    """An open extraction file: ``len(ex)`` positions, lazy views by name, tables, figures.

    * ``ex.text[a:b]``: the text at positions [a, b).
    * ``ex["layer1.c.117"][a:b]``: one neuron, (n,) float32; ``ex["layer1.c"][a:b, units]``: one
      activation, (n, H) or (n, len(units)). Only positions [a, b) are read.
    * ``ex.predictions(a, b)``, ``ex.summaries()``, ``ex.search(...)``: pandas DataFrames.
    * ``ex.show(neurons, start, length)``: a figure that shows itself in a notebook.
    * ``ex.serve()``: the dashboard on this file, in the background.
    * ``ex.intervene(...)``, ``ex.provenance(...)``, ``ex.causal(...)``: the file's model run again
      (:mod:`lstmviz.api.intervening`), found once as ``lstmviz intervene`` finds it.

    Bad input raises the errors of :mod:`lstmviz.errors`, worded as the command line words them;
    a name the file lacks is a ``KeyError`` too, a position outside the text an ``IndexError``.

    Attributes:
        path: the file.
        states: the underlying reader (:class:`~lstmviz.store.reader.States`), for what this class
            does not cover.
    """

    def __init__(self, states: States, *, temporary: Path | None = None):
        """Wrap an open reader; ``temporary`` is a folder to remove on closing (the file's own)."""
        self.states = states
        self.path = states.path
        self._temporary = temporary
        self._dashboards: list[Any] = []
        self._loaded = None  # the file's model, once an intervention needed it
        self._closer = weakref.finalize(self, _release, states, self._dashboards, temporary)

    # --- the file -------------------------------------------------------------------------------

    def _opened(self) -> States:
        """The reader, or :class:`ExtractionClosed` once closed: every read asks here first."""
        if not self._closer.alive:
            gone = f"; open it again with lstmviz.open({str(self.path)!r})"
            if self._temporary is not None:
                gone = " and its temporary file removed; extract again, with out= to keep the file"
            raise ExtractionClosed(f"{self.path.name}: the extraction was closed{gone}")
        return self.states

    def close(self) -> None:
        """Close the file, stop its dashboards and, for a temporary extraction, remove the file."""
        self._closer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return not self._closer.alive

    def __enter__(self) -> Extraction:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self._opened().n_tokens

    def __repr__(self) -> str:
        if self.closed:
            return f"<Extraction {self.path} (closed)>"
        s = self.states
        return (f"<Extraction {self.path}: {s.n_tokens:,} positions, {s.n_layer} layer(s) x "
                f"{s.n_hidden} units, {' '.join(s.kinds())}>")

    @property
    def names(self) -> list[str]:
        """The activations stored, in file order: per layer h, c, then the gates if stored."""
        return list(self._opened().names)

    @property
    def neurons(self) -> list[str]:
        """Every neuron of the file, e.g. ``layer0.h.0``: each activation's units in order."""
        states = self._opened()
        return [f"{name}.{u}" for name in states.names for u in range(states.n_hidden)]

    @property
    def n_layer(self) -> int:
        """Number of LSTM layers."""
        return self._opened().n_layer

    @property
    def n_hidden(self) -> int:
        """Units per layer."""
        return self._opened().n_hidden

    @property
    def vocab(self) -> Vocab:
        """The model's vocabulary, as the file records it."""
        return self._opened().vocab

    @property
    def attrs(self) -> dict[str, Any]:
        """The file's metadata: model, text, options, timings (``lstmviz info`` shows them)."""
        return self._opened().attrs

    # --- arrays ---------------------------------------------------------------------------------

    @property
    def text(self) -> TextView:
        """The text by position: ``ex.text[a:b]`` is a str."""
        self._opened()  # refused once closed, as every other view
        return TextView(self._opened)

    def __getitem__(self, key: str | Neuron) -> NeuronView | ActivationView:
        """An activation (``"layer1.c"``) or a neuron (``"layer1.c.117"``), read when sliced.

        Raises:
            UnknownKey: not a name, or one the file lacks (a ``KeyError`` too); a name that is not
                an activation's is read as a neuron's, and refused in the words of ``lstmviz export``.
            BadIndex: a key that is not a name (a ``TypeError`` too).
        """
        states = self._opened()
        if not isinstance(key, str | Neuron):
            raise BadIndex(f"an extraction is indexed by name, e.g. ex['layer1.c.117'] or ex['layer1.c'], "
                           f"not {type(key).__name__}; positions are read from the result: "
                           "ex['layer1.c'][0:100]")
        with python_errors():
            if isinstance(key, str) and _is_activation(key):
                return ActivationView(self._opened, states.activation(key))
            return NeuronView(self._opened, states.neuron(key))

    # --- tables ---------------------------------------------------------------------------------

    def predictions(self, start: int, stop: int) -> pd.DataFrame:
        """The model's guesses after each position in [start, stop), one row per position.

        Columns: ``char`` (the symbol read), ``next`` (the true next one; missing at the end),
        ``p_next`` and ``loss_bits`` (its probability and -log2 of it), then ``top1``...``top5``
        (the most likely next symbols) and ``p1``...``p5`` (their probabilities). The index is
        the position.

        Raises:
            PositionOutOfRange: the span is not within the text (an ``IndexError`` too).
        """
        states = self._opened()
        start, stop, _ = positions(states, slice(start, stop))
        with python_errors():
            pred = states.predictions(start, stop)
            symbols = states.symbols(start, min(stop + 1, states.n_tokens))
        table = pd.DataFrame({
            "char": symbols[: stop - start],
            "next": [symbols[i + 1] if i + 1 < len(symbols) else None for i in range(stop - start)],
            "p_next": pred.p_next,
            "loss_bits": pred.loss_bits,
        }, index=pd.RangeIndex(start, stop, name="position"))
        vocab = states.vocab.symbols
        for r in range(pred.top_ids.shape[1]):
            table[f"top{r + 1}"] = [vocab[i] for i in pred.top_ids[:, r]]
        for r in range(pred.top_ids.shape[1]):
            table[f"p{r + 1}"] = pred.top_probs[:, r]
        return table

    def summaries(self, name: str | None = None) -> pd.DataFrame:
        """Per-unit statistics computed at extraction, one row per neuron (of ``name``, or all).

        Columns: ``neuron, name, layer, kind, unit``, then ``mean, std, min, max`` over the whole
        text, ``hist_lo, hist_hi`` (the histogram's range), ``sat_hi, sat_lo`` (the share of
        positions near the top or bottom of the kind's range). Small arrays are read, never the
        activations.

        Raises:
            UnknownKey: ``name`` is not an activation of the file (a ``KeyError`` too).
        """
        states = self._opened()
        frames = []
        with python_errors():
            for act in [states.activation(name)] if name is not None else states.names:
                layer, kind = parse_name(act)
                stats = states.summary(act)
                H = states.n_hidden
                frame = pd.DataFrame({"neuron": [f"{act}.{u}" for u in range(H)], "name": act,
                                      "layer": layer, "kind": kind, "unit": np.arange(H)})
                for key in SUMMARY_COLUMNS:
                    frame[key] = stats[key]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    # --- search ---------------------------------------------------------------------------------

    def search(
        self,
        hypothesis: str | Hypothesis | np.ndarray | None = None,
        *,
        pattern: str | None = None,
        top: int | None = 20,
        layer: int | None = None,
        kind: str | None = None,
        cache: bool = True,
        device: str = "auto",
        progress: bool = False,
    ) -> pd.DataFrame:
        """Units ranked by how well they track a hypothesis about the text, best first.

        As ``lstmviz search``: binary hypotheses are scored by AUROC (as max(AUROC, 1 - AUROC)),
        numeric ones by |Pearson r|, each with a chance baseline in ``attrs`` (see
        ``docs/search.md``). Results are cached beside the file.

        Args:
            hypothesis: a built-in hypothesis (``"quote"``, ``"url"``, ``"depth"``, ...; see
                :data:`lstmviz.search.hypotheses.HYPOTHESES`), or an array with one value per
                position (your own hypothesis).
            pattern: instead, a regular expression: a unit should be on inside any match.
            top: rows to return (None: every unit).
            layer: only this layer.
            kind: only this kind: ``h``, ``c``, ``gates`` or one gate such as ``gates.f``.
            cache: read and write cached results beside the file.
            device: where to score: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``.
            progress: a progress bar on stderr.

        Returns:
            One row per unit (``neuron, name, layer, kind, unit, score, direction, null`` and the
            hypothesis' statistics); ``attrs`` holds ``hypothesis``, ``measure``, ``null_best``,
            ``local`` and ``baseline``.

        Raises:
            SearchError: not exactly one of ``hypothesis`` and ``pattern``, an unknown built-in, a
                bad pattern, or a hypothesis that is the same everywhere in this text.
        """
        from lstmviz.search.hypotheses import HYPOTHESES, pattern_hypothesis
        from lstmviz.search.rank import rank_units, select_names

        if (hypothesis is None) == (pattern is None):
            raise SearchError("give exactly one of a hypothesis (e.g. ex.search('quote')) or pattern=")
        if isinstance(hypothesis, str) and hypothesis not in HYPOTHESES:
            raise SearchError(f"{hypothesis!r} is not a built-in hypothesis; choose one of "
                              f"{', '.join(sorted(HYPOTHESES))}, or search a regular expression with "
                              f"pattern={hypothesis!r}")
        states = self._opened()
        if pattern is not None:
            hypothesis = pattern_hypothesis(pattern, byte_level=states.vocab.byte_level)
        with python_errors():
            names = select_names(states, layer=layer, kind=kind)
            return rank_units(states, hypothesis, names=names, top=top, cache=cache, progress=progress,
                              device=device)

    def search_all(self, *, top: int = 1, cache: bool = True, device: str = "auto",
                   progress: bool = False) -> pd.DataFrame:
        """The best ``top`` units for every built-in hypothesis: the file's interpretable cells.

        As ``lstmviz search --all``: one row per hypothesis and rank, with ``margin``, the score
        above the baseline (near 0 or below: chance, or a reaction to single symbols).
        Hypotheses the text never exercises are listed in ``attrs["skipped"]``.

        Args:
            top: units per hypothesis.
            cache: read and write cached results beside the file.
            device: where to score: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``.
            progress: a progress bar on stderr.
        """
        from lstmviz.search.rank import rank_all

        return rank_all(self._opened(), top=top, cache=cache, progress=progress, device=device)

    # --- figures and the dashboard --------------------------------------------------------------

    def show(
        self,
        neurons: str | Neuron | list[str | Neuron],
        start: int = 0,
        length: int = 200,
        *,
        strips: bool = False,
        palette: str = "blog",
        width: int | None = None,
        raw_c: bool = False,
        title: str | None = None,
        caption: str | None = None,
    ) -> Figure:
        """The text at [start, start + length) coloured by one neuron, or by several stacked.

        The figure of ``lstmviz export`` (the same options and colours as the dashboard); a
        notebook shows it inline, and :meth:`Figure.save` writes it to HTML or SVG.

        Args:
            neurons: one neuron (``"layer2.c.182"``) or a list of them, one band each.
            start: first position shown.
            length: number of positions shown.
            strips: show the model's top-5 guesses beneath each character.
            palette: ``"blog"``, ``"diverging"`` or ``"colorblind"``.
            width: characters per line before wrapping; 0 wraps only at newlines.
            raw_c: colour the cell state c itself over its whole-file range, not tanh(c).
            title: a heading above the text.
            caption: text below the colour scale.

        Raises:
            UnknownKey: a neuron the file lacks (a ``KeyError`` too).
            PositionOutOfRange: the span is not within the text (an ``IndexError`` too).
            OptionError: an empty span, an unknown palette, a negative width.
        """
        listed = [neurons] if isinstance(neurons, str | Neuron) else list(neurons)
        with python_errors():
            spec = ExportSpec(listed, start, length, palette=palette, strips=strips, fragment=True,
                              title=title, caption=caption, width=width, raw_c=raw_c)
        return Figure(self._opened, spec)

    def serve(self, port: int = 0, *, host: str = "127.0.0.1", neuron: str | None = None,
              position: int = 0) -> Any:
        """The dashboard on this file, served in a background thread while Python runs on.

        Closing the extraction stops it.

        Args:
            port: port to listen on; 0 picks a free one.
            host: interface to listen on (``0.0.0.0`` makes it reachable from other machines).
            neuron: the neuron the page opens on.
            position: the first position the page shows.

        Returns:
            A handle: its ``url`` to open, ``stop()`` to stop it.

        Raises:
            OptionError: the port is taken, or the host is not an address of this machine.
            UnknownKey: a neuron the file lacks.
        """
        states = self._opened()
        with python_errors():
            if neuron is not None:
                neuron = str(states.neuron(neuron))
            states.span(position, position + 1)
        dashboard = _dashboard_server()([self.path], host=host, port=port, neuron=neuron, position=position)
        self._dashboards.append(dashboard)
        return dashboard


def _dashboard_server() -> Callable[..., Any]:
    """The dashboard's background server, found by entry point: the library never imports the app.

    Raises:
        OptionError: the dashboard is not installed alongside the library.
    """
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="lstmviz.dashboard") if ep.name == "serve_in_background"]
    if not found:
        raise OptionError("the dashboard is not installed; install lstmviz with its app: pip install lstmviz")
    return found[0].load()
