"""What an evolution holds, as dataclasses: snapshots, and each hypothesis' cells over training.

:func:`~lstmviz.evolution.timeline.evolve` makes an :class:`Evolution`, :mod:`~lstmviz.evolution.file`
writes and reads it, and a dashboard or notebook reads its fields. Positions in every sequence
are snapshots, oldest first. A snapshot's units are named as everywhere in lstmviz
(``layer1.c.17``); the *identity* of a cell is the unit it is at each snapshot, found by matching
units from one snapshot to the next (:mod:`~lstmviz.evolution.matching`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmviz.names import Neuron, act_name
from lstmviz.search.atlas import MARGIN


@dataclass(frozen=True)
class Cell:
    """One unit's standing for one hypothesis: what :mod:`lstmviz.search.rank` gives it.

    Attributes:
        neuron: e.g. ``"layer1.c.17"``; ``""`` where there is none (the hypothesis is constant
            on the text, or the cell has no match at that snapshot).
        score: AUROC (binary hypotheses) or ``|Pearson|`` (numeric ones); NaN where none.
        baseline: what chance and the current symbol alone reach (``rank_units`` ``baseline``).
        direction: ``+`` when the unit is higher inside (or rises with the number), ``-`` else.

    >>> Cell("layer0.c.3", 0.9, 0.7, "+").margin
    0.2
    """

    neuron: str
    score: float
    baseline: float
    direction: str = ""

    @property
    def margin(self) -> float:
        """``score - baseline``: a unit clears the hypothesis when this reaches the margin (0.05)."""
        return round(self.score - self.baseline, 12)

    def clears(self, margin: float = MARGIN) -> bool:
        """Whether this unit beats the baseline by ``margin`` (False where there is no unit)."""
        return bool(self.neuron) and self.margin >= margin


NO_CELL = Cell("", math.nan, math.nan)


@dataclass(frozen=True)
class Snapshot:
    """One checkpoint of the run, and what it says of itself (None where a trainer did not record it).

    Attributes:
        path: the checkpoint's file name.
        step: its optimizer step.
        train_bpc: smoothed training loss there, in bits per symbol.
        val_bpc: validation loss there, in bits per symbol.
        sample: a short sample (the snapshot's own, or one made by ``evolve`` with the same settings).
        n_layer: layers; ``n_hidden`` units per layer; ``vocab_size`` symbols.
        n_positions: positions of the text as this snapshot's vocabulary reads it.
        sha256: of the checkpoint file.
    """

    path: str
    step: int | None
    train_bpc: float | None
    val_bpc: float | None
    sample: str
    n_layer: int
    n_hidden: int
    vocab_size: int
    n_positions: int
    sha256: str

    @property
    def label(self) -> str:
        """``step 646``, or the file name when the step is unknown."""
        return f"step {self.step:,}" if self.step is not None else self.path


@dataclass(frozen=True)
class Emergence:
    """When a cell appears over training, and whether at once or slowly.

    Attributes:
        cleared: the first snapshot from which the cell clears its baseline by the margin at every
            later snapshot; None when it does not clear at the end.
        rise_from: the snapshot before the largest rise of its margin; ``rise_to`` the one after.
        rise: that rise.
        share: that rise as a share of the margin's whole range over training (highest less
            lowest): near 1, the cell appeared between two snapshots; near 1 / (snapshots - 1), it
            grew evenly (in log-steps, as snapshots are spread). NaN when the margin did not grow.
    """

    cleared: int | None
    rise_from: int
    rise_to: int
    rise: float
    share: float


@dataclass(frozen=True)
class HypothesisTimeline:
    """One hypothesis over training.

    Attributes:
        name: e.g. ``"quote"``; ``description`` says what it means, ``measure`` how units are scored.
        best: per snapshot, the best unit at that snapshot (whichever it is).
        lineage: per snapshot, the unit that is the final best cell there (the same cell, followed
            back by the matching), with its score; :data:`NO_CELL` where the chain of matches breaks.
    """

    name: str
    description: str
    measure: str
    best: tuple[Cell, ...]
    lineage: tuple[Cell, ...]

    def emergence(self, margin: float = MARGIN) -> Emergence:
        """When the final best cell cleared its baseline, and how sharply its margin rose.

        >>> cells = tuple(Cell("layer0.c.1", s, 0.6) for s in (0.6, 0.61, 0.8, 0.82))
        >>> e = HypothesisTimeline("quote", "", "AUROC", cells, cells).emergence()
        >>> e.cleared, e.rise_from, e.rise_to, round(e.share, 2)
        (2, 1, 2, 0.86)
        """
        margins = np.array([c.margin if c.neuron else np.nan for c in self.lineage])
        clear = np.nan_to_num(margins, nan=-np.inf) >= margin
        cleared = None
        if clear[-1]:
            below = np.flatnonzero(~clear)
            cleared = int(below[-1] + 1) if below.size else 0
        steps = np.diff(margins)
        if not np.isfinite(steps).any():
            return Emergence(cleared, 0, min(1, len(margins) - 1), math.nan, math.nan)
        k = int(np.nanargmax(steps))
        finite = margins[np.isfinite(margins)]
        total = finite.max() - finite.min()
        share = float(steps[k] / total) if total > 0 else math.nan
        return Emergence(cleared, k, k + 1, float(steps[k]), share)


@dataclass
class Evolution:
    """The cells of a run over training, over one text: what ``lstmviz evolve`` writes.

    Arrays are indexed by snapshot first (S snapshots), then hypothesis (Y, in the order of
    ``hypotheses``), activation (A, ``activations``: ``layer{L}.h`` and ``layer{L}.c``), layer (L)
    and unit (U); sizes that differ between snapshots are padded (NaN, or -1 for units).

    Attributes:
        snapshots: the checkpoints, oldest first.
        hypotheses: name -> its timeline, for every built-in hypothesis the text varies.
        activations: the names along the A axis of ``scores``.
        scores: (S, Y, A, U) float32, every unit's score for every hypothesis at every snapshot.
        identity: (S, L, U) the unit each unit of the last snapshot was at each snapshot (-1: no match).
        partner: (S-1, L, U) the unit of snapshot k+1 matched to each unit of snapshot k (-1: none).
        correlation: (S-1, L, U) the signed correlation of each unit with that partner.
        cka: (S-1, L) linear CKA of each layer between consecutive snapshots.
        text_path: the text's file name; ``text_sha256`` of the characters used (UTF-8), ``n_chars``
            how many.
        kind: the activation matched (``c``, the cells, or ``h``).
        margin: the margin a unit must reach over its baseline to clear a hypothesis.
        notes: what could not be compared (snapshots that read the text differently, layers or units
            one snapshot lacks), one line each.
        path: the file it was read from, when it was.
    """

    snapshots: list[Snapshot]
    hypotheses: dict[str, HypothesisTimeline]
    activations: list[str]
    scores: np.ndarray
    identity: np.ndarray
    partner: np.ndarray
    correlation: np.ndarray
    cka: np.ndarray
    text_path: str
    text_sha256: str
    n_chars: int
    kind: str = "c"
    margin: float = MARGIN
    notes: list[str] = field(default_factory=list)
    path: Path | None = None

    @property
    def steps(self) -> list[int | None]:
        """The step of every snapshot (None where unknown)."""
        return [s.step for s in self.snapshots]

    @property
    def best_snapshot(self) -> int:
        """The snapshot with the lowest validation loss (the last one when no loss is known)."""
        known = [(s.val_bpc, k) for k, s in enumerate(self.snapshots) if s.val_bpc is not None]
        return min(known)[1] if known else len(self.snapshots) - 1

    def trace(self, neuron: str) -> list[str]:
        """A unit of the last snapshot at every snapshot: the same cell by the matching (``""``: none).

        >>> ev = Evolution([], {}, [], np.zeros(0), np.array([[[1, 0]], [[0, 1]]]), np.zeros(0),
        ...                np.zeros(0), np.zeros(0), "t.txt", "", 0)
        >>> ev.trace("layer0.c.0")
        ['layer0.c.1', 'layer0.c.0']
        """
        n = Neuron.parse(neuron)
        out = []
        for k in range(self.identity.shape[0]):
            unit = int(self.identity[k, n.layer, n.unit]) if n.layer < self.identity.shape[1] else -1
            out.append(str(Neuron(n.layer, n.kind, unit)) if unit >= 0 else "")
        return out

    def links(self, neuron: str) -> np.ndarray:
        """(S-1,) how sure each step of :meth:`trace` is: the correlation of each link.

        Link k is the correlation of the unit at snapshot k with the unit it is matched to at k+1
        (NaN where the chain is broken).

        A weak link (well below 0.5 in absolute value) means the cell had no clear predecessor:
        it formed, or changed what it does, between those two snapshots.
        """
        units = self.trace(neuron)
        layer = Neuron.parse(neuron).layer
        out = np.full(len(self.snapshots) - 1, np.nan)
        for k, unit in enumerate(units[:-1]):
            if unit and units[k + 1]:
                out[k] = self.correlation[k, layer, Neuron.parse(unit).unit]
        return out

    def score_trace(self, neuron: str, hypothesis: str) -> np.ndarray:
        """(S,) the score for ``hypothesis`` of a unit of the last snapshot, followed back (NaN: none)."""
        y = list(self.hypotheses).index(hypothesis)
        out = np.full(len(self.snapshots), np.nan)
        for k, unit in enumerate(self.trace(neuron)):
            if unit:
                n = Neuron.parse(unit)
                out[k] = self.scores[k, y, self.activations.index(act_name(n.layer, n.kind)), n.unit]
        return out
