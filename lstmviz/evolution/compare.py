"""``lstmviz compare``: two models over the same text, unit by unit, layer by layer, hypothesis by hypothesis.

Two seeds of one architecture, or two sizes: do they grow the same cells? Three answers, from
their extractions over the same text:

* **Units.** Each unit of A with its one-to-one partner in B (the optimal assignment by absolute
  correlation, :mod:`~lstmviz.evolution.matching`) and with its nearest unit in B, and their
  correlations. Layers are matched to the layer of the same index.
* **Layers.** Linear CKA of every layer of A with every layer of B (:mod:`~lstmviz.evolution.similarity`).
* **Hypotheses.** For every built-in hypothesis, the best unit of each model with its score,
  baseline and margin; whether both clear the baseline by the margin; and A's cell's partner in B
  with its score there, which says whether the two cells are the same cell.

What cannot be compared is said, not guessed: models that read the text as different positions
(a byte-level and a character model) have no unit correlations, only hypothesis scores; layers one
model lacks, and units beyond the smaller layer, have no partner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmviz.errors import TextError
from lstmviz.evolution import cells
from lstmviz.evolution.matching import Matching, match_units, shape_notes
from lstmviz.evolution.moments import cross_moments
from lstmviz.evolution.records import NO_CELL, Cell
from lstmviz.evolution.similarity import layer_cka
from lstmviz.names import Neuron
from lstmviz.search.atlas import MARGIN
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.store.reader import States, open_states

STRONG = 0.9  # a pair correlated at least this much counts as the same cell


@dataclass(frozen=True)
class LayerComparison:
    """One layer of A matched to the same layer of B.

    Attributes:
        layer: its index in both.
        units_a: units of A's layer; ``units_b`` of B's.
        matching: each unit of A with its partner and nearest unit in B (:class:`Matching`).
        cka: linear CKA of the two layers.
    """

    layer: int
    units_a: int
    units_b: int
    matching: Matching
    cka: float

    def paired(self, threshold: float = STRONG) -> int:
        """How many one-to-one pairs correlate at least ``threshold`` (in absolute value)."""
        return int((np.abs(np.nan_to_num(self.matching.correlation)) >= threshold).sum())


@dataclass(frozen=True)
class HypothesisComparison:
    """One hypothesis in both models.

    Attributes:
        name: e.g. ``"quote"``; ``description`` and ``measure`` as in the search.
        a: A's best unit; ``b`` B's (:data:`NO_CELL` when the hypothesis does not vary for it).
        twin: the unit of B matched to A's best unit, with its score for the hypothesis in B
            (:data:`NO_CELL` when there is no matching).
        twin_correlation: the correlation of A's best unit with its twin (NaN: none).
    """

    name: str
    description: str
    measure: str
    a: Cell
    b: Cell
    twin: Cell
    twin_correlation: float

    def both(self, margin: float = MARGIN) -> bool:
        """Both models have a cell that clears the hypothesis' baseline by ``margin``."""
        return self.a.clears(margin) and self.b.clears(margin)

    @property
    def same_cell(self) -> bool:
        """A's best cell is matched to B's best cell (the same layer and unit; h or c alike)."""
        if not (self.twin.neuron and self.b.neuron):
            return False
        t, b = Neuron.parse(self.twin.neuron), Neuron.parse(self.b.neuron)
        return (t.layer, t.unit) == (b.layer, b.unit)


@dataclass
class Comparison:
    """Two models over the same text: see the module docstring.

    Attributes:
        path_a: A's extraction; ``path_b`` B's.
        n_positions: positions of the text (A's, when the two differ).
        kind: the activation correlated (``c`` or ``h``).
        margin: the margin a unit must reach over its baseline to clear a hypothesis.
        layers: the layers both have, matched.
        cka: (L_a, L_b) linear CKA of every layer of A with every layer of B (empty when the
            models read the text as different positions).
        hypotheses: every built-in hypothesis the text varies, in the order of the search.
        notes: what could not be compared, one line each.
    """

    path_a: Path
    path_b: Path
    n_positions: int
    kind: str
    margin: float
    layers: list[LayerComparison]
    cka: np.ndarray
    hypotheses: list[HypothesisComparison]
    notes: list[str] = field(default_factory=list)

    def shared(self) -> list[str]:
        """The hypotheses both models have a cell for."""
        return [h.name for h in self.hypotheses if h.both(self.margin)]


