"""Cell search speed: every unit x every built-in hypothesis, against two baselines.

Builds (or reuses) an extraction of a random-weight CharLSTM over real text (or, with
``--synthetic``, a file of the same shape whose activations are random numbers, written directly:
building a 1M-character 3 x 512 extraction takes tens of minutes on 2 cores), then times:

* one raw sequential read of every activation, block by block, as stored (what the search cannot
  avoid), and the same read converted to float32 (``States.blocks``);
* the search on a fresh file (one pass: the extraction stored the rank histograms), on a fresh
  file read as a format 1.1 one (histogram pass + scoring pass), and with every result cached;
* one pattern of your own, on the fresh file (the sparse pass adds up each unit's totals as it
  reads) and then new patterns after the full search (totals known), from rare to common: each
  with its share of positions inside, the share of rows it ranks, and its ratio to the full
  search measured in the same run (the sparse pass ranks only its rarer side's rows and their
  shifted copies; past half of all rows a pattern takes the full pass);
* a straightforward per-unit numpy loop (read one unit's column, exact ranks by sorting, every
  statistic of every hypothesis), timed on a few units and extrapolated to all of them.

Usage:
    python benchmarks/search.py                      # 1,000,000 chars, 3 layers x 512 units
    python benchmarks/search.py --chars 200000 --hidden 256 --layers 2
    python benchmarks/search.py --synthetic --chars 5000000   # a 46 GB file: larger than memory
    python benchmarks/search.py --synthetic --device cuda --keep   # scoring on the GPU
    python benchmarks/search.py --file cache/wiki_lstm__wiki_val.h5 --threads 1   # the demo's file

CPU seconds are the work done (all threads); on a shared machine they move less than wall time,
and with ``--threads 1`` they do not count threads spinning while they wait for work.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lstmviz.devices import resolve_device
from lstmviz.extraction.extract import activation_names, extract
from lstmviz.extraction.options import Options
from lstmviz.extraction.summarize import UnitSummary
from lstmviz.kinds import KINDS, SIGMOID_RANGE, TANH_RANGE
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab
from lstmviz.names import parse_name
from lstmviz.search import sparse
from lstmviz.search.cache import cache_dir
from lstmviz.search.hypotheses import HYPOTHESES, pattern_hypothesis, symbol_string
from lstmviz.search.rank import BLOCK_ROWS, rank_all, score_units, select_names
from lstmviz.store.reader import open_states
from lstmviz.store.spec import CHUNK_ROWS
from lstmviz.store.writer import StatesWriter

SHARED_TEXT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "wiki.train.txt"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_text(path: Path | None, chars: int) -> str:
    if path is None and SHARED_TEXT.exists():
        path = SHARED_TEXT
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:  # the standard library's own source, always present
        import json
        import logging
        import textwrap
        text = "".join(inspect.getsource(m) for m in (json, logging, textwrap, inspect, argparse))
    while len(text) < chars:
        text += text
    return text[:chars]


def build(out: Path, chars: int, hidden: int, layers: int, gates: bool, text_path: Path | None,
          streams: int) -> Path:
    text = load_text(text_path, chars)
    vocab = Vocab.from_text(text)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=layers, n_hidden=hidden, n_embd=64))
    loaded = LoadedModel(model.eval(), vocab, "lstmviz", Path("random.pt"), "0" * 64)
    log(f"building {out} ({chars:,} chars, {layers} x {hidden} units, gates={gates}, "
        f"{streams} streams) ...")
    t = time.perf_counter()
    extract(loaded, vocab.encode(text), out, Options(gates=gates, streams=streams, progress=True))
    log(f"built in {time.perf_counter() - t:.0f} s")
    return out


def build_synthetic(out: Path, chars: int, hidden: int, layers: int, gates: bool,
                    text_path: Path | None) -> Path:
    """A file of the extraction format over real text, with smooth random activations."""
    text = load_text(text_path, chars)
    vocab = Vocab.from_text(text)
    config = LSTMConfig(vocab_size=len(vocab), n_layer=layers, n_hidden=hidden, n_embd=64)
    names = activation_names(layers, gates)
    log(f"writing synthetic {out} ({chars:,} chars, {layers} x {hidden} units, gates={gates}) ...")
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    writer = StatesWriter(out, n_tokens=chars, config=config, vocab=vocab, names=names)
    writer.write_tokens(0, vocab.encode(text).astype(np.int32))
    rows = 16 * CHUNK_ROWS
    kinds = {name: KINDS[parse_name(name)[1]] for name in names}
    summaries = {name: UnitSummary(kind.key, hidden, stored=getattr(torch, kind.storage_dtype()))
                 for name, kind in kinds.items()}  # as the extraction computes them, rank histograms included
    for start in range(0, chars, rows):
        n = min(rows, chars - start)
        acts = {}
        for name in names:
            x = rng.standard_normal((n, hidden), dtype=np.float32)
            if kinds[name].value_range == TANH_RANGE:
                x = np.tanh(x)
            elif kinds[name].value_range == SIGMOID_RANGE:
                x = 1 / (1 + np.exp(-x))
            acts[name] = x
            summaries[name].update(torch.from_numpy(x), start)
        writer.write_activations(start, acts)
        log(f"  {start + n:,} / {chars:,}")
    for name in names:
        if kinds[name].value_range is None:  # c's histograms need its range: a second pass, as extraction
            for start in range(0, chars, rows):
                rows_of_c = writer.read_rows(name, start, min(start + rows, chars))
                summaries[name].update_hist(torch.from_numpy(rows_of_c))
        writer.write_summary(name, summaries[name].result())
    writer.finish()
    log(f"written in {time.perf_counter() - t:.0f} s")
    return out


class Timer:
    """Wall-clock and CPU seconds of a block; CPU time is what a busy, shared machine distorts least."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def vs(self, base: Timer) -> str:
        """This time and its ratio to ``base``, wall and CPU."""
        return (f"{self.wall:7.1f} s wall ({self.wall / base.wall:4.1f} x read), {self.cpu:7.1f} s CPU "
                f"({self.cpu / base.cpu:4.1f} x read)")


