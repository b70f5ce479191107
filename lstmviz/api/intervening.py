"""Running an extraction's model again from Python: interventions, provenance and causal scores.

:class:`Interventions` gives :class:`~lstmviz.api.extraction.Extraction` the methods of ``lstmviz
intervene``, ``lstmviz provenance`` and ``lstmviz search --causal``, each calling the same library
function as its command, so the numbers are the command's. The model is the one the file was
extracted with, found and checked by :func:`~lstmviz.intervene.model_source.model_for` once per
extraction, or given with ``model=``. torch is imported only when one of these runs: reading a file
never loads it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lstmviz.api.views import python_errors
from lstmviz.errors import OptionError
from lstmviz.files import check_output
from lstmviz.names import Neuron
from lstmviz.render.spec import DEFAULTS
from lstmviz.store.reader import States

if TYPE_CHECKING:
    from lstmviz.intervene.edits import EditSpec
    from lstmviz.intervene.intervention import Intervention
    from lstmviz.intervene.provenance import Provenance
    from lstmviz.model.loading import LoadedModel
    from lstmviz.search.hypotheses import Hypothesis

SUFFIXES = {".html": "html", ".htm": "html", ".svg": "svg"}


class ContributionFigure:
    """The text before a position shaded by what each character wrote into a cell; shows in a notebook.

    The figure ``lstmviz provenance -o`` writes, from the same renderer
    (:func:`~lstmviz.render.contributions.contribution_figure`).
    """

    def __init__(self, opened: Callable[[], States], prov: Provenance, back: int, palette: str,
                 width: int | None):
        self._opened, self._prov, self._back = opened, prov, back
        self._palette, self._width = palette, width
        self._html = self._render("html", fragment=True)  # at once: errors belong to the call that made it

    def _render(self, fmt: str, *, fragment: bool, output: str | Path | None = None) -> str:
        from lstmviz.render.contributions import contribution_figure, provenance_command

        states = self._opened()
        command = provenance_command(states.path.name, self._prov, self._back,
                                     None if output is None else str(output))
        return contribution_figure(states, self._prov, fmt=fmt, palette=self._palette, command=command,
                                   width=self._width, fragment=fragment)

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        p = self._prov
        return f"<ContributionFigure of {p.neuron} at position {p.position}, from {p.start}>"

    def to_html(self, *, fragment: bool = True) -> str:
        """The ``<div>`` a notebook shows, or with ``fragment=False`` a whole page that opens offline."""
        return self._html if fragment else self._render("html", fragment=False)

    def to_svg(self, *, fragment: bool = False) -> str:
        """An SVG document; with ``fragment=True`` the ``<svg>`` alone, to inline in HTML."""
        return self._render("svg", fragment=fragment)

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the figure to ``path`` (``.html`` or ``.svg``), as every output of lstmviz is written.

        Raises:
            OptionError: an unknown suffix, or an existing file without ``force``.
        """
        from lstmviz.render.export import write_snippet

        fmt = SUFFIXES.get(Path(path).suffix.lower())
        if fmt is None:
            raise OptionError(f"{path}: cannot tell the format from the name; end it in .html or .svg")
        target = check_output(path, (self._opened().path,), example="where.html", force=force)
        return write_snippet(target, self._render(fmt, fragment=False, output=path))


class ProvenanceView:
    """Where one cell's value comes from (:class:`~lstmviz.intervene.provenance.Provenance`), as tables.

    Every attribute of the library's Provenance reads through (``value``, ``remainder``,
    ``contributions``, ``look_back(0.9)``, ``strongest(10)``, ...); ``result`` is the Provenance itself.
    """

    def __init__(self, opened: Callable[[], States], result: Provenance, back: int):
        self._opened, self.result, self.back = opened, result, back

    def __getattr__(self, name: str) -> Any:
        if name == "result":  # not yet set: no recursion while unpickling or copying
            raise AttributeError(name)
        return getattr(self.result, name)

    def __repr__(self) -> str:
        p = self.result
        return (f"<Provenance of {p.neuron} at position {p.position}: c = {p.value:.4g}, "
                f"{len(p.contributions):,} characters from {p.start} and a remainder of {p.remainder:.4g}>")

    def table(self) -> pd.DataFrame:
        """One row per position of the window: ``position, char, contribution`` (what it wrote into c)."""
        p = self.result
        return pd.DataFrame({"position": p.positions, "char": self._opened().symbols(p.start, p.position + 1),
                             "contribution": p.contributions})

    def figure(self, *, palette: str = DEFAULTS["palette"], width: int | None = None) -> ContributionFigure:
        """The window shaded by contribution (``lstmviz provenance -o``); ``width``: characters per line."""
        return ContributionFigure(self._opened, self.result, self.back, palette, width)


