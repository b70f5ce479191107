"""Cell search: rank every unit of an extraction by how well it tracks a hypothesis about the text.

For each unit (h, c and stored gates of every layer) and each hypothesis:

* binary hypotheses (inside quotes, …): AUROC of the unit's activation for "inside" against
  "outside", the point-biserial correlation, and the mean activation inside and outside;
* numeric hypotheses (bracket depth, column, …): Pearson and Spearman correlation, and the slope
  (activation change per unit of the hypothesis).

**Score.** ``score`` is ``max(AUROC, 1 - AUROC)`` for binary hypotheses (0.5 = chance, 1 = perfect;
``direction`` says whether the unit is higher inside, ``+``, or lower, ``-``) and ``|Pearson|`` for
numeric ones (``direction`` is the sign of r).

**Chance.** Every unit is also scored against copies of the hypothesis shifted circularly by
1/5, 2/5, 3/5 and 4/5 of the text (``shifts``): the text and the activations stay as they are, so
a shifted copy keeps the hypothesis' run lengths and frequency but breaks its link to the text.
``null`` is the unit's best score against those copies, and ``null_best`` (in ``DataFrame.attrs``)
the best over all units: a score that does not clearly beat ``null_best`` is what long runs and
many units produce by chance.

**Local baseline.** Units also react to single characters: in C code, a unit that merely fires on
``/`` and ``*`` reaches a fair AUROC for "inside a comment" without tracking anything. ``local``
is the score of the best guess from the current symbol alone (the hypothesis' mean for each
symbol, in-sample), so a unit that does not clearly beat ``baseline = max(null_best, local)`` does
no more than chance plus reacting to the symbol in front of it.

**Streaming.** Activations are read block by block (:meth:`States.read_ahead`) and never held
whole, in one pass: the per-unit histograms that turn values into ranks (:mod:`lstmviz.search.histograms`)
were counted by the extraction (format 1.2 ``rank_*`` summaries), so the pass turns every block
into mid-ranks by table look-up and needs only two matrix products per block and activation, for
all hypotheses at once; on a GPU (``device``, by default the GPU when there is one) the pass runs
close to the speed of the read. Files from before 1.2 first get a histogram pass, cached once per file.
Hypothesis values are held in memory: 1 byte per position for a binary one, 8 for a numeric one.

**Language.** Built-ins whose rules depend on the language (``comment``, ``string``, …) are read
in the text's language, detected from its start or given (``lang``); one that does not apply to
it (``docstring`` on C) is refused with a line saying so, and left out of :func:`rank_all`. Each
table's ``attrs`` say which language was used and why.

Results are cached per file and hypothesis (:mod:`lstmviz.search.cache`): a second call returns
at once, and a changed file is rescored. The results of a user's own hypotheses are bounded in
number and bytes, the least recently used removed first; the built-ins' are always kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmviz.devices import resolve_device
from lstmviz.errors import SearchError, StoreError, UnknownActivation
from lstmviz.kinds import kinds_named
from lstmviz.names import Neuron, parse_name
from lstmviz.search import cache as result_cache
from lstmviz.search import sparse
from lstmviz.search.histograms import DEFAULT_BINS, UnitHistograms
from lstmviz.search.hypotheses import (
    BUILTIN_KEYS,
    HYPOTHESES,
    Hypothesis,
    bind,
    resolve,
    symbol_string,
    text_language,
)
from lstmviz.search.languages import Language
from lstmviz.search.scoring import (
    BLOCK_ROWS,
    DEFAULT_SHIFTS,
    Columns,
    Moments,
    Prepared,
    Progress,
    ProgressBar,
    score_activations,
    symbol_codes,
)
from lstmviz.store.reader import States

log = logging.getLogger(__name__)

BINARY_COLUMNS = ["neuron", "name", "layer", "kind", "unit", "score", "direction", "null",
                  "auroc", "point_biserial", "mean_in", "mean_out"]
NUMERIC_COLUMNS = ["neuron", "name", "layer", "kind", "unit", "score", "direction", "null",
                   "pearson", "spearman", "slope", "mean"]


@dataclass
class UnitScores:
    """Every unit's statistics for one hypothesis (unsorted); :meth:`table` ranks them.

    Attributes:
        hypothesis: the hypothesis' name; ``description`` says what it measures.
        binary: AUROC-scored (True) or correlation-scored (False).
        n_positions: positions in the text; ``n_inside`` positions where a binary one holds.
        local: score of the best guess from the current symbol alone (see the module docstring).
        stats: activation name -> {statistic -> (H,) float64 array}.
        language: the language the text was read in (None where not known, as for a bare cache).
    """

    hypothesis: str
    description: str
    binary: bool
    n_positions: int
    n_inside: int
    local: float
    stats: dict[str, dict[str, np.ndarray]]
    language: Language | None = None

    @property
    def null_best(self) -> float:
        """The best score any unit reaches against the shifted copies: what chance reaches."""
        return float(max(np.nanmax(s["null"]) for s in self.stats.values()))

    def table(self, top: int | None = 20) -> pd.DataFrame:
        """Units sorted best first (all of them when ``top`` is None), one row each."""
        rows = []
        for name, s in self.stats.items():
            layer, kind = parse_name(name)
            H = len(s["score"])
            frame = pd.DataFrame({"neuron": [str(Neuron(layer, kind, u)) for u in range(H)], "name": name,
                                  "layer": layer, "kind": kind, "unit": np.arange(H)})
            for key, arr in s.items():
                frame[key] = arr
            rows.append(frame)
        df = pd.concat(rows, ignore_index=True)
        signed = df["auroc"] - 0.5 if self.binary else df["pearson"]
        df["direction"] = np.where(signed >= 0, "+", "-")
        df = df.sort_values(["score", "neuron"], ascending=[False, True], kind="stable", na_position="last")
        df = df[BINARY_COLUMNS if self.binary else NUMERIC_COLUMNS]
        if top is not None:
            df = df.head(top)
        df = df.reset_index(drop=True)
        df.attrs.update(self.summary())
        return df

    def summary(self) -> dict:
        """Facts about the hypothesis on this text: name, measure, coverage, chance level."""
        return {
            "hypothesis": self.hypothesis, "description": self.description, "binary": self.binary,
            "measure": "AUROC" if self.binary else "|Pearson|", "n_positions": self.n_positions,
            "n_inside": self.n_inside, "null_best": self.null_best, "local": self.local,
            "baseline": max(self.null_best, self.local), **language_attrs(self.language),
        }


def language_attrs(language: Language | None) -> dict:
    """The language facts a table carries: ``language``, ``language_given``, ``language_evidence``."""
    if language is None:
        return {}
    return {"language": language.name, "language_given": language.given,
            "language_evidence": language.evidence}


# --- public API ----------------------------------------------------------------------------------


def select_names(states: States, *, layer: int | None = None, kind: str | None = None) -> list[str]:
    """Activation names of the file, optionally only one layer and/or one kind.

    ``kind`` is ``h``, ``c``, ``gates`` (all four gates) or one gate such as ``gates.f``.
    """
    names = [n for n in states.names if n != "embed"]
    if layer is not None:
        if not 0 <= layer < states.n_layer:
            raise UnknownActivation(f"no layer {layer} in {states.path.name} "
                                    f"(layers: 0..{states.n_layer - 1})")
        names = [n for n in names if parse_name(n)[0] == layer]
    if kind is not None:
        names = [n for n in names if parse_name(n)[1] in kinds_named(kind)]
        if not names:
            raise UnknownActivation(f"{states.path.name} holds no {kind!r} activations; it has "
                                    f"{', '.join(states.kinds())} (gates need `lstmviz extract --gates`)")
    return names


def rank_units(
    states: States,
    hypothesis: str | Hypothesis | np.ndarray,
    *,
    names: Sequence[str] | None = None,
    top: int | None = 20,
    cache: bool = True,
    progress: Progress = False,
    device: str | torch.device = "auto",
    lang: str | None = None,
) -> pd.DataFrame:
    """Units ranked by how well they track ``hypothesis``, best first.

    Args:
        states: an open extraction file.
        hypothesis: a built-in name (``HYPOTHESES``), a regular expression (inside any match), a
            :class:`Hypothesis`, or an array with one value per position.
        names: activations to rank (default: every h, c and gate in the file).
        top: rows to return (None: every unit).
        cache: read and write cached results beside the file.
        progress: True for a progress bar on stderr, or a callable ``(done, total)``.
        device: where to score: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``.
        lang: the text's language (``c``, ``python``, …; see
            :data:`~lstmviz.search.languages.LANGUAGES`); None detects it.

    Returns:
        One row per unit: binary hypotheses give ``neuron, name, layer, kind, unit, score,
        direction, null, auroc, point_biserial, mean_in, mean_out``; numeric ones give
        ``neuron, …, null, pearson, spearman, slope, mean``. ``attrs`` holds the hypothesis,
        its measure, ``n_positions``, ``n_inside``, ``null_best``, ``local`` and ``baseline`` (see
        the module docstring), and ``language``, ``language_given``, ``language_evidence``.

    Raises:
        SearchError: the hypothesis is constant on this text (e.g. no quotes at all), does not
            apply to its language, or ``lang`` is unknown.

    >>> # with open_states("cache/model__val.h5") as s: rank_units(s, "quote", top=5)
    """
    language = text_language(states, lang)
    hyp = bind(resolve(hypothesis, byte_level=states.vocab.byte_level), language)
    scores = score_units(states, [hyp], names=names, cache=cache, progress=progress, device=device,
                         lang=language)
    return scores[hyp.cache_key].table(top)


def rank_all(
    states: States,
    *,
    top: int = 1,
    names: Sequence[str] | None = None,
    cache: bool = True,
    progress: Progress = False,
    device: str | torch.device = "auto",
    lang: str | None = None,
) -> pd.DataFrame:
    """The best ``top`` units for every built-in hypothesis: the file's "interpretable cells".

    Columns: ``hypothesis, rank, neuron, measure, score, direction, null, null_best, local,
    baseline, margin, coverage, description`` (``margin = score - baseline``). ``coverage`` is the
    share of positions inside (binary) or NaN (numeric). Hypotheses that are constant on this text
    (no URLs in a novel) are left out and listed in ``attrs["skipped"]``, and so are those for
    other languages (``docstring`` in C), which ``attrs["not_applicable"]`` lists apart; ``attrs``
    also name the language (see :func:`rank_units`). ``device`` and ``lang`` as in :func:`rank_units`.
    """
    language = text_language(states, lang)
    hyps = [b for h in HYPOTHESES.values() if (b := h.in_language(language.name)) is not None]
    scores = score_units(states, hyps, names=names, cache=cache, progress=progress, skip_constant=True,
                         device=device, lang=language)
    rows = []
    for hyp in hyps:
        if hyp.cache_key not in scores:
            continue
        s = scores[hyp.cache_key]
        best = s.table(top)
        for rank, row in enumerate(best.itertuples(), start=1):
            rows.append({
                "hypothesis": hyp.name, "rank": rank, "neuron": row.neuron,
                "measure": s.summary()["measure"], "score": row.score, "direction": row.direction,
                "null": row.null, "null_best": s.null_best, "local": s.local,
                "baseline": s.summary()["baseline"], "margin": row.score - s.summary()["baseline"],
                "coverage": s.n_inside / s.n_positions if s.binary else np.nan,
                "description": hyp.description,
            })
    df = pd.DataFrame(rows, columns=["hypothesis", "rank", "neuron", "measure", "score", "direction",
                                     "null", "null_best", "local", "baseline", "margin", "coverage",
                                     "description"])
    shown = {hyp.name for hyp in hyps if hyp.cache_key in scores}
    df.attrs["skipped"] = [name for name in HYPOTHESES if name not in shown]
    df.attrs["not_applicable"] = [h.name for h in HYPOTHESES.values() if h.in_language(language.name) is None]
    df.attrs.update(language_attrs(language))
    return df


def cached_scores(
    states: States, hypothesis: str | Hypothesis, *, names: Sequence[str] | None = None,
    lang: str | None = None,
) -> UnitScores | None:
    """Scores already computed for this file, or None: never reads activations (for dashboards).

    Raises:
        SearchError: the hypothesis does not apply to the text's language, or ``lang`` is unknown.
    """
    language = text_language(states, lang)
    hyp = bind(resolve(hypothesis, byte_level=states.vocab.byte_level), language)
    names = list(names) if names is not None else select_names(states)
    folder = result_cache.cache_dir(states.path)
    found = result_cache.load(folder, "scores-" + hyp.cache_key, _expect(states)) if folder else None
    if found is None or "constant" in found or any(f"{n}/score" not in found for n in names):
        return None
    return _unpack(found, names, language)


def score_units(
    states: States,
    hypotheses: Sequence[Hypothesis],
    *,
    names: Sequence[str] | None = None,
    cache: bool = True,
    progress: Progress = False,
    skip_constant: bool = False,
    bins: int = DEFAULT_BINS,
    shifts: int = DEFAULT_SHIFTS,
    rows: int = BLOCK_ROWS,
    device: str | torch.device = "auto",
    lang: str | Language | None = None,
) -> dict[str, UnitScores]:
    """Statistics of every unit for several hypotheses, keyed by their ``cache_key`` in the language.

    Cached results are used where present; everything missing is computed in one scoring pass
    (built-in hypotheses are always computed together, as they cost little more than one).

    Args:
        states: an open extraction file.
        hypotheses: what to score (see :func:`lstmviz.search.hypotheses.resolve` to build them).
        names: activations to score (default: all).
        cache: read and write cached results beside the file.
        progress: True for a progress bar on stderr, or a callable ``(done, total)``.
        skip_constant: leave out hypotheses constant on this text, or for other languages than
            its own, instead of raising.
        bins: histogram bins per unit (accuracy of AUROC and Spearman, see search_profile).
        shifts: shifted copies of each hypothesis scored for the chance level.
        rows: positions per block read (memory: the block scored and the next one, read ahead).
        device: where to score: ``auto`` (the GPU when there is one), ``cpu`` or ``cuda``. The
            statistics agree to float32 rounding; cached results serve either.
        lang: the text's language (a name, or a :class:`Language` already resolved); None
            detects it. Built-ins with rules per language are bound to it (:func:`bind`).
    """
    where = resolve_device(str(device), supported=("cpu", "cuda"))
    language = lang if isinstance(lang, Language) else text_language(states, lang)
    if skip_constant:
        hypotheses = [b for h in hypotheses if (b := h.in_language(language.name)) is not None]
    else:
        hypotheses = [bind(h, language) for h in hypotheses]
    names = list(names) if names is not None else select_names(states)
    for name in names:
        states.activation(name)
    folder = result_cache.cache_dir(states.path) if cache else None
    expect = _expect(states, bins=bins, shifts=shifts)
    done: dict[str, dict[str, np.ndarray]] = {}
    todo: list[Hypothesis] = []
    for hyp in hypotheses:
        found = result_cache.load(folder, "scores-" + hyp.cache_key, expect) if folder else None
        if found is not None and ("constant" in found or all(f"{n}/score" in found for n in names)):
            done[hyp.cache_key] = found
        else:
            todo.append(hyp)
    if any(h.cache_key in BUILTIN_KEYS for h in todo):
        keys = {h.cache_key for h in todo} | done.keys()
        todo += [b for h in HYPOTHESES.values()
                 if (b := h.in_language(language.name)) is not None and b.cache_key not in keys]
    if todo:
        done.update(_compute(states, todo, names, folder, expect, progress=progress, bins=bins,
                             shifts=shifts, rows=rows, device=where))
    out = {}
    for hyp in hypotheses:
        arrays = done[hyp.cache_key]
        if "constant" not in arrays:
            out[hyp.cache_key] = _unpack(arrays, names, language)
        elif not skip_constant:
            raise SearchError(str(arrays["text"][1]))
    return out


# --- computation -----------------------------------------------------------------------------------


def _expect(states: States, *, bins: int = DEFAULT_BINS, shifts: int = DEFAULT_SHIFTS) -> dict:
    return result_cache.expected_meta(states.path, bins=bins, shifts=shifts)


def _unpack(arrays: dict[str, np.ndarray], names: Sequence[str], language: Language | None) -> UnitScores:
    info = arrays["info"]  # [binary, n_positions, n_inside]
    text = arrays["text"]  # [name, description]
    stats = {}
    for name in names:
        prefix = name + "/"
        stats[name] = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return UnitScores(str(text[0]), str(text[1]), bool(info[0]), int(info[1]), int(info[2]),
                      float(arrays["local"]), stats, language)


def _compute(
    states: States,
    hyps: list[Hypothesis],
    names: list[str],
    folder: Path | None,
    expect: dict,
    *,
    progress: Progress,
    bins: int,
    shifts: int,
    rows: int,
    device: torch.device,
) -> dict[str, dict[str, np.ndarray]]:
    """One scoring pass for every hypothesis in ``hyps``; constant ones get a marker instead."""
    symbols = symbol_string(states)
    codes = symbol_codes(symbols)
    N = len(symbols)
    out: dict[str, dict[str, np.ndarray]] = {}
    prepared = []
    for hyp in hyps:
        values = hyp.values(symbols)
        if N < 2 or np.ptp(values) == 0:
            log.info("hypothesis %s is constant on this text", hyp.name)
            message = _constant_message(hyp, values)
            marker = {"constant": np.array(True), "text": np.array([hyp.name, message])}
            out[hyp.cache_key] = _store(folder, hyp.cache_key, expect, marker, merge=False)
        else:
            prepared.append(Prepared(hyp, values, codes))
    if not prepared:
        return out
    profiles = _profiles(states, names, folder, expect, bins=bins, rows=rows, progress=progress)
    offsets = [round(N * (j + 1) / (shifts + 1)) for j in range(shifts)]
    rarer = sparse.Rarer(prepared, offsets, N) if all(p.hyp.binary for p in prepared) else None
    with ProgressBar(progress, N * len(names), "scoring") as bar:
        if rarer is not None and rarer.share <= sparse.SPARSE_SHARE:
            known = _moments(folder, expect, names)
            per_name, moments = sparse.score_rarer(states, names, profiles, prepared, rarer, known, rows,
                                                   bar, device)
        else:
            per_name, moments = score_activations(states, names, profiles, Columns(prepared, offsets, N),
                                                  rows, bar, device)
    _keep_moments(folder, expect, moments)
    for k, p in enumerate(prepared):
        arrays = {f"{name}/{stat}": v for name in names for stat, v in per_name[name][k].items()}
        arrays["info"] = np.array([p.hyp.binary, N, p.n_inside], dtype=np.int64)
        arrays["local"] = np.array(p.local)
        arrays["text"] = np.array([p.hyp.name, p.hyp.description])
        out[p.hyp.cache_key] = _store(folder, p.hyp.cache_key, expect, arrays)
    return out


def _moments(folder: Path | None, expect: dict, names: list[str]) -> dict[str, Moments]:
    """The totals of each activation a former pass kept (see :mod:`lstmviz.search.sparse`)."""
    found = (result_cache.load(folder, "moments", expect) if folder else None) or {}
    return {name: {k: found[f"{name}/{k}"] for k in ("mu", "sx", "sxx")} for name in names
            if f"{name}/sxx" in found}


def _keep_moments(folder: Path | None, expect: dict, moments: dict[str, Moments]) -> None:
    """Keep each activation's totals beside the results, merged with those of other activations."""
    if folder is None:
        return
    arrays = dict(result_cache.load(folder, "moments", expect) or {})
    arrays.update({f"{name}/{k}": v for name, m in moments.items() for k, v in m.items()})
    result_cache.save(folder, "moments", expect, arrays)


