"""Cells over training: snapshots of a run, cells followed from snapshot to snapshot, two models compared.

* :mod:`~lstmviz.evolution.snapshots`: when ``lstmviz train --snapshots N`` keeps a checkpoint, and
  finding the checkpoints of a run again.
* :mod:`~lstmviz.evolution.moments`: streaming cross-covariances of two extractions over one text.
* :mod:`~lstmviz.evolution.matching`: the optimal one-to-one assignment of units by correlation.
* :mod:`~lstmviz.evolution.cells`: every unit of an extraction scored against every hypothesis.
* :mod:`~lstmviz.evolution.similarity`: linear CKA between layers.
* :mod:`~lstmviz.evolution.timeline`: ``lstmviz evolve``, every snapshot extracted, scored and matched.
* :mod:`~lstmviz.evolution.records`: what an evolution holds, as dataclasses.
* :mod:`~lstmviz.evolution.file`: the evolution file (HDF5), written atomically and read back into
  dataclasses (:func:`read_evolution`).
* :mod:`~lstmviz.evolution.compare`: ``lstmviz compare``, two models over the same text.

See ``docs/evolution.md``.
"""

from lstmviz.evolution.compare import Comparison, HypothesisComparison, LayerComparison, compare
from lstmviz.evolution.file import read_evolution, write_evolution
from lstmviz.evolution.records import Cell, Emergence, Evolution, HypothesisTimeline, Snapshot

__all__ = ["Cell", "Comparison", "Emergence", "Evolution", "HypothesisComparison", "HypothesisTimeline",
           "LayerComparison", "Snapshot", "compare", "read_evolution", "write_evolution"]