class Interventions:
    """The methods of :class:`~lstmviz.api.extraction.Extraction` that run its model again."""

    _opened: Callable[[], States]
    _loaded: LoadedModel | None

    def model(self, model: str | Path | LoadedModel | None = None, *, trust_pickle: bool = False
              ) -> LoadedModel:
        """The model the file was extracted with: found once, as ``lstmviz intervene`` finds it.

        Args:
            model: a checkpoint's path, or a model from ``lstmviz.load_model``, when it is no
                longer where the file says; it is then kept for the calls after.
            trust_pickle: allow a whole pickled model, as extraction did.

        Raises:
            CheckpointError: no checkpoint where the file says, or none given.
            ModelMismatch: the model's sha256 or shape differs from what the file recorded.
        """
        from lstmviz.intervene.model_source import check_model, model_for
        from lstmviz.model.loading import LoadedModel

        states = self._opened()
        if isinstance(model, LoadedModel):
            check_model(states, model, fix="give the model the file was extracted with")
            self._loaded = model
        elif model is not None or self._loaded is None:
            self._loaded = model_for(states, model, trust_pickle=trust_pickle)
        return self._loaded

    def intervene(self, edits: str | EditSpec | Sequence[str | EditSpec], span: tuple[int, int], *,
                  model: str | Path | LoadedModel | None = None, settle: int | None = None,
                  after: int | None = None, tolerance: float | None = None, device: str = "cpu"
                  ) -> Intervention:
        """Edit units over ``span`` and compare the model's predictions with the unedited rerun.

        ``lstmviz intervene``: the result's ``to_frame()`` is one row per position (its ``--json``),
        ``totals()`` the summary it prints (see ``docs/interventions.md``).

        Args:
            edits: one edit or several, as ``--edit`` writes them: ``"layer2.c.89=zero"``,
                ``"layer0.h.12=set:0.5"``, ``"layer1.c.3=scale:2"``, ``"layer2.c.89=mean"``,
                ``"layer2.c.89=patch:1234"``.
            span: positions ``(a, b)`` where the edits act.
            model: see :meth:`model`.
            settle: after the span, stop once no probability moved by ``tolerance`` for this many
                positions in a row. None, here and below: the command's default (50, 2000, 1e-4).
            after: positions after the span, at most.
            tolerance: the largest change of any symbol's probability that counts as no effect.
            device: where to run.

        Raises:
            PositionOutOfRange: the span is not within the text (an ``IndexError`` too).
            UnknownKey: an edited unit the file lacks (a ``KeyError`` too).
            OptionError: an edit that is not ``NEURON=OP``.
            CheckpointError: the model is not found (see :meth:`model`).
        """
        from lstmviz.intervene.edits import EditSpec
        from lstmviz.intervene.intervention import intervene

        listed = [edits] if isinstance(edits, str | EditSpec) else list(edits)
        states = self._opened()
        with python_errors():
            specs = [e if isinstance(e, EditSpec) else EditSpec.parse(e) for e in listed]
            start, stop = states.span(*_pair(span))
            for spec in specs:
                states.neuron(spec.neuron)  # a unit the file lacks is refused before the model is looked for
        loaded = self.model(model)
        with python_errors():
            return intervene(states, loaded.model, specs, start, stop, device=device,
                             **_given(settle=settle, after=after, tolerance=tolerance))

    def provenance(self, neuron: str | Neuron, at: int, back: int | None = None, *,
                   model: str | Path | LoadedModel | None = None, device: str = "auto",
                   progress: bool = False) -> ProvenanceView:
        """Take a cell's value at position ``at`` apart into what each of the ``back`` characters wrote.

        ``lstmviz provenance``: ``.table()`` is its contributions, ``.figure()`` its ``-o`` figure
        (see ``docs/provenance.md``). The model runs again only when the file lacks float32 gates.

        Args:
            neuron: a cell (``"layer2.c.89"``), or an h unit, whose cell is taken apart.
            at: the position.
            back: characters in the window, ``at`` itself included; older ones make the remainder
                (None: the command's default, 2000).
            model: see :meth:`model`.
            device: where the model runs again.
            progress: a progress bar on stderr while it does.

        Raises:
            UnknownKey: a neuron the file lacks, or a gate (a ``KeyError`` too).
            PositionOutOfRange: ``at`` is not in the text (an ``IndexError`` too).
            OptionError: ``back`` < 1.
            CheckpointError: the model is needed and not found (see :meth:`model`).
        """
        from lstmviz.intervene.provenance import DEFAULT_BACK, cell_of, check_back, check_position, provenance
        from lstmviz.intervene.replay import stored_gates_exact

        states = self._opened()
        back = check_back(DEFAULT_BACK if back is None else back)
        with python_errors():
            cell_of(states, neuron)
            check_position(states, at)
        loaded = None if stored_gates_exact(states) else self.model(model)
        with python_errors():
            result = provenance(states, neuron, at, back, loaded=loaded, device=device, progress=progress)
        return ProvenanceView(self._opened, result, back)

    def causal(self, hypothesis: str | Hypothesis, neurons: str | Neuron | Sequence[str | Neuron], *,
               model: str | Path | LoadedModel | None = None, ablation: str = "mean",
               n_random: int | None = None, seed: int = 0, chars: int | None = None, device: str = "auto",
               progress: bool = False) -> pd.DataFrame:
        """How much worse the model predicts where a hypothesis' regions close, each unit silenced.

        The numbers of ``lstmviz search --causal`` (see ``docs/interventions.md``): each unit is
        held at its mean over the file (``ablation="zero"``: at 0) over the text's first ``chars``
        characters, beside ``n_random`` random units of its layer and kind, in one batched run.

        Args:
            hypothesis: a built-in hypothesis (``"quote"``), or one of your own.
            neurons: one unit or several, of h, c or a stored gate.
            model: see :meth:`model`.
            ablation: ``"mean"`` or ``"zero"``.
            n_random: random units per layer and kind (None: 30; 30 or more make a fair percentile).
            seed: the seed of the random units.
            chars: characters silenced and measured, from the text's start (None: 200,000).
            device: where to run: ``auto``, ``cpu`` or ``cuda``.
            progress: a progress bar on stderr.

        Returns:
            One row per unit: ``hypothesis, neuron, causal_delta_bits, causal_percentile,
            causal_inside_bits, causal_inside_percentile, causal_elsewhere_bits, n_random``;
            ``attrs`` holds the settings and every random unit's Δbits.

        Raises:
            UnknownKey: a unit the file lacks (a ``KeyError`` too).
            SearchError: an unknown hypothesis.
            OptionError: an unknown ablation, ``n_random`` < 1 or ``chars`` < 2.
            CheckpointError: the model is not found (see :meth:`model`).
        """
        from lstmviz.devices import resolve_device
        from lstmviz.intervene.causal import causal_scores

        listed = [neurons] if isinstance(neurons, str | Neuron) else list(neurons)
        states = self._opened()
        with python_errors():
            for n in listed:
                states.neuron(n)
        loaded = self.model(model)
        with python_errors():
            return causal_scores(states, loaded.model, [(hypothesis, n) for n in listed], ablation=ablation,
                                 seed=seed, progress=progress, device=resolve_device(device),
                                 **_given(n_random=n_random, chars=chars))


def _given(**options: Any) -> dict[str, Any]:
    """The options given, so that those left at None keep the library function's defaults."""
    return {k: v for k, v in options.items() if v is not None}


def _pair(span: tuple[int, int]) -> tuple[int, int]:
    """``(a, b)`` as two whole numbers, or a one-line error that shows how to write it."""
    try:
        a, b = span
        return operator.index(a), operator.index(b)
    except (TypeError, ValueError):
        raise OptionError(f"span={span!r}: give the positions as (start, stop), e.g. span=(1200, 1260)"
                          ) from None
