"""Which cells an atlas of a file shows: the best units of each hypothesis, and strong units none explains.

Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks" (2015) guessed that
"about 5%" of a char-LSTM's cells learn something interpretable. An atlas measures that share for
one file and shows the cells behind it, from the rankings of :mod:`lstmviz.search.rank`:

* **Tracked.** For every built-in hypothesis, its best units (one per unit: ``h`` and ``c`` of the
  same unit count once), each with its score, the hypothesis' baseline and the margin between
  them. A unit *clears* a hypothesis when its margin reaches ``margin`` (0.05 by default: the best
  units of random networks stay below it, docs/search.md).
* **Share.** Of each kind of unit (``c``, the cells; ``h``; each stored gate), how many clear some
  hypothesis.
* **Unexplained.** Units no hypothesis explains (no margin reaches ``margin``) whose activity is
  strong and structured: a wide spread of the shown value (``tanh(c)``, ``h``, a gate) that
  persists from one character to the next (lag-1 autocorrelation), read over the first
  :data:`SAMPLE_ROWS` positions, their product at least :data:`MIN_INTEREST`; saturation and
  sharp peaks, from the file's summaries, are named when they stand out. These are the cells to
  look at next.

Causal scores (:mod:`lstmviz.intervene.causal`) join the cards that track a hypothesis:
:func:`with_causal` silences each unit :meth:`Atlas.shown` lists, with at least 30 random units of
its layer and kind, and adds the scores to the rankings, from which each card takes its
percentile and Δbits. Unexplained cards get none: no hypothesis fits them, so there are no regions
whose closing they could be measured at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lstmviz.errors import SearchError
from lstmviz.intervene.causal import CHARS, N_RANDOM, causal_scores, join_causal
from lstmviz.kinds import KINDS
from lstmviz.model.charlstm import CharLSTM
from lstmviz.names import Neuron
from lstmviz.render.palette import display_values
from lstmviz.render.style import quantity
from lstmviz.search.hypotheses import HYPOTHESES
from lstmviz.search.rank import rank_units
from lstmviz.store.reader import States

MARGIN = 0.05  # a unit clears a hypothesis when score - baseline reaches this
PER_HYPOTHESIS = 3  # cards per hypothesis
UNEXPLAINED = 8  # unexplained cards
SAMPLE_ROWS = 1 << 16  # positions read for the spread and persistence of every unit
CONTEXTS = 3  # top contexts shown on an unexplained card
MIN_INTEREST = 0.1  # spread x persistence an unexplained unit needs: e.g. 0.2 of its range, kept at r = 0.5
SATURATED = 0.2  # share of positions saturated that an unexplained card names
SHARP = 3.0  # how far (in standard deviations) the top contexts must stand out to be named
CAUSAL = "causal_percentile"  # the columns of causal scores, when a ranking has them
CAUSAL_BITS = "causal_delta_bits"


@dataclass(frozen=True)
class Card:
    """One unit shown in the atlas, with what it tracks (or not) and where to look.

    Attributes:
        neuron: e.g. ``"layer2.c.89"``.
        hypothesis: the hypothesis it tracks best (for an unexplained unit, comes closest to).
        description: what that hypothesis means.
        measure: ``"AUROC"`` or ``"|Pearson|"``.
        score: its score for the hypothesis; ``baseline`` the hypothesis' chance level;
            ``margin = score - baseline``.
        direction: ``+`` when the unit is higher inside (or rises with the number).
        causal: its causal percentile (0-100, among random units of its layer and kind), when the
            ranking carries one; else None (always for an unexplained unit).
        contexts: positions where the unit is at its strongest in its direction (one for a tracked
            unit, :data:`CONTEXTS` for an unexplained one).
        facts: for an unexplained unit, what makes it worth a look, in words.
        interest: for an unexplained unit, spread times persistence (0..1).
        causal_bits: with ``causal``, how much worse the model predicts (bits per character) where
            a region of the hypothesis closes, the unit silenced.
    """

    neuron: str
    hypothesis: str
    description: str
    measure: str
    score: float
    baseline: float
    margin: float
    direction: str
    causal: float | None
    contexts: tuple[int, ...]
    facts: tuple[str, ...] = ()
    interest: float = 0.0
    causal_bits: float | None = None


@dataclass
class Atlas:
    """What an atlas of one file shows; see the module docstring.

    Attributes:
        file: the file's name.
        n_positions: characters (symbols) in the file.
        margin: the margin a unit must reach to clear a hypothesis.
        tracked: hypothesis -> its best cards, the hypotheses in order of their best margin.
        clear: kind -> (units that clear some hypothesis, units of that kind).
        unexplained: strong, structured units no hypothesis explains, most interesting first.
        closest: the card with the best margin of all (the one to show when none clears).
        skipped: hypotheses constant on this text (no URLs in a novel), which no unit can track.
        causal: when the rankings carry causal scores, their settings (``ablation``, ``chars``,
            ``seed``, and ``random``: the random units of each layer and kind); else None.
    """

    file: str
    n_positions: int
    margin: float
    tracked: dict[str, list[Card]]
    clear: dict[str, tuple[int, int]]
    unexplained: list[Card]
    closest: Card | None
    skipped: list[str] = field(default_factory=list)
    causal: dict | None = None

    @property
    def cells(self) -> tuple[int, int]:
        """(cells that clear some hypothesis, cells): the ``c`` units, Karpathy's cells."""
        return self.clear.get("c", (0, 0))

    @property
    def none_clear(self) -> bool:
        """No unit of any kind clears any hypothesis."""
        return not any(n for n, _ in self.clear.values())

    @property
    def clearing(self) -> dict[str, list[Card]]:
        """The hypotheses some unit clears, with their cards: the page's cards that track one."""
        return {h: cs for h, cs in self.tracked.items() if cs[0].margin >= self.margin}

    def shown(self) -> list[Card]:
        """The cards the page shows as tracking a hypothesis: those of :attr:`clearing`, else the closest."""
        if self.clearing:
            return [c for cs in self.clearing.values() for c in cs]
        return [self.closest] if self.closest is not None else []

    @property
    def n_random(self) -> int:
        """The fewest random units any causal percentile was judged among (0 without causal scores)."""
        if not self.causal:
            return 0
        return min(len(r["units"]) for r in self.causal["random"].values())

    def message(self) -> str | None:
        """The one line to show when no unit clears its baseline, naming the closest; else None."""
        if not self.none_clear:
            return None
        if self.closest is None:
            return (f"no hypothesis varies in {self.file}, so no unit can track one; build the atlas "
                    "of a longer or more varied text")
        c = self.closest
        return (f"no unit of {self.file} clears its baseline by {self.margin:g}: the closest is {c.neuron} "
                f"for {c.hypothesis} ({c.measure} {c.score:.3f} against a baseline of {c.baseline:.3f}, "
                f"margin {c.margin:+.3f}); the model may be untrained or the text too short, and a "
                "lower --margin shows weaker cells")