def _constant_message(hyp: Hypothesis, values: np.ndarray) -> str:
    if hyp.binary:
        state = "never" if not values.any() else "always"
        empty = " (matches of no characters, such as ^ or \\b, mark no position)" if \
            state == "never" and hyp.cache_key.startswith("pattern-") else ""
        return (f"hypothesis {hyp.name!r} is {state} true in this text{empty}, so no unit can track it; "
                "choose another hypothesis or another text")
    return f"hypothesis {hyp.name!r} has the same value everywhere in this text; choose another"


def _store(folder: Path | None, key: str, expect: dict, arrays: dict[str, np.ndarray], *,
           merge: bool = True) -> dict:
    """Merge with what the cache holds for other activations, save, and return the union."""
    if folder is None:
        return arrays
    old = (result_cache.load(folder, "scores-" + key, expect) or {}) if merge else {}
    merged = {**{k: v for k, v in old.items() if k != "constant"}, **arrays}
    result_cache.save(folder, "scores-" + key, expect, merged)
    if key not in BUILTIN_KEYS:
        result_cache.trim(folder, _users_own)
    return merged


def _users_own(stem: str) -> bool:
    """A cached result of a user's own hypothesis (pattern, spans, values): bounded, unlike the built-ins'."""
    return stem.startswith("scores-") and stem.removeprefix("scores-") not in BUILTIN_KEYS


