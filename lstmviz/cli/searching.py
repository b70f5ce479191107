"""``lstmviz search``: rank units by a hypothesis, a pattern or an example span."""

from __future__ import annotations

import json
import math

import click
import pandas as pd
from click.core import ParameterSource

from lstmviz.cli.options import model_options
from lstmviz.devices import resolve_device
from lstmviz.intervene.causal import ABLATIONS, CHARS, JOINED, N_RANDOM, causal_scores, join_causal
from lstmviz.intervene.model_source import model_for
from lstmviz.kinds import CHOICES
from lstmviz.model.vocab import visible
from lstmviz.names import act_name
from lstmviz.search.by_example import ExampleSearch, search_by_example
from lstmviz.search.hypotheses import HYPOTHESES, pattern_hypothesis
from lstmviz.search.languages import LANGUAGES
from lstmviz.search.memory import rank_by_horizon
from lstmviz.search.rank import rank_all, rank_units, select_names
from lstmviz.store.reader import States, open_states

_SNIPPET = 60  # characters of text shown per match
_TOP = 20  # rows shown by default: units of one hypothesis, or places found by example


def _parse_span(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        a, b = (int(x) for x in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not START:END, e.g. 120:164", param_hint="--span") from None
    return a, b


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--hypothesis", "hypothesis", type=click.Choice(sorted(HYPOTHESES)),
              help="A built-in hypothesis (see docs/search.md for exact definitions).")
@click.option("--pattern", help="Regular expression: a unit should be on inside any match.")
@click.option("--span", help="START:END positions of an example: find units on there, then matches.")
@click.option("--all", "all_", is_flag=True, help="Best unit of every built-in hypothesis.")
@click.option("--horizon", is_flag=True,
              help="Cells by memory horizon, longest first (see `lstmviz profile --horizon`).")
@click.option("--top", type=click.IntRange(min=1),
              help=f"Rows to show: units, or matches with --span (default {_TOP}); units per hypothesis "
                   "with --all (default 1).")
@click.option("--layer", type=int,
              help="Only this layer (0-based). Default: all layers (the last for --span).")
@click.option("--kind", type=click.Choice(CHOICES),
              help="Only this activation kind. Default: all (h for --span).")
@click.option("--threshold", type=float, help="With --span: level that counts as on. Default: from the data.")
@click.option("--min-on", type=click.FloatRange(0, 1, min_open=True),
              help="With --span: share of the chosen units that must be on together in a match "
                   "(default 1: all).")
@click.option("--slack", type=click.IntRange(0, 20),
              help="With --span: positions by which each end of the span may miss where a unit switches "
                   "on or off (default 0: exactly there; the dashboard's drags use 2).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--no-cache", is_flag=True, help="Recompute, ignoring and not writing cached results.")
@click.option("--device", default="auto", show_default=True,
              help="Where to score units (not --span): auto (the GPU when there is one), cpu or cuda.")
@click.option("--causal", is_flag=True,
              help="Also silence each unit shown over the text, and random units of its layer and kind, "
                   "and report how much worse the model predicts where each hypothesis region closes "
                   "(causal_delta_bits) and the unit's percentile among the random units. Needs the "
                   "model FILE was extracted with.")
@click.option("--ablation", type=click.Choice(ABLATIONS), default="mean", show_default=True,
              help="With --causal: hold each unit at its mean over FILE, or at 0.")
@click.option("--random", "n_random", type=click.IntRange(min=1), default=N_RANDOM, show_default=True,
              help="With --causal: random units silenced per layer and kind.")
@click.option("--causal-chars", type=click.IntRange(min=2), default=CHARS, show_default=True,
              help="With --causal: characters silenced and measured, from the text's start.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="With --causal: seed of the random units.")
@model_options("With --causal: ")
@click.option("--lang", metavar="|".join(LANGUAGES),
              help="The text's language, for the hypotheses whose rules depend on it (comment, "
                   "string, ...). Default: detected from the text, and shown.")
def search(file: str, hypothesis: str | None, pattern: str | None, span: str | None, all_: bool,
           horizon: bool, top: int, layer: int | None, kind: str | None, threshold: float | None,
           min_on: float, slack: int | None, as_json: bool, no_cache: bool, device: str, causal: bool,
           ablation: str, n_random: int, causal_chars: int, seed: int, model: str | None, trust_pickle: bool,
           lang: str | None) -> None:
    """Rank every unit in FILE by how well it tracks a hypothesis about the text.

    Binary hypotheses are scored by AUROC (shown as max(AUROC, 1 - AUROC), with the
    direction), numeric ones by |Pearson r|. "null" is the unit's best score against
    shifted copies of the hypothesis; the baseline is the larger of the best such
    score of any unit and the score of a guess from the current symbol alone. A unit
    that does not clearly beat the baseline tracks nothing. Results are cached beside
    FILE.

    With --causal each unit shown is also silenced (mean-ablated) over the text,
    in one batched run with at least 30 random units of its layer and kind, to
    see whether the model's predictions depend on it (docs/interventions.md).

    \b
    Examples:
        lstmviz search cache/model__val.h5 --hypothesis quote --top 10
        lstmviz search cache/model__val.h5 --hypothesis depth --layer 1 --kind c
        lstmviz search cache/model__val.h5 --pattern 'https?://' --json
        lstmviz search cache/model__val.h5 --span 1200:1240
        lstmviz search cache/model__val.h5 --all
        lstmviz search cache/model__val.h5 --horizon --top 20
        lstmviz search cache/model__val.h5 --hypothesis quote --causal --top 10
        lstmviz search kernel.h5 --hypothesis comment --lang c
    """
    chosen = [x for x in (hypothesis, pattern, span, all_ or None, horizon or None) if x is not None]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --hypothesis, --pattern, --span, --all or --horizon")
    if horizon and kind is not None:
        raise click.UsageError("--horizon ranks cells (c; an h unit shares its c's memory): drop --kind")
    if span is None and (threshold is not None or min_on is not None or slack is not None):
        raise click.UsageError("--threshold, --min-on and --slack choose units for --span; they do nothing "
                               "here")
    ctx = click.get_current_context()
    causal_only = ("ablation", "n_random", "causal_chars", "seed", "model", "trust_pickle")
    if span is not None and causal:
        raise click.UsageError("--causal works with --hypothesis, --pattern or --all, not --span")
    if not causal and any(ctx.get_parameter_source(p) is not ParameterSource.DEFAULT for p in causal_only):
        raise click.UsageError("--ablation, --random, --causal-chars, --seed, --model and --trust-pickle go "
                               "with --causal")
    settings = {"ablation": ablation, "n_random": n_random, "seed": seed, "chars": causal_chars,
                "model": model, "trust_pickle": trust_pickle} if causal else None
    if span is not None and lang is not None:
        raise click.UsageError("--lang chooses the rules of hypotheses; --span uses none")
    if threshold is not None and not math.isfinite(threshold):
        raise click.BadParameter(f"{threshold} is not a number; give a level such as 0.5",
                                 param_hint="--threshold")
    with open_states(file) as states:
        if horizon:
            _show_horizons(rank_by_horizon(states, layer=layer, top=top or _TOP), as_json)
            return
        if span is not None:
            start, stop = _parse_span(span)
            layer = states.n_layer - 1 if layer is None else layer
            kind = kind or "h"
            if kind == "gates":
                raise click.BadParameter("--span searches one activation: give one gate, e.g. gates.f",
                                         param_hint="--kind")
            select_names(states, layer=layer, kind=kind)  # a clear error for a missing layer or kind
            name = act_name(layer, kind)
            result = search_by_example(states, start, stop, name=name, threshold=threshold,
                                       min_on=1.0 if min_on is None else min_on, slack=slack or 0,
                                       progress=True)
            _show_example(states, result, top or _TOP, as_json)
            return
        names = select_names(states, layer=layer, kind=kind)
        if all_:
            df = rank_all(states, top=top or 1, names=names, cache=not no_cache, progress=True,
                          device=device, lang=lang)
            if settings:
                pairs = list(zip(df.hypothesis, df.neuron, strict=True))
                df = _with_causal(states, df, pairs, settings, device)
            _show_all(df, as_json)
            return
        hyp = hypothesis if hypothesis else pattern_hypothesis(pattern, byte_level=states.vocab.byte_level)
        df = rank_units(states, hyp, names=names, top=top or _TOP, cache=not no_cache, progress=True,
                        device=device, lang=lang)
        if settings:
            df = _with_causal(states, df, [(hyp, n) for n in df.neuron], settings, device)
        _show_units(df, as_json)


def _with_causal(states: States, df: pd.DataFrame, pairs: list, settings: dict, device: str) -> pd.DataFrame:
    """The table with the causal columns added, and the causal settings and random units in ``attrs``."""
    loaded = model_for(states, settings["model"], trust_pickle=settings["trust_pickle"])
    scores = causal_scores(states, loaded.model, pairs, ablation=settings["ablation"],
                           n_random=settings["n_random"], seed=settings["seed"], chars=settings["chars"],
                           progress=True, device=resolve_device(device))
    return join_causal(df, scores)


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    cells = [[_fmt(v) for v in row] for row in df[columns].itertuples(index=False)]
    widths = [max(len(c), *(len(r[k]) for r in cells)) if cells else len(c) for k, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _causal_note(df: pd.DataFrame) -> str:
    info = df.attrs["causal"]
    groups = ", ".join(info["random"])
    n = min(len(r["units"]) for r in info["random"].values())
    how = "mean-ablated" if info["ablation"] == "mean" else "held at 0"
    return (f"\ncausal: each unit {how} over the first {info['chars']:,} characters; causal_delta_bits = "
            "change in loss (bits/char) where the model must predict that a region closes; "
            f"causal_percentile = share of {n} random units of the same layer and kind ({groups}) "
            "with a smaller change")


def _show_units(df: pd.DataFrame, as_json: bool) -> None:
    meta = df.attrs
    if as_json:
        click.echo(json.dumps({**meta, "units": json.loads(df.to_json(orient="records"))}, indent=2))
        return
    share = (f", inside at {meta['n_inside']:,} ({meta['n_inside'] / meta['n_positions']:.1%})"
             if meta["binary"] else "")
    click.echo(f"hypothesis: {meta['hypothesis']} - {meta['description']}")
    click.echo(f"text:       {_language(meta)}; {meta['n_positions']:,} positions{share}")
    click.echo(f"score:      {meta['measure']}{' as max(AUROC, 1-AUROC)' if meta['binary'] else ''}")
    click.echo(f"baseline:   {meta['baseline']:.3f} = max(chance {meta['null_best']:.3f} (best unit vs "
               f"shifted copies), current symbol alone {meta['local']:.3f}); beat it clearly to count")
    click.echo()
    extra = ["auroc", "point_biserial", "mean_in", "mean_out"] if meta["binary"] else \
        ["pearson", "spearman", "slope", "mean"]
    df = df.assign(rank=range(1, len(df) + 1))
    shown = JOINED[:2] if "causal" in meta else []
    click.echo(_table(df, ["rank", "neuron", "score", "direction", "null", *extra, *shown]))
    if shown:
        click.echo(_causal_note(df))


def _show_horizons(df: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"units": json.loads(df.to_json(orient="records"))}, indent=2))
        return
    window = int(df["window"].iloc[0])
    shown = df.assign(rank=range(1, len(df) + 1),
                      median=[_beyond(v, window) for v in df["median"]],
                      p90=[_beyond(v, window) for v in df["p90"]])
    click.echo(f"memory horizon: characters back holding 90 % of a cell's absolute contributions, "
               f"measured within {window:,}")
    click.echo("median and p90 over positions; beyond: share of positions further back than that\n")
    click.echo(_table(shown, ["rank", "neuron", "median", "p90", "beyond"]))


def _beyond(value: int, window: int) -> str:
    return f">{window}" if value > window else str(value)


def _language(meta: dict) -> str:
    """``c (detected: 41 preprocessor lines, …; --lang to choose another)``, or ``c (given with --lang)``."""
    if meta["language_given"]:
        return f"{meta['language']} (given with --lang)"
    return f"{meta['language']} (detected: {meta['language_evidence']}; --lang to choose another)"


def _show_all(df: pd.DataFrame, as_json: bool) -> None:
    causal = "causal" in df.attrs
    meta = df.attrs
    if as_json:
        extra = {"causal": df.attrs["causal"]} if causal else {}
        click.echo(json.dumps({"best": json.loads(df.to_json(orient="records")),
                               "skipped": meta.get("skipped", []),
                               "not_applicable": meta.get("not_applicable", []),
                               **{k: meta[k] for k in ("language", "language_given", "language_evidence")},
                               **extra},
                              indent=2))
        return
    click.echo(f"language: {_language(meta)}\n")
    ranks = ["rank"] if (df["rank"] > 1).any() else []
    shown = JOINED[:2] if causal else []
    click.echo(_table(df, ["hypothesis", *ranks, "neuron", "measure", "score", "direction", "null_best",
                           "local", "margin", *shown]))
    click.echo("\nmargin = score - max(null_best, local): near 0 or below means chance or a reaction to "
               "single symbols")
    if causal:
        click.echo(_causal_note(df))
    other = meta.get("not_applicable", [])
    constant = [name for name in meta.get("skipped", []) if name not in other]
    if constant:
        click.echo(f"\nskipped (the same everywhere in this text): {', '.join(constant)}")
    if other:
        click.echo(f"not for {meta['language']} text: {', '.join(other)}")


def _snippet(states: States, start: int, stop: int) -> str:
    text = "".join(visible(s) for s in states.symbols(start, min(stop, start + _SNIPPET)))
    return text + ("…" if stop - start > _SNIPPET else "")


def _show_example(states: States, result: ExampleSearch, top: int, as_json: bool) -> None:
    matches = result.matches.head(top)
    if as_json:
        click.echo(json.dumps({
            "name": result.name, "start": result.start, "stop": result.stop,
            "threshold": result.threshold, "margin": result.margin,
            "units": json.loads(result.units.to_json(orient="records")),
            "n_matches": len(result.matches),
            "matches": json.loads(matches.to_json(orient="records")),
        }, indent=2))
        return
    click.echo(f"example:    {result.start}:{result.stop} {_snippet(states, result.start, result.stop)!r}")
    click.echo(f"threshold:  {result.threshold:.3f} on {result.name} (change with --threshold)")
    units = ", ".join(f"{n}({s})" for n, s in zip(result.units.neuron, result.units.sign, strict=True))
    click.echo(f"units:      {units}")
    click.echo(f"matches:    {len(result.matches):,} in the whole file, best {len(matches)} shown")
    if not len(matches):
        click.echo("            nowhere else are these units on together: try --min-on 0.5, or a higher "
                   "--threshold to choose fewer units")
    click.echo()
    if len(matches):
        texts = [repr(_snippet(states, a, b)) for a, b in zip(matches.start, matches.stop, strict=True)]
        shown = matches.assign(text=texts)
        click.echo(_table(shown, ["start", "stop", "length", "score", "on", "text"]))