def rankings(states: States, *, progress: bool = False, device: str = "auto") -> dict[str, pd.DataFrame]:
    """Every unit ranked against every built-in hypothesis the text varies, by name.

    One scoring pass for all of them (cached beside the file); hypotheses constant on this text
    are left out.
    """
    out = {}
    for name in HYPOTHESES:
        try:
            out[name] = rank_units(states, name, top=None, progress=progress, device=device)
        except SearchError:
            continue  # constant on this text
    return out


def build_atlas(states: States, tables: Mapping[str, pd.DataFrame] | None = None, *, margin: float = MARGIN,
                per_hypothesis: int = PER_HYPOTHESIS, unexplained: int = UNEXPLAINED,
                progress: bool = False, device: str = "auto") -> Atlas:
    """The atlas of an open file: see the module docstring.

    Args:
        states: an open extraction file.
        tables: hypothesis -> every unit's ranking (:func:`rankings`, computed when None); a
            ranking with a ``causal_percentile`` column gives its cards causal scores.
        margin: the margin over its baseline that a unit must reach to clear a hypothesis.
        per_hypothesis: cards per hypothesis.
        unexplained: unexplained cards.
        progress: a progress bar on stderr while units are scored.
        device: where to score units (``auto``, ``cpu`` or ``cuda``).
    """
    if tables is None:
        tables = rankings(states, progress=progress, device=device)
    summaries = {name: states.summary(name) for name in _names(tables)}
    tracked: dict[str, list[Card]] = {}
    for hyp, table in tables.items():
        rows = _distinct_units(table).head(per_hypothesis)
        tracked[hyp] = [_card(row, table.attrs, hyp, summaries) for row in rows.itertuples()]
    tracked = dict(sorted((kv for kv in tracked.items() if kv[1]), key=lambda kv: (-kv[1][0].margin, kv[0])))
    best = _best_margins(tables)
    clear = {}
    for kind in dict.fromkeys(Neuron.parse(n).kind for n in best.index):
        mine = best[[Neuron.parse(n).kind == kind for n in best.index]]
        clear[kind] = (int((mine["margin"] >= margin).sum()), len(mine))
    cards = [c for cs in tracked.values() for c in cs]
    closest = max(cards, key=lambda c: (c.margin, c.neuron)) if cards else None
    candidates = best[best["margin"] < margin]
    odd = _unexplained(states, candidates, tables, summaries, unexplained)
    skipped = [name for name in HYPOTHESES if name not in tables]
    causal = next((t.attrs["causal"] for t in tables.values() if "causal" in t.attrs), None)
    return Atlas(states.path.name, states.n_tokens, margin, tracked, clear, odd, closest, skipped, causal)