def _profiles(states: States, names: list[str], folder: Path | None, expect: dict, *, bins: int,
              rows: int, progress: Progress) -> dict[str, UnitHistograms]:
    """Per-unit histograms of each activation: stored by the extraction, cached, or one pass."""
    out, missing = {}, []
    for name in names:
        stored = _stored_histograms(states, name, bins)
        if stored is not None:
            out[name] = stored
        else:
            missing.append(name)
    cached = (result_cache.load(folder, "profile", expect) if folder and missing else None) or {}
    for name in [n for n in missing if f"{n}/counts" in cached]:
        out[name] = UnitHistograms.from_arrays(cached, name)
    missing = [n for n in missing if n not in out]
    if missing:
        with ProgressBar(progress, states.n_tokens * len(missing), "histograms") as bar:
            for name in missing:
                hist = UnitHistograms.empty(states.n_hidden, bins, **_known_range(states, name))
                for _, block in states.blocks([name], rows):
                    hist.update(block[name])
                    bar.update(len(block[name]))
                out[name] = hist
        if folder is not None:
            arrays = dict(cached)
            for name in missing:
                arrays.update(out[name].to_arrays(name))
            result_cache.save(folder, "profile", expect, arrays)
    return out


def _stored_histograms(states: States, name: str, bins: int) -> UnitHistograms | None:
    """The histograms the extraction counted (format 1.2), when the file has them with ``bins`` bins."""
    try:
        ranks = states.rank_histogram(name)
        summary = states.summary(name)
    except StoreError:
        return None
    if ranks is None or ranks["rank_hist"].shape != (states.n_hidden, bins):
        return None
    return UnitHistograms.stored(ranks["rank_hist"], ranks["rank_lo"], ranks["rank_width"],
                                 summary["mean"], states.n_tokens)


def _known_range(states: States, name: str) -> dict[str, np.ndarray]:
    """Each unit's min and max from the extraction's summaries, when the file has them."""
    try:
        summary = states.summary(name)
    except StoreError:
        return {}
    if "min" not in summary or "max" not in summary:
        return {}
    return {"low": summary["min"], "high": summary["max"]}
