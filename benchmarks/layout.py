"""Chunk shape and compression of activation datasets, measured for the two ways they are read.

The dashboard reads a window of ~2,000 consecutive characters for one unit (or all units); the cell
search streams every character of every unit. Both, and the write speed, are timed here for several
layouts of one float16 (T, H) activation matrix. "Cold" reads open the file afresh for every read,
so HDF5's chunk cache is empty (the operating system's page cache is not: it models a file read
recently, the common case for a dashboard).

The matrix is real LSTM output: h of a random-weight LSTM whose weights are scaled up so units
saturate and remember as trained ones do, run over Python source as 64 parallel streams (quick on a
CPU). Pass --checkpoint and --text to use a trained model instead.

    python benchmarks/layout.py                      # ~1 minute on 2 cores
    python benchmarks/layout.py --rows 524288 --units 1024
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstmviz.model.charlstm import CharLSTM  # noqa: E402
from lstmviz.model.config import LSTMConfig  # noqa: E402
from lstmviz.model.runner import UnrolledLSTM  # noqa: E402
from lstmviz.model.vocab import Vocab  # noqa: E402

WRITE_ROWS = 4096  # the extractor appends blocks of this many rows
WINDOW = 2000

LAYOUTS = [  # (chunk rows, chunk units, compression, options)
    (4096, 64, None, None),
    (4096, 64, "lzf", None),
    (4096, 64, "gzip", 1),
    (4096, 64, "gzip", 4),
    (1024, 64, None, None),
    (16384, 64, None, None),
    (4096, 16, None, None),
    (4096, 256, None, None),
    (4096, "all", None, None),
]


def activations(rows: int, units: int, checkpoint: str | None, text: str | None) -> np.ndarray:
    """(rows, units) float16 h of a real LSTM run."""
    if checkpoint:
        from lstmviz.model.loading import load_model

        loaded = load_model(checkpoint)
        model, vocab = loaded.model, loaded.vocab
        source = Path(text).read_text(encoding="utf-8")
    else:
        source = "".join(inspect.getsource(m) for m in (inspect, argparse, tempfile, statistics))
        vocab = Vocab.from_text(source)
        torch.manual_seed(0)
        model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=1, n_hidden=units, n_embd=32))
        with torch.no_grad():
            for p in model.lstm.parameters():
                p.mul_(3.0)
    ids = vocab.encode(source)
    streams = 64
    per = -(-rows // streams)
    tokens = np.resize(ids, streams * per).reshape(streams, per)
    out, _ = UnrolledLSTM(model)(torch.as_tensor(tokens))
    h = out.acts["layer0.h"][:, :, :units]  # (streams, per, H)
    return h.reshape(-1, h.shape[-1])[:rows].half().numpy()


def c_precision(n_chars: int = 100_000) -> None:
    """Why c is stored as float32: a counter cell against float16, bfloat16 and a per-unit scale."""
    source = inspect.getsource(inspect)
    vocab = Vocab.from_text(source)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=1, n_hidden=8, n_embd=8))
    with torch.no_grad():  # unit 0 counts characters: i = f = g = 1, so c_t = t + 1
        for gate in range(3):
            model.lstm.weight_ih_l0[gate * 8] = 0
            model.lstm.weight_hh_l0[gate * 8] = 0
            model.lstm.bias_ih_l0[gate * 8] = 50.0
    ids = torch.as_tensor(np.resize(vocab.encode(source), n_chars))[None]
    c = UnrolledLSTM(model)(ids)[0].acts["layer0.c"][0, :, 0]  # (T,) float32, exactly 1..T
    print(f"counter cell over {n_chars:,} characters: c runs 1 .. {c.max():,.0f}")
    for name, stored in (("float16", c.half().float()), ("bfloat16", c.bfloat16().float()),
                         ("float16 x per-unit scale", (c / c.abs().max()).half().float() * c.abs().max()),
                         ("float32", c.clone())):
        finite = torch.isfinite(stored)
        err = (stored[finite] - c[finite]).abs().max().item()
        first_inf = int(torch.nonzero(~finite)[0]) if (~finite).any() else None
        print(f"  {name:<25} non-finite: {int((~finite).sum()):>6,}"
              f"{f' (from character {first_inf:,})' if first_inf is not None else '':<26}"
              f" max abs error where finite: {err:,.3g}")


def write(path: Path, data: np.ndarray, chunks, compression, opts) -> float:
    rows, units = data.shape
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("h", shape=data.shape, dtype="f2", chunks=chunks,
                              compression=compression, compression_opts=opts)
        for a in range(0, rows, WRITE_ROWS):
            ds[a : a + WRITE_ROWS] = data[a : a + WRITE_ROWS]
    return time.perf_counter() - t0


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(path: Path, data: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    rows, units = data.shape
    starts = rng.integers(0, rows - WINDOW, size=20)
    picks = rng.integers(0, units, size=20)
    it = iter(range(10**9))

    def one_unit_window():
        k = next(it) % 20
        with h5py.File(path, "r") as f:
            f["h"][starts[k] : starts[k] + WINDOW, picks[k]]

    def all_units_window():
        k = next(it) % 20
        with h5py.File(path, "r") as f:
            f["h"][starts[k] : starts[k] + WINDOW]

    def one_unit_all_rows():
        with h5py.File(path, "r") as f:
            f["h"][:, picks[next(it) % 20]]

    def stream_all():
        with h5py.File(path, "r") as f:
            ds = f["h"]
            for a in range(0, rows, 16 * WRITE_ROWS):
                ds[a : a + 16 * WRITE_ROWS]

    return {
        "unit_window_ms": timed(one_unit_window, 20) * 1e3,
        "all_window_ms": timed(all_units_window, 20) * 1e3,
        "unit_all_rows_ms": timed(one_unit_all_rows, 5) * 1e3,
        "stream_gb_s": data.nbytes / timed(stream_all, 3) / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=262_144)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--checkpoint")
    parser.add_argument("--text")
    parser.add_argument("--dir", default=None, help="folder for the test files (default: a temporary one)")
    args = parser.parse_args()

    c_precision()
    data = activations(args.rows, args.units, args.checkpoint, args.text)
    rng = np.random.default_rng(0)
    print(f"float16 activations: {data.shape[0]:,} rows x {data.shape[1]} units = {data.nbytes / 1e6:.0f} MB")
    header = (f"{'chunks':>14} {'codec':>7} {'size':>6} {'write':>9} {'unit@2000':>10} {'all@2000':>9} "
              f"{'unit@all':>9} {'stream':>9}")
    print(header)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for rows, units, codec, opts in LAYOUTS:
            units = data.shape[1] if units == "all" else min(units, data.shape[1])
            path = Path(tmp) / f"{rows}x{units}_{codec}{opts or ''}.h5"
            seconds = write(path, data, (rows, units), codec, opts)
            m = measure(path, data, rng)
            name = f"{codec}-{opts}" if opts else (codec or "none")
            print(f"{rows:>7}x{units:<6} {name:>7} {os.path.getsize(path) / data.nbytes:>5.0%} "
                  f"{data.nbytes / seconds / 1e9:>6.2f}GB/s {m['unit_window_ms']:>8.2f}ms "
                  f"{m['all_window_ms']:>7.2f}ms {m['unit_all_rows_ms']:>7.1f}ms "
                  f"{m['stream_gb_s']:>5.2f}GB/s", flush=True)
            path.unlink()
    print("size: file / raw bytes; write: raw bytes per second appending 4,096-row blocks;")
    print("unit@2000 / all@2000: one unit / all units over a 2,000-row window, fresh file handle;")
    print("unit@all: one unit over every row; stream: all units, all rows, in 65,536-row blocks.")


if __name__ == "__main__":
    main()