def raw_read(states, names: list[str], as_stored: bool) -> Timer:
    """Every activation read once in blocks: as stored (the floor), or converted to float32."""
    with Timer() as t:
        for name in names:
            if as_stored:
                ds = states.file[name.replace(".", "/")]
                for a in range(0, states.n_tokens, BLOCK_ROWS):
                    ds[a : a + BLOCK_ROWS]  # h5py writes every byte into a fresh array
            else:
                for _ in states.blocks([name], BLOCK_ROWS):
                    pass
    return t


def midranks(x: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2)[inverse]


def naive_unit(states, name: str, unit: int, hyps: dict[str, np.ndarray], shifts: list[int]) -> None:
    """Every statistic of one unit, the straightforward way: its column, exact ranks, numpy."""
    x = states.window(name, 0, states.n_tokens, unit).astype(np.float64)
    r = midranks(x)
    for key, y in hyps.items():
        copies = [y] + [np.roll(y, -s) for s in shifts]
        if HYPOTHESES[key].binary:
            for c in copies:
                inside = c > 0
                n1 = inside.sum()
                _ = (r[inside].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(x) - n1))
            inside = y > 0
            _ = np.corrcoef(x, inside)[0, 1], x[inside].mean(), x[~inside].mean()
        else:
            for c in copies:
                _ = np.corrcoef(x, c)[0, 1]
            _ = np.corrcoef(r, midranks(y))[0, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--gates", action="store_true", help="also store and search the four gates")
    ap.add_argument("--streams", type=int, default=64,
                    help="parallel streams when building the file (a single stream runs ~100 chars/s)")
    ap.add_argument("--synthetic", action="store_true",
                    help="write random activations instead of extracting (same format and shape)")
    ap.add_argument("--text", type=Path, help="text to extract over (default: shared wiki text)")
    ap.add_argument("--out", type=Path, default=Path("cache/bench"), help="folder for the file")
    ap.add_argument("--naive-units", type=int, default=6, help="units timed for the per-unit loop")
    ap.add_argument("--keep", action="store_true", help="keep the file for a later run")
    ap.add_argument("--device", default="auto", help="where to score: auto (the GPU if any), cpu, cuda")
    ap.add_argument("--file", type=Path, help="an existing extraction to time instead (its cached "
                    "search results are removed first, and it is kept)")
    ap.add_argument("--patterns", nargs="+",
                    default=["\\[\\[", "[0-9]+", "the", "[A-Z][a-z]+", " ", "[a-z]+"],
                    help="patterns of your own to time after the full search (rare to common)")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    args.out.mkdir(parents=True, exist_ok=True)
    kind = "synthetic" if args.synthetic else "random"
    gates = "_gates" if args.gates else ""
    path = args.file or args.out / f"search_{kind}_{args.chars}_{args.layers}x{args.hidden}{gates}.h5"
    if not path.exists() and args.synthetic:
        build_synthetic(path, args.chars, args.hidden, args.layers, args.gates, args.text)
    elif not path.exists():
        build(path, args.chars, args.hidden, args.layers, args.gates, args.text, args.streams)
    shutil.rmtree(cache_dir(path), ignore_errors=True)
    device = resolve_device(args.device)
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"file: {path} ({path.stat().st_size / 1e9:.2f} GB), {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads, scoring on {device}{gpu}")

    with open_states(path) as states:
        names = select_names(states)
        n_units = len(names) * states.n_hidden
        N = states.n_tokens
        print(f"{N:,} positions x {n_units:,} units ({', '.join(names)}) x {len(HYPOTHESES)} hypotheses")
        raw_read(states, names, True)  # warm the page cache
        read = raw_read(states, names, True)
        read32 = raw_read(states, names, False)
        print(f"raw sequential read of all activations:    {read.wall:7.1f} s wall, {read.cpu:7.1f} s CPU")
        print(f"  read and converted to float32 (blocks):  {read32.wall:7.1f} s wall, "
              f"{read32.cpu:7.1f} s CPU")

        hyps = list(HYPOTHESES.values())
        with Timer() as t:
            symbols = symbol_string(states)
            values = {h.name: h.values(symbols) for h in hyps}
        print(f"hypothesis values over the text:           {t.wall:7.1f} s wall")

        first = pattern_hypothesis("[A-Z]", byte_level=states.vocab.byte_level)
        with Timer() as one:
            score_units(states, [first], progress=True, device=device)
        print(f"one pattern, fresh file ([A-Z], totals summed as read): {one.vs(read)}")
        with Timer() as fresh:
            score_units(states, hyps, progress=True, skip_constant=True, device=device)
        print(f"search, fresh file (one pass):             {fresh.vs(read)}")
        print(f"  against the read converted to float32:   {fresh.wall / read32.wall:4.1f} x wall")
        print(f"  one pattern on the fresh file / the search: {one.wall / fresh.wall:4.2f} wall, "
              f"{one.cpu / fresh.cpu:4.2f} CPU")
        print("new patterns after the search (totals known), against the search:")
        for pattern in args.patterns:
            mine = pattern_hypothesis(pattern, byte_level=states.vocab.byte_level)
            inside = mine.values(symbols) > 0
            N = len(inside)
            rows = sparse.Rarer([_Inside(inside)], [round(N * j / 5) for j in range(1, 5)], N).share
            with Timer() as t:
                score_units(states, [mine], device=device)
            how = "sparse" if rows <= sparse.SPARSE_SHARE else "full pass"
            print(f"  {pattern!r:>10}: inside {inside.mean():6.1%}, rows ranked {rows:6.1%} ({how:9}) "
                  f"{t.wall:6.2f} s wall ({t.wall / fresh.wall:4.2f} x), {t.cpu:6.2f} s CPU "
                  f"({t.cpu / fresh.cpu:4.2f} x)")
        shutil.rmtree(cache_dir(path))
        states.rank_histogram = lambda name: None  # read it as a format 1.1 file
        with Timer() as two:
            score_units(states, hyps, progress=True, skip_constant=True, device=device)
        print(f"search, fresh 1.1 file (histograms+score): {two.vs(read)}")
        with Timer() as t:
            best = rank_all(states)
        print(f"rank_all with every result cached:         {t.wall:7.3f} s wall")

        shifts = [round(N * j / 5) for j in range(1, 5)]
        rng = np.random.default_rng(0)
        picks = [(names[i % len(names)], int(rng.integers(states.n_hidden))) for i in range(args.naive_units)]
        t = time.perf_counter()
        present = {k: values[k] for k in HYPOTHESES if np.ptp(values[k]) > 0}
        with Timer() as t:
            for name, unit in picks:
                naive_unit(states, name, unit, present, shifts)
        per_unit, per_unit_cpu = t.wall / len(picks), t.cpu / len(picks)
        wall, cpu = per_unit * n_units, per_unit_cpu * n_units
        print(f"per-unit numpy loop: {per_unit:.2f} s wall, {per_unit_cpu:.2f} s CPU per unit, timed on "
              f"{len(picks)} units; extrapolated to {n_units:,} units: {wall:,.0f} s wall "
              f"({wall / fresh.wall:.0f} x the fresh search), {cpu:,.0f} s CPU ({cpu / fresh.cpu:.0f} x)")
        print()
        print(best[["hypothesis", "neuron", "score", "null_best", "local", "margin"]].to_string(index=False))
    if not args.keep and not args.file:
        path.unlink()
        shutil.rmtree(cache_dir(path), ignore_errors=True)


class _Inside:
    """What :class:`sparse.Rarer` reads of a prepared hypothesis: its inside bytes and their count."""

    def __init__(self, inside: np.ndarray):
        self.inside = inside.astype(np.uint8)
        self.n_inside = int(inside.sum())


if __name__ == "__main__":
    main()