def with_causal(states: States, tables: Mapping[str, pd.DataFrame], model: CharLSTM, *,
                margin: float = MARGIN, per_hypothesis: int = PER_HYPOTHESIS, ablation: str = "mean",
                n_random: int = N_RANDOM, seed: int = 0, chars: int = CHARS, progress: bool = False,
                device: str | torch.device = "cpu") -> dict[str, pd.DataFrame]:
    """The rankings with causal scores beside the units an atlas of them shows as tracking a hypothesis.

    The units are those of :meth:`Atlas.shown` for the same ``margin`` and ``per_hypothesis``,
    each scored for the hypothesis of its card, all in one batched run with ``n_random`` random
    units per layer and kind (:func:`~lstmviz.intervene.causal.causal_scores`, whose arguments
    the rest are). Pass the result to :func:`build_atlas`.

    >>> # with open_states(f) as s: build_atlas(s, with_causal(s, rankings(s), model_for(s).model))
    """
    shown = build_atlas(states, tables, margin=margin, per_hypothesis=per_hypothesis, unexplained=0).shown()
    if not shown:
        return dict(tables)
    scores = causal_scores(states, model, [(c.hypothesis, c.neuron) for c in shown], ablation=ablation,
                           n_random=n_random, seed=seed, chars=chars, progress=progress, device=device)
    return {hyp: join_causal(table, scores) for hyp, table in tables.items()}