def compare(path_a: str | Path, path_b: str | Path, *, kind: str = "c", device: str = "auto",
            progress: bool = False) -> Comparison:
    """Compare the models of two extractions over the same text.

    Args:
        path_a: an extraction file (``lstmviz extract``).
        path_b: another, over the same text.
        kind: correlate the cells (``c``) or the outputs (``h``).
        device: where to score the hypotheses (``auto``, ``cpu`` or ``cuda``).
        progress: progress bars on stderr.

    Raises:
        TextError: the two files hold different texts.
        StoreError: a file is missing, damaged or not an extraction.

    >>> # c = compare("cache/seed1__val.h5", "cache/seed2__val.h5"); c.shared()
    """
    with open_states(path_a) as a, open_states(path_b) as b:
        notes = _check_texts(a, b)
        layers: list[LayerComparison] = []
        cka = np.zeros((0, 0))
        if not notes:
            layers, cka = _units(a, b, kind, progress, notes)
        tables_a = cells.score_tables(a, device=device)
        tables_b = cells.score_tables(b, device=device)
        hypotheses = [_hypothesis(h, tables_a, tables_b, layers) for h in HYPOTHESES
                      if h in tables_a or h in tables_b]
        return Comparison(a.path, b.path, a.n_tokens, kind, MARGIN, layers, cka, hypotheses, notes)


def _units(a: States, b: States, kind: str, progress: bool,
           notes: list[str]) -> tuple[list[LayerComparison], np.ndarray]:
    """Units matched in every layer both have, and the CKA of every pair of layers; notes what differs."""
    common = min(a.n_layer, b.n_layer)
    notes += shape_notes(a.path.name, a, b.path.name, b, layers_note=" (CKA covers every pair of layers)")
    moments = cross_moments(a, b, kind=kind, progress=progress)
    cka = layer_cka(moments)
    layers = [LayerComparison(layer, a.n_hidden, b.n_hidden, match_units(moments.correlation(layer, layer)),
                              float(cka[layer, layer])) for layer in range(common)]
    return layers, cka


def _check_texts(a: States, b: States) -> list[str]:
    """Refuse two different texts; a note when the same text is read as different positions."""
    sha_a, sha_b = a.attrs.get("text_sha256"), b.attrs.get("text_sha256")
    if (sha_a and sha_b and sha_a != sha_b) or (not (sha_a and sha_b) and a.n_tokens != b.n_tokens):
        raise TextError(f"{a.path.name} and {b.path.name} are extractions of different texts ({_text(a)} "
                        f"and {_text(b)}); extract both models over the same text, e.g. `lstmviz extract "
                        "MODEL TEXT`")
    if a.n_tokens != b.n_tokens:
        return [f"{a.path.name} reads the text as {a.n_tokens:,} positions and {b.path.name} as "
                f"{b.n_tokens:,} (different vocabularies, or bytes against characters): units cannot be "
                "correlated, so only the hypotheses are compared"]
    return []


def _text(states: States) -> str:
    name = states.attrs.get("text_path") or "a text"
    sha = states.attrs.get("text_sha256")
    return f"{name}, sha256 {sha[:12]}…" if sha else f"{name}, {states.n_tokens:,} positions"


def _hypothesis(name: str, tables_a: dict, tables_b: dict,
                layers: list[LayerComparison]) -> HypothesisComparison:
    a = cells.best_cell(tables_a.get(name))
    b = cells.best_cell(tables_b.get(name))
    twin, r = NO_CELL, float("nan")
    if a.neuron:
        n = Neuron.parse(a.neuron)
        if n.layer < len(layers):
            m = layers[n.layer].matching
            if m.partner[n.unit] >= 0:
                twin = cells.cell_of(tables_b.get(name), str(Neuron(n.layer, n.kind, int(m.partner[n.unit]))))
                r = float(m.correlation[n.unit])
    return HypothesisComparison(name, HYPOTHESES[name].description, cells.measure(name), a, b, twin, r)
