"""Causal evidence beside a search result: how much worse the model predicts with the unit silenced.

Cell search finds correlations. Here each unit is silenced (held at its mean over the file, or at
0) at every step of a long stretch of the text, from its start, and the loss of the true next
symbol is compared with the unedited run's, position by position (Δbits = edited - unedited,
in bits). The change is averaged over three kinds of position of a hypothesis:

* ``closing``: where the model must predict that a region ends. A region ends where the
  hypothesis' last true position is followed by a false one. With the alignment rule of
  :mod:`lstmviz.search.hypotheses`, a closing delimiter of one symbol (``"``, the end of a URL)
  is predicted from the region's last position; one of several (``&quot;``, ``]]``) is predicted
  from the position before its first symbol, which lies inside: the hypothesis' ``closers`` say
  which delimiters there are, the longest one that ends the region counts. Regions still open
  where the stretch ends are left out.
* ``inside``: every position where the hypothesis holds (is not 0).
* ``elsewhere``: every other position.

A unit that carries what the hypothesis says should matter most at ``closing``: that is
``causal_delta_bits``. Whether that is much is judged against units that track nothing in
particular: at least 30 units drawn at random (seeded) from the same layer and kind, silenced the
same way, in the same batched run. ``causal_percentile`` is the share of them (0-100) whose
``closing`` Δbits is smaller than the unit's.

One run serves every unit and hypothesis: each silenced unit is one stream of a batch, the
unedited model another, and layers below a unit's layer are computed once for all streams
(:mod:`lstmviz.intervene.edited_run`). Costs are in ``docs/interventions.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lstmviz.errors import OptionError
from lstmviz.intervene.edited_run import Edit, EditedRunner
from lstmviz.kinds import KINDS
from lstmviz.model.charlstm import CharLSTM
from lstmviz.names import Neuron, parse_name
from lstmviz.progress import progress_bar
from lstmviz.search.hypotheses import Hypothesis, resolve, symbol_string
from lstmviz.store.reader import States

log = logging.getLogger(__name__)

ABLATIONS = ("mean", "zero")
N_RANDOM = 30
CHARS = 200_000  # characters of the stretch, from the text's start
WHERE = ("closing", "inside", "elsewhere")
COLUMNS = ["hypothesis", "neuron", "causal_delta_bits", "causal_percentile", "causal_inside_bits",
           "causal_inside_percentile", "causal_elsewhere_bits", "n_random"]
JOINED = COLUMNS[2:7]  # the columns :func:`join_causal` adds to a ranking
_BUDGET = 1 << 27  # bytes of gate pre-activations per block of the batched run


@dataclass(frozen=True)
class Positions:
    """Where a hypothesis is about, over the stretch: three (N,) masks of positions with a next symbol."""

    closing: np.ndarray
    inside: np.ndarray
    elsewhere: np.ndarray

    def stacked(self) -> np.ndarray:
        """The masks as (N, 3) float, in the order of :data:`WHERE`."""
        return np.stack([getattr(self, w) for w in WHERE], axis=1).astype(np.float64)


def closing_positions(values: np.ndarray, symbols: str, closers: Sequence[str] = ()) -> np.ndarray:
    """Where the model must predict that a region of a hypothesis ends (see the module docstring).

    ``values`` are the hypothesis over ``symbols`` (a region is where it is not 0). Regions still
    open at the end are left out.

    >>> closing_positions(np.array([0, 1, 1, 1, 0, 0]), 'a"bc"d', ['"']).tolist()
    [3]
    >>> v = np.array([0, 1, 1, 1, 1, 0, 0])  # [[ab]]x: inside from the second [ to the first ]
    >>> closing_positions(v, "[[ab]]x", ["]]"]).tolist()  # "]]" is predicted from the b
    [3]
    """
    inside = np.asarray(values) != 0
    n = len(inside)
    step = np.diff(inside.astype(np.int8))
    starts = np.flatnonzero(step == 1) + 1
    if n and inside[0]:
        starts = np.r_[0, starts]
    ends = np.flatnonzero(step == -1)  # last position of a region that closes within the text
    starts = starts[: len(ends)]
    out = []
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        at = last
        for closer in sorted(closers, key=len, reverse=True):
            if closer and symbols.endswith(closer, 0, last + 2):
                at = max(first, last + 1 - len(closer))
                break
        out.append(at)
    return np.asarray(out, dtype=np.int64)


def hypothesis_positions(hyp: Hypothesis, symbols: str, n: int) -> Positions:
    """The three kinds of position of ``hyp`` among the first ``n`` of ``symbols``.

    The hypothesis is computed on the whole text (a region's context may lie beyond ``n``); a
    position counts only if the symbol after it lies within the first ``n + 1``.
    """
    values = hyp.values(symbols)
    has_next = np.zeros(n, dtype=bool)
    has_next[: min(n, len(symbols) - 1)] = True
    closing = np.zeros(n, dtype=bool)
    at = closing_positions(values[: min(len(symbols), n + 1)], symbols[: n + 1], hyp.closers)
    closing[at[at < n]] = True
    inside = (values[:n] != 0) & has_next
    return Positions(closing & has_next, inside, ~inside & has_next)


def random_units(states: States, name: str, exclude: Sequence[int], n: int, seed: int) -> list[int]:
    """``n`` units of one activation drawn at random (seeded per activation), none of ``exclude``."""
    layer, kind = parse_name(name)
    candidates = np.setdiff1d(np.arange(states.n_hidden), np.asarray(exclude, dtype=np.int64))
    rng = np.random.default_rng([seed, layer, list(KINDS).index(kind)])
    return sorted(int(u) for u in rng.choice(candidates, size=min(n, len(candidates)), replace=False))


def ablation_effects(states: States, model: CharLSTM, neurons: Sequence[Neuron], masks: np.ndarray, *,
                     ablation: str = "mean", n: int | None = None,
                     progress: bool | Callable[[int, int], None] = False,
                     device: str | torch.device = "cpu") -> np.ndarray:
    """Mean Δbits per character over each mask, for each unit silenced over positions [0, n).

    Args:
        states: the open extraction (for the text and, for mean ablation, the units' means).
        model: the model it was made with.
        neurons: the units, each silenced in a stream of its own.
        masks: (n, M) bool, positions to average over.
        ablation: ``mean`` (hold each unit at its mean over the file) or ``zero``.
        n: positions of the stretch (default: the masks' length).
        progress: show a progress bar on stderr (True), or call ``progress(done, n)`` after each
            block (the dashboard's background jobs).
        device: where to run.

    Returns:
        (len(neurons), M): the mean of edited minus unedited loss, in bits, over each mask (NaN for
        an empty mask).
    """
    if ablation not in ABLATIONS:
        raise OptionError(f"--ablation {ablation!r}: use one of {', '.join(ABLATIONS)}")
    n = len(masks) if n is None else n
    edits = [[]] + [[Edit(states.neuron(u), _silence(states, u, ablation))] for u in neurons]
    runner = EditedRunner(model, edits, device=device)
    ids = states.tokens(0, min(states.n_tokens, n + 1)).astype(np.int64)
    tokens = torch.from_numpy(ids).to(runner.device)
    masks_t = torch.from_numpy(np.asarray(masks, dtype=np.float64)).to(runner.device)
    sums = torch.zeros(len(neurons), masks_t.shape[1], dtype=torch.float64, device=runner.device)
    rows = int(min(4096, max(64, _BUDGET // (len(edits) * 4 * states.n_hidden * 4))))
    report = progress if callable(progress) else None
    with progress_bar(total=n, unit="char", unit_scale=True, desc="causal", enabled=progress is True) as bar:
        for a in range(0, n, rows):
            b = min(n, a + rows)
            logits = runner.run(tokens[a:b], record=False).logits  # (B, b - a, V)
            nxt = tokens[a + 1 : b + 1]
            logp = torch.log_softmax(logits[:, : len(nxt)].float(), dim=-1)
            bits = -logp.gather(2, nxt.expand(len(edits), -1)[..., None])[..., 0] / math.log(2)  # (B, m)
            delta = (bits[1:] - bits[:1]).double()  # edited - unedited
            sums += delta @ masks_t[a : a + len(nxt)]
            bar.update(b - a)
            if report is not None:
                report(b, n)
    counts = masks_t.sum(dim=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).cpu().numpy()


def _silence(states: States, neuron: Neuron, ablation: str) -> float:
    if ablation == "zero":
        return 0.0
    return float(states.summary(neuron.name)["mean"][neuron.unit])


def causal_scores(
    states: States,
    model: CharLSTM,
    pairs: Sequence[tuple[str | Hypothesis, str | Neuron]],
    *,
    ablation: str = "mean",
    n_random: int = N_RANDOM,
    seed: int = 0,
    chars: int = CHARS,
    progress: bool = False,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Silence each unit of ``pairs`` and random units beside it; how much worse the model predicts.

    Args:
        states: the open extraction.
        model: the model it was made with (:func:`~lstmviz.intervene.model_source.model_for`).
        pairs: (hypothesis, unit) to score: a hypothesis as :func:`~lstmviz.search.hypotheses.resolve`
            takes it, a unit of h, c or a stored gate.
        ablation: ``mean`` (the unit's mean over the file) or ``zero``.
        n_random: random units drawn per layer and kind of the units scored.
        seed: the draw's seed.
        chars: the stretch silenced and measured: the text's first ``chars`` positions.
        progress: show a progress bar on stderr.
        device: where to run.

    Returns:
        One row per pair: ``hypothesis, neuron, causal_delta_bits`` (mean Δbits at closing
        positions), ``causal_percentile`` (0-100, among the random units of its layer and kind),
        ``causal_inside_bits`` and ``causal_inside_percentile`` (the same inside the regions),
        ``causal_elsewhere_bits``, ``n_random``. ``attrs`` holds the settings, each hypothesis'
        counts of positions, and every random unit's Δbits at each kind of position.

    >>> # with open_states(f) as s: causal_scores(s, model_for(s).model, [("quote", "layer2.c.89")])
    """
    if n_random < 1:
        raise OptionError(f"--random must be at least 1 (got {n_random}); 30 or more make a fair percentile")
    if chars < 2:
        raise OptionError(f"--causal-chars must be at least 2 (got {chars})")
    hyps = {}
    scored: list[tuple[str, Neuron]] = []
    for hyp, unit in pairs:
        h = resolve(hyp, byte_level=states.vocab.byte_level)
        hyps.setdefault(h.cache_key, h)
        scored.append((h.cache_key, states.neuron(unit)))
    own = list(dict.fromkeys(n for _, n in scored))
    groups: dict[str, list[int]] = {}
    for n in own:
        groups.setdefault(n.name, []).append(n.unit)
    reference = {name: [Neuron(*parse_name(name), u) for u in
                        random_units(states, name, units, n_random, seed)] for name, units in groups.items()}
    neurons = own + [n for units in reference.values() for n in units]
    n = min(states.n_tokens, chars)
    symbols = symbol_string(states)
    positions = {key: hypothesis_positions(h, symbols, n) for key, h in hyps.items()}
    masks = np.concatenate([p.stacked() for p in positions.values()], axis=1)  # (n, 3 * hypotheses)
    log.info("silencing %d units (%d random) over %d positions", len(neurons), len(neurons) - len(own), n)
    effects = ablation_effects(states, model, neurons, masks, ablation=ablation, n=n, progress=progress,
                               device=device)
    column = {key: 3 * k for k, key in enumerate(positions)}
    index = {nn: k for k, nn in enumerate(neurons)}
    rows = []
    for key, neuron in scored:
        mine = effects[index[neuron], column[key] : column[key] + 3]  # closing, inside, elsewhere
        randoms = effects[[index[r] for r in reference[neuron.name]], column[key] : column[key] + 3]
        rows.append({"hypothesis": hyps[key].name, "neuron": str(neuron), "causal_delta_bits": mine[0],
                     "causal_percentile": _percentile(mine[0], randoms[:, 0]), "causal_inside_bits": mine[1],
                     "causal_inside_percentile": _percentile(mine[1], randoms[:, 1]),
                     "causal_elsewhere_bits": mine[2], "n_random": len(randoms)})
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update({
        "ablation": ablation, "chars": n, "seed": seed,
        "positions": {hyps[key].name: {w: int(getattr(p, w).sum()) for w in WHERE}
                      for key, p in positions.items()},
        "random": {name: {"units": [str(r) for r in refs],
                          "delta_bits": {hyps[key].name: {w: [_finite(effects[index[r], column[key] + k])
                                                              for r in refs] for k, w in enumerate(WHERE)}
                                         for key in positions}}
                   for name, refs in reference.items()},
    })
    return df


def _percentile(mine: float, randoms: np.ndarray) -> float:
    """The share (0-100) of ``randoms`` below ``mine``; NaN where ``mine`` is (no such positions)."""
    return 100.0 * float(np.mean(randoms < mine)) if math.isfinite(mine) else math.nan


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def join_causal(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the causal columns of ``scores`` (:data:`JOINED`) beside the rows they score.

    The one join of causal scores to rankings, for ``lstmviz search --causal`` and the atlas. A row
    is matched by its hypothesis (its ``hypothesis`` column, or ``attrs["hypothesis"]`` for the
    ranking of one hypothesis) and its neuron; rows without a score get NaN. ``attrs["causal"]``
    becomes the scores' ``attrs`` (settings, counts of positions, the random units).

    >>> ranked = pd.DataFrame({"neuron": ["layer0.c.3", "layer0.c.5"]})
    >>> ranked.attrs["hypothesis"] = "quote"
    >>> scores = pd.DataFrame([["quote", "layer0.c.5", 0.8, 100.0, 0.1, 90.0, 0.0, 30]], columns=COLUMNS)
    >>> join_causal(ranked, scores)["causal_percentile"].tolist()
    [nan, 100.0]
    """
    hypotheses = table["hypothesis"] if "hypothesis" in table else [table.attrs["hypothesis"]] * len(table)
    rows = pd.MultiIndex.from_arrays([list(hypotheses), list(table["neuron"])])
    found = scores.drop_duplicates(["hypothesis", "neuron"]).set_index(["hypothesis", "neuron"])
    out = table.copy()
    for column in JOINED:
        out[column] = found[column].reindex(rows).to_numpy(dtype=np.float64)
    out.attrs = {**table.attrs, "causal": scores.attrs}
    return out