def _names(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The activation names the rankings cover, in order."""
    names: dict[str, None] = {}
    for table in tables.values():
        names.update(dict.fromkeys(table["name"]))
    return list(names)


def _distinct_units(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in rank order, one per unit: the ``h`` of a unit whose ``c`` ranks higher is left out."""
    unit = table["layer"].astype(str) + ":" + table["unit"].astype(str)
    return table[~unit.duplicated()]


def _best_margins(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per neuron: its best margin over all hypotheses, and that hypothesis (index: neuron)."""
    frames = [pd.DataFrame({"neuron": t["neuron"], "margin": t["score"] - t.attrs["baseline"],
                            "hypothesis": hyp}) for hyp, t in tables.items()]
    if not frames:
        return pd.DataFrame({"margin": [], "hypothesis": []}, index=pd.Index([], name="neuron"))
    every = pd.concat(frames, ignore_index=True).sort_values(["neuron", "margin", "hypothesis"],
                                                              ascending=[True, False, True], kind="stable")
    return every.drop_duplicates("neuron").set_index("neuron")


def _peaks(summary: dict[str, np.ndarray], unit: int, direction: str, count: int) -> tuple[int, ...]:
    """Positions of a unit's strongest values in its direction, from the file's summaries."""
    pos = summary["top_pos" if direction == "+" else "bottom_pos"][unit]
    val = summary["top_val" if direction == "+" else "bottom_val"][unit]
    order = np.argsort(-val if direction == "+" else val, kind="stable")
    return tuple(int(p) for p in pos[order] if p >= 0)[:count]


def _causal(row, column: str = CAUSAL) -> float | None:
    value = getattr(row, column, None)
    return None if value is None or pd.isna(value) else float(value)


def _card(row, attrs: Mapping, hypothesis: str, summaries: dict[str, dict[str, np.ndarray]]) -> Card:
    neuron = Neuron.parse(row.neuron)
    baseline = float(attrs["baseline"])
    return Card(row.neuron, hypothesis, str(attrs["description"]), str(attrs["measure"]), float(row.score),
                baseline, float(row.score) - baseline, row.direction, _causal(row),
                _peaks(summaries[neuron.name], neuron.unit, row.direction, 1),
                causal_bits=_causal(row, CAUSAL_BITS))


def _unexplained(states: States, candidates: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                 summaries: dict[str, dict[str, np.ndarray]], count: int) -> list[Card]:
    """The strongest, most persistent units among ``candidates``, one per unit, as cards."""
    if candidates.empty or count < 1:
        return []
    stop = min(states.n_tokens, SAMPLE_ROWS)
    found = []
    for name in dict.fromkeys(Neuron.parse(n).name for n in candidates.index):
        units = [Neuron.parse(n).unit for n in candidates.index if Neuron.parse(n).name == name]
        kind = Neuron.parse(f"{name}.0").kind
        shown = display_values(kind, states.window(name, 0, stop)[:, units].astype(np.float32))  # (T, U)
        spread, persistence = _activity(shown, KINDS[kind].display_range)
        for k, unit in enumerate(units):
            found.append((spread[k] * max(persistence[k], 0.0), f"{name}.{unit}", spread[k], persistence[k]))
    found.sort(key=lambda f: (-f[0], f[1]))
    cards: list[Card] = []
    seen: set[tuple[int, int]] = set()
    for interest, neuron, spread, persistence in found:
        n = Neuron.parse(neuron)
        if interest < MIN_INTEREST:
            break
        if (n.layer, n.unit) in seen:
            continue
        seen.add((n.layer, n.unit))
        cards.append(_odd_card(n, interest, spread, persistence, candidates.loc[neuron], tables,
                               summaries[n.name]))
        if len(cards) == count:
            break
    return cards


def _activity(shown: np.ndarray, span: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: spread (standard deviation over half the kind's range) and lag-1 autocorrelation."""
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.nanstd(shown, axis=0) / ((span[1] - span[0]) / 2)
        if len(shown) < 3:
            return np.nan_to_num(spread), np.zeros(shown.shape[1])
        a, b = shown[:-1] - np.nanmean(shown[:-1], 0), shown[1:] - np.nanmean(shown[1:], 0)
        r = np.nansum(a * b, 0) / np.sqrt(np.nansum(a * a, 0) * np.nansum(b * b, 0))
    return np.nan_to_num(spread), np.nan_to_num(r)


def _odd_card(n: Neuron, interest: float, spread: float, persistence: float, best: pd.Series,
              tables: Mapping[str, pd.DataFrame], summary: dict[str, np.ndarray]) -> Card:
    table = tables[best["hypothesis"]]
    row = next(table[table["neuron"] == str(n)].itertuples())
    shown = quantity(n.kind)
    facts = [f"spread: standard deviation of {shown} {spread * _half(n.kind):.2f}",
             f"persists: lag-1 autocorrelation {persistence:.2f}"]
    saturated = float(summary["sat_hi"][n.unit] + summary["sat_lo"][n.unit])
    if saturated >= SATURATED:
        facts.append(f"saturated {saturated:.0%} of the time ({float(summary['sat_hi'][n.unit]):.0%} high, "
                     f"{float(summary['sat_lo'][n.unit]):.0%} low)")
    sharp = _sharpness(summary, n.unit)
    if sharp >= SHARP:
        facts.append(f"sharp peaks: its top contexts stand {sharp:.1f} standard deviations above its mean")
    direction = "+" if _sharpness(summary, n.unit) >= _sharpness(summary, n.unit, low=True) else "-"
    return Card(str(n), best["hypothesis"], str(table.attrs["description"]), str(table.attrs["measure"]),
                float(row.score), float(table.attrs["baseline"]), float(best["margin"]), row.direction,
                None, _peaks(summary, n.unit, direction, CONTEXTS), tuple(facts), float(interest))


def _half(kind: str) -> float:
    lo, hi = KINDS[kind].display_range
    return (hi - lo) / 2


def _sharpness(summary: dict[str, np.ndarray], unit: int, low: bool = False) -> float:
    """How far a unit's strongest values stand from its mean, in standard deviations (raw values)."""
    std = float(summary["std"][unit])
    if not std > 0:
        return 0.0
    values = summary["bottom_val" if low else "top_val"][unit]
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0
    return abs(float(values.mean()) - float(summary["mean"][unit])) / std

