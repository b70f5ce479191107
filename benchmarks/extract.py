"""Extraction speed against two baselines, measured in one run on the same model and text.

1. plain: ``CharLSTM`` forward (nn.LSTM + decoder) over the text in blocks, storing nothing, on
   one torch thread and on all of them, whichever is faster (the baseline);
2. naive: a per-step loop over ``nn.LSTM`` that captures the same h and c of every layer;
3. lstmviz: ``extract`` writing everything (h, c, predictions, summaries; gates with --gates) to HDF5.

The text is Python standard library source (always present), cut to --chars. The model has random
weights unless --checkpoint is given (speed does not depend on the weights' values).

    python benchmarks/extract.py                                   # 2 x 512 on CPU
    python benchmarks/extract.py --device cuda --layers 3 --hidden 512 --chars 2000000 --streams 64
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstmviz.extraction.extract import extract  # noqa: E402
from lstmviz.extraction.options import Options  # noqa: E402
from lstmviz.model.charlstm import CharLSTM  # noqa: E402
from lstmviz.model.config import LSTMConfig  # noqa: E402
from lstmviz.model.loading import LoadedModel, load_model  # noqa: E402
from lstmviz.model.vocab import Vocab  # noqa: E402


def stdlib_text(n_chars: int) -> str:
    """At least the first ``n_chars`` characters of the standard library's source, repeated."""
    parts, total = [], 0
    for path in sorted(Path(inspect.getfile(inspect)).parent.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= n_chars:
            break
    text = "".join(parts)
    return (text * (n_chars // len(text) + 1))[:n_chars]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def plain(model: CharLSTM, ids: torch.Tensor, device: str, block: int = 4096) -> float:
    """Seconds for the forward pass over (B, T) ids, carrying state between blocks, storing nothing."""
    state = None
    sync(device)
    t0 = time.perf_counter()
    for a in range(0, ids.shape[1], block):
        logits, state = model(ids[:, a : a + block].to(device), state)
    sync(device)
    return time.perf_counter() - t0


@torch.no_grad()
def naive(model: CharLSTM, ids: torch.Tensor, device: str) -> float:
    """Seconds for a per-step loop capturing every layer's h and c into host arrays."""
    L, H = model.config.n_layer, model.config.n_hidden
    T = ids.shape[1]
    hs = np.empty((T, L, H), np.float32)
    cs = np.empty((T, L, H), np.float32)
    x = model.inputs(ids.to(device))
    state = None
    sync(device)
    t0 = time.perf_counter()
    for t in range(T):
        _, state = model.lstm(x[:, t : t + 1], state)
        hs[t] = state[0][:, 0].cpu().numpy()
        cs[t] = state[1][:, 0].cpu().numpy()
    model.decoder(torch.from_numpy(hs[:, -1]).to(device))
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embd", type=int, default=64, help="0 for one-hot input")
    p.add_argument("--chars", type=int, default=40_000)
    p.add_argument("--naive-chars", type=int, default=4_000, help="the naive loop is slow: fewer characters")
    p.add_argument("--plain-chars", type=int, default=0,
                   help="characters for the single-stream plain forward (0: all); its rate is what counts")
    p.add_argument("--device", default="cpu")
    p.add_argument("--gates", action="store_true")
    p.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--burn-in", type=int, default=2048)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--repeat", type=int, default=2, help="best of this many runs of each")
    p.add_argument("--checkpoint", help="a real checkpoint instead of random weights")
    p.add_argument("--dir", help="folder for the output file (default: a temporary one)")
    p.add_argument("--profile", action="store_true", help="print where lstmviz's time goes")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    text = stdlib_text(args.chars)
    if args.checkpoint:
        loaded = load_model(args.checkpoint)
        vocab = loaded.vocab
        text = "".join(ch for ch in text if ch in set(vocab.symbols))[: args.chars]
    else:
        vocab = Vocab.from_text(text)
        torch.manual_seed(0)
        cfg = LSTMConfig(vocab_size=len(vocab), n_layer=args.layers, n_hidden=args.hidden,
                         n_embd=args.embd or None)
        loaded = LoadedModel(CharLSTM(cfg).eval(), vocab, "random", Path("random.pt"), "-")
    model = loaded.model.to(args.device)
    cfg = model.config
    tokens = vocab.encode(text)
    ids = torch.as_tensor(tokens)[None]
    print(f"model: {cfg.n_layer} x {cfg.n_hidden}, input {cfg.n_embd or 'one-hot'}, "
          f"vocabulary {cfg.vocab_size}; {len(tokens):,} characters; device {args.device}; "
          f"torch threads {torch.get_num_threads()}")

    plain(model, ids[:, :2048], args.device)  # warm up kernels and allocators
    naive(model, ids[:, :50], args.device)
    options = Options(gates=args.gates, dtype=args.dtype, device=args.device, streams=args.streams,
                      burn_in=args.burn_in)
    best = {"plain": float("inf"), "plain_1": float("inf"), "naive": float("inf"), "lstmviz": float("inf")}
    one_thread_too = args.device == "cpu" and torch.get_num_threads() > 1
    n_naive = min(args.naive_chars, len(tokens))
    n_plain = min(args.plain_chars or len(tokens), len(tokens))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        out = Path(tmp) / "bench.h5"
        extract(loaded, tokens[:8192], out, options)  # warm up
        for _ in range(args.repeat):
            best["plain"] = min(best["plain"], plain(model, ids[:, :n_plain], args.device))
            if one_thread_too:  # a small LSTM at batch 1 runs faster on one thread than on several
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                best["plain_1"] = min(best["plain_1"], plain(model, ids[:, :n_plain], args.device))
                torch.set_num_threads(threads)
            best["naive"] = min(best["naive"], naive(model, ids[:, :n_naive], args.device))
            t0 = time.perf_counter()
            if args.profile:
                prof = cProfile.Profile()
                prof.runcall(extract, loaded, tokens, out, options)
            else:
                extract(loaded, tokens, out, options)
            best["lstmviz"] = min(best["lstmviz"], time.perf_counter() - t0)
        size = out.stat().st_size
    if args.streams > 1:
        B = args.streams
        per = len(tokens) // B
        batched = ids[:, : per * B].reshape(B, per)
        best["plain_streams"] = plain(model, batched, args.device) * len(tokens) / (per * B)
    threads = torch.get_num_threads()
    if best["plain_1"] < best["plain"]:
        best["plain"], threads = best["plain_1"], 1
    rate = {
        "plain": n_plain / best["plain"],
        "naive": n_naive / best["naive"],
        "lstmviz": len(tokens) / best["lstmviz"],
    }
    if "plain_streams" in best:
        rate["plain_streams"] = len(tokens) / best["plain_streams"]
    what = "h, c" + (", gates" if args.gates else "") + f" ({args.dtype}), top-5, summaries"
    print(f"plain nn.LSTM forward, nothing stored      {rate['plain']:>12,.0f} chars/s  "
          f"(best of 1 and {torch.get_num_threads()} torch threads: {threads})")
    if "plain_streams" in rate:
        print(f"plain forward, {args.streams} streams side by side  {rate['plain_streams']:>12,.0f} chars/s")
    print(f"naive per-step loop capturing h and c      {rate['naive']:>12,.0f} chars/s")
    print(f"lstmviz extract, streams={args.streams}: {what:<28}"
          f"{rate['lstmviz']:>10,.0f} chars/s  ({rate['lstmviz'] * 60 / 1e6:.2f} M chars/min, "
          f"file {size / 1e6:,.0f} MB)")
    print(f"ratio lstmviz / plain: {rate['lstmviz'] / rate['plain']:.2f}    "
          f"lstmviz / naive: {rate['lstmviz'] / rate['naive']:.1f}x")
    if args.profile:
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
