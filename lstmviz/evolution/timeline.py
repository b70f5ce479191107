"""``lstmviz evolve``: the cells of every snapshot of a run, over one text, followed through training.

For each snapshot, oldest first: extract it over the text (:func:`~lstmviz.extraction.extract.extract_string`,
``h`` and ``c`` of every layer, into a temporary folder), score every unit against every built-in
hypothesis (:mod:`lstmviz.search.atlas`), and match its units to the previous snapshot's by the
correlation of their activations over the text (:mod:`~lstmviz.evolution.matching`, streamed by
:mod:`~lstmviz.evolution.moments`). Only two extractions exist at a time. Chaining the matches
from the last snapshot back gives every final unit an identity at every snapshot, so the final
quote cell can be followed back to the unit it was at step 100, and its score read there.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmviz.devices import resolve_device
from lstmviz.errors import OptionError, TextError
from lstmviz.evolution import cells
from lstmviz.evolution.file import write_evolution
from lstmviz.evolution.matching import Matching, match_units, shape_notes
from lstmviz.evolution.moments import cross_moments
from lstmviz.evolution.records import NO_CELL, Evolution, HypothesisTimeline, Snapshot
from lstmviz.evolution.similarity import linear_cka
from lstmviz.evolution.snapshots import find_snapshots, snapshot_info, snapshot_sample
from lstmviz.extraction.extract import EXTRACT_DEVICES, extract_string
from lstmviz.extraction.options import Options
from lstmviz.files import check_output
from lstmviz.model.loading import LoadedModel, load_model
from lstmviz.names import Neuron, act_name
from lstmviz.progress import progress_bar
from lstmviz.search.atlas import MARGIN
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.store.reader import States, open_states
from lstmviz.textio import read_text

DEFAULT_CHARS = 20_000  # characters of the text read by every snapshot
MIN_CHARS = 1_000  # fewer, and correlations and scores say little
KINDS = ("c", "h")  # what units are matched by


@dataclass
class _Scored:
    """What is kept of one snapshot once its extraction is gone."""

    snapshot: Snapshot
    tables: dict[str, pd.DataFrame]


def evolve(run: str | Path | Sequence[str | Path], text: str | Path, output: str | Path, *,
           chars: int = DEFAULT_CHARS, kind: str = "c", device: str = "auto", force: bool = False,
           progress: bool = False) -> Evolution:
    """Follow the cells of a run's snapshots through training over one text, and write the evolution file.

    Args:
        run: a snapshots folder (``lstmviz train --snapshots``), any folder of checkpoints, or
            checkpoints named one by one (of any layout ``load_model`` reads). Ordered by step when
            every one records its step, else as given (a folder's by name).
        text: a UTF-8 text file; its first ``chars`` characters are read by every snapshot.
        output: the evolution file to write (HDF5, :mod:`~lstmviz.evolution.file`).
        chars: how many characters of ``text`` to read.
        kind: ``c`` to match units by their cells, ``h`` by their outputs.
        device: where to extract and score (``auto``, ``cpu`` or ``cuda``).
        force: replace an existing ``output``.
        progress: a progress bar on stderr.

    Returns:
        The evolution, as written.

    Raises:
        OptionError: fewer than two checkpoints, a bad option, or an existing ``output`` without ``force``.
        TextError: a text shorter than :data:`MIN_CHARS`.
        CheckpointError: a checkpoint that does not load.
    """
    if kind not in KINDS:
        raise OptionError(f"--by {kind!r}: units are matched by their cells (c) or outputs (h)")
    if chars < MIN_CHARS:
        raise OptionError(f"--chars {chars:,} is too few: evolve needs at least {MIN_CHARS:,} characters")
    where = str(resolve_device(device, supported=EXTRACT_DEVICES))
    paths = find_snapshots(run)
    out = check_output(output, (text, *paths), example="evolution.h5", force=force)
    body = read_text(text)[:chars]
    if len(body) < MIN_CHARS:
        raise TextError(f"{text}: the text has {len(body):,} characters; evolve needs at least {MIN_CHARS:,} "
                        "(scores and correlations over fewer say little); give a longer text")
    models = _in_order([load_model(p) for p in paths])
    scored: list[_Scored] = []
    matches: list[list[Matching | None]] = []
    similarity: list[list[float]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lstmviz-evolve-") as work, \
            progress_bar(total=len(models), desc="evolve", unit="snapshot", enabled=progress) as bar:
        previous: States | None = None
        for k, loaded in enumerate(models):
            states = open_states(extract_string(loaded, body, Path(work) / f"snapshot-{k}.h5",
                                                Options(device=where)))
            scored.append(_Scored(_snapshot(loaded, states), cells.score_tables(states, device=where)))
            if previous is not None:
                found, cka, said = _match(previous, states, scored[-2].snapshot, scored[-1].snapshot, kind)
                matches.append(found)
                similarity.append(cka)
                notes += said
                _discard(previous)
            previous = states
            bar.update()
        if previous is not None:
            _discard(previous)
    evolution = _assemble(scored, matches, similarity, notes, Path(text).name, body, kind)
    write_evolution(out, evolution)
    evolution.path = out
    return evolution


def _in_order(models: list[LoadedModel]) -> list[LoadedModel]:
    """By step when every checkpoint records one, else as given."""
    steps = [snapshot_info(m).step for m in models]
    if any(s is None for s in steps):
        return models
    return [m for _, m in sorted(zip(steps, models, strict=True), key=lambda pair: pair[0])]


def _snapshot(loaded: LoadedModel, states: States) -> Snapshot:
    info = snapshot_info(loaded)
    cfg = loaded.model.config
    sample = info.sample if info.sample is not None else snapshot_sample(loaded.model, loaded.vocab)
    return Snapshot(loaded.path.name, info.step, info.train_bpc, info.val_bpc, sample, cfg.n_layer,
                    cfg.n_hidden, len(loaded.vocab), states.n_tokens, loaded.sha256)


def _discard(states: States) -> None:
    """Close an extraction and remove it with its search cache: only two are kept at a time."""
    states.close()
    states.path.unlink(missing_ok=True)
    shutil.rmtree(states.path.with_name(states.path.name + ".search"), ignore_errors=True)


def _match(a: States, b: States, snap_a: Snapshot, snap_b: Snapshot,
           kind: str) -> tuple[list[Matching | None], list[float], list[str]]:
    """Units of two consecutive snapshots matched layer by layer, each layer's CKA, and what was not."""
    notes = []
    if a.n_tokens != b.n_tokens:
        notes.append(f"{snap_a.label} reads the text as {a.n_tokens:,} positions and {snap_b.label} as "
                     f"{b.n_tokens:,} (different vocabularies): their units are not matched, so no cell "
                     "is followed across them")
        return [None] * max(a.n_layer, b.n_layer), [np.nan] * max(a.n_layer, b.n_layer), notes
    if snap_a.vocab_size != snap_b.vocab_size:
        notes.append(f"{snap_a.label} and {snap_b.label} have different vocabularies ({snap_a.vocab_size} "
                     f"and {snap_b.vocab_size} symbols); their units are matched over the same positions")
    common = min(a.n_layer, b.n_layer)
    notes += shape_notes(snap_a.label, a, snap_b.label, b)
    moments = cross_moments(a, b, kind=kind, layers_a=range(common), layers_b=range(common))
    found: list[Matching | None] = [match_units(moments.correlation(layer, layer)) for layer in range(common)]
    cka = [linear_cka(moments.covariance(layer, layer), moments.covariance_within("a", layer),
                      moments.covariance_within("b", layer)) for layer in range(common)]
    extra = max(a.n_layer, b.n_layer) - common
    return found + [None] * extra, cka + [np.nan] * extra, notes


def _assemble(scored: list[_Scored], matches: list[list[Matching | None]], similarity: list[list[float]],
              notes: list[str], text_name: str, body: str, kind: str) -> Evolution:
    snaps = [s.snapshot for s in scored]
    S, L, U = len(snaps), max(s.n_layer for s in snaps), max(s.n_hidden for s in snaps)
    hypotheses = [h for h in HYPOTHESES if any(h in s.tables for s in scored)]
    activations = [act_name(layer, k) for layer in range(L) for k in ("h", "c")]
    scores = np.stack([cells.score_grid(s.tables, hypotheses, activations, U) for s in scored])
    partner = np.full((S - 1, L, U), -1, np.int32)
    correlation = np.full((S - 1, L, U), np.nan, np.float32)
    cka = np.full((S - 1, L), np.nan, np.float32)
    for k, layers in enumerate(matches):
        for layer, m in enumerate(layers):
            if m is not None:
                partner[k, layer, : len(m.partner)] = m.partner
                correlation[k, layer, : len(m.partner)] = m.correlation
            cka[k, layer] = similarity[k][layer]
    identity = _identity(partner, snaps)
    timelines = {}
    for hyp in hypotheses:
        best = tuple(cells.best_cell(s.tables.get(hyp)) for s in scored)
        lineage = tuple(_lineage(best[-1].neuron, identity, scored, hyp))
        timelines[hyp] = HypothesisTimeline(hyp, HYPOTHESES[hyp].description, cells.measure(hyp), best,
                                            lineage)
    return Evolution(snaps, timelines, activations, scores, identity, partner, correlation, cka, text_name,
                     hashlib.sha256(body.encode("utf-8")).hexdigest(), len(body), kind, MARGIN, notes)


def _identity(partner: np.ndarray, snaps: list[Snapshot]) -> np.ndarray:
    """(S, L, U): the unit each unit of the last snapshot was at each snapshot, following the matches back."""
    S, L, U = partner.shape[0] + 1, partner.shape[1], partner.shape[2]
    identity = np.full((S, L, U), -1, np.int32)
    last = snaps[-1]
    identity[-1, : last.n_layer, : last.n_hidden] = np.arange(last.n_hidden)
    for k in range(S - 2, -1, -1):
        for layer in range(L):
            back = np.full(U + 1, -1, np.int32)  # unit at k+1 -> unit at k; index -1 (U) stays -1
            mine = np.flatnonzero(partner[k, layer] >= 0)
            back[partner[k, layer, mine]] = mine
            identity[k, layer] = back[identity[k + 1, layer]]
    return identity


def _lineage(neuron: str, identity: np.ndarray, scored: list[_Scored], hyp: str) -> list:
    """The final best unit's standing for ``hyp`` at every snapshot, as the unit it was there."""
    if not neuron:
        return [NO_CELL] * len(scored)
    n = Neuron.parse(neuron)
    out = []
    for k, s in enumerate(scored):
        unit = int(identity[k, n.layer, n.unit])
        if unit < 0:
            out.append(NO_CELL)
            continue
        out.append(cells.cell_of(s.tables.get(hyp), str(Neuron(n.layer, n.kind, unit))))
    return out
