"""Provenance and memory horizons on the bundled model: how exact, and what they cost.

Extracts the bundled 3 x 256 Wikipedia model over its validation text (plain, and with float16
gates), then measures, printing one table each:

* exactness: contributions + remainder against the stored c, at sampled positions of every unit,
  next to the absolute contribution and next to |c|;
* why the gates are recomputed from the text's start: float16 gates, and a replay started from the
  stored (float16) h a little before the window, both miss the stored c;
* cost: one ``provenance`` call at several positions, and the horizon pass (replay alone, then with
  the horizons of every layer) for several windows; with ``--extraction``, what the horizons add
  to ``extract --gates``.

    python benchmarks/provenance.py                 # the whole text, ~5 minutes on 2 cores
    python benchmarks/provenance.py --chars 30000   # a quicker look
    python benchmarks/provenance.py --extraction    # extract --gates with and without its horizons
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lstmviz.demo import MODEL, TEXT  # noqa: E402
from lstmviz.extraction.extract import extract_file  # noqa: E402
from lstmviz.extraction.options import Options  # noqa: E402
from lstmviz.intervene.horizon import Horizons  # noqa: E402
from lstmviz.intervene.model_source import model_for  # noqa: E402
from lstmviz.intervene.provenance import block_carries, cell_gates, decompose, provenance  # noqa: E402
from lstmviz.intervene.replay import replay  # noqa: E402
from lstmviz.model.runner import UnrolledLSTM  # noqa: E402
from lstmviz.store.reader import States, open_states  # noqa: E402


def errors(c: np.ndarray, contributions: np.ndarray, remainder: np.ndarray, t: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """|contributions + remainder - c_t| next to the absolute contribution, and next to |c_t|, per unit."""
    error = np.abs(contributions.sum(0) + remainder - c[t])
    return error / (np.abs(contributions).sum(0) + np.abs(remainder)), error / np.abs(c[t])


def exactness(states: States, samples: int, backs: list[int]) -> None:
    rng = np.random.default_rng(0)
    positions = np.sort(rng.choice(np.arange(1, states.n_tokens), size=samples, replace=False))
    print(f"\nexactness over {samples} positions x {states.n_hidden} units per layer (gates replayed)")
    print("layer   back  worst/absolute  (without block carries)  median/|c|  share/|c| > 1e-5")
    for layer in range(states.n_layer):
        (i, f, g), _ = cell_gates(states, layer, 0, states.n_tokens)
        i, f, g = (x.astype(np.float64) for x in (i, f, g))
        c = states.window(f"layer{layer}.c", 0, states.n_tokens).astype(np.float64)
        before = np.concatenate([np.zeros((1, states.n_hidden)), c])  # c = 0 before the text
        for back in backs:
            to_mass, bare, to_c = [], [], []
            for t in positions:
                a = max(0, t - back + 1)
                w = slice(a, t + 1)
                carried = block_carries(states, before[a : t + 2], i[w], f[w], g[w], a)
                contributions, remainder = decompose(i[w], f[w], g[w], before[a], carried)
                m, v = errors(c, contributions, remainder, t)
                to_mass.append(m)
                to_c.append(v)
                bare.append(errors(c, *decompose(i[w], f[w], g[w], before[a]), t)[0])
            to_mass, bare, to_c = (np.concatenate(x) for x in (to_mass, bare, to_c))
            print(f"{layer:>5} {back:>6}  {to_mass.max():>14.1e}  {bare.max():>23.1e}  "
                  f"{np.median(to_c):>10.1e}  {np.mean(to_c > 1e-5):>17.3%}")


def shortcuts(states: States, gated: States, run: UnrolledLSTM, samples: int, back: int) -> None:
    """What recomputing from the text's start avoids: float16 gates, and a burn-in from stored h."""
    print(f"\nshortcuts that miss the stored c (worst error next to the absolute contribution, "
          f"{back}-character windows)")
    rng = np.random.default_rng(1)
    ends = rng.integers(back + 1100, states.n_tokens, size=samples)
    for layer in range(states.n_layer):
        i, f, g = (gated.window(f"layer{layer}.gates.{k}", 1, gated.n_tokens) for k in "ifg")
        c = gated.window(f"layer{layer}.c", 0, gated.n_tokens).astype(np.float64)
        scale = np.maximum(np.abs(f * c[:-1]) + np.abs(i * g), np.abs(c[1:]))  # float16 may round both to 0
        one_step = np.abs(f * c[:-1] + i * g - c[1:]) / scale
        print(f"  layer {layer}: float16 gates, one step from the stored c: worst {one_step.max():.1e}, "
              f"{np.mean(one_step > 1e-5):.0%} of values off by more than 1e-5")
    for burn in (0, 100, 300, 1000):
        worst = 0.0
        for t in ends:
            a = t - back + 1
            b = a - burn
            state = [tuple(torch.from_numpy(states.window(f"layer{k}.{kind}", b - 1, b)) for kind in "hc")
                     for k in range(states.n_layer)]
            ids = torch.from_numpy(states.tokens(b, t + 1).astype(np.int64))[None]
            out, _ = run(ids, state, gates=True)
            for layer in range(states.n_layer):
                i, f, g = (out.acts[f"layer{layer}.gates.{k}"][0, burn:].double().numpy() for k in "ifg")
                c = states.window(f"layer{layer}.c", 0, t + 1).astype(np.float64)
                contributions, remainder = decompose(i, f, g, c[a - 1])
                worst = max(worst, float(errors(c, contributions, remainder, t)[0].max()))
        print(f"  replay from the stored state {burn:>4} characters before the window: worst {worst:.1e}")


def cost(states: States, run: UnrolledLSTM, windows: list[int]) -> None:
    print("\ncost (this machine, torch threads as set)")
    for t in (1000, states.n_tokens // 2, states.n_tokens - 1):
        started = time.perf_counter()
        provenance(states, "layer2.c.0", t, 2000, loaded=model_for(states))
        print(f"  provenance at position {t:>7,}: {time.perf_counter() - started:6.1f} s")
    started = time.perf_counter()
    for _ in replay(states, run):
        pass
    alone = time.perf_counter() - started
    print(f"  replay of {states.n_tokens:,} characters, every block completed: {alone:.1f} s")
    for window in windows:
        layers = [Horizons(states.n_hidden, window) for _ in range(states.n_layer)]
        spent = 0.0
        for block in replay(states, run):
            started = time.perf_counter()
            for horizons, gates in zip(layers, block.gates, strict=True):
                horizons.update(*gates)
            spent += time.perf_counter() - started
        memory = 2 * (window + 4096) * states.n_hidden * 8 + (window + 2) * states.n_hidden * 8
        print(f"  horizons, window {window:>6,}: {spent:6.1f} s on top of the replay "
              f"({spent / alone:.0%}); about {memory * states.n_layer / 1e6:,.0f} MB for "
              f"{states.n_layer} layers")


class _NoHorizons:
    """Stands in for :class:`Horizons` in an extraction timed without them."""

    def __init__(self, *args, **kwargs):
        pass

    def update(self, *gates) -> None:
        pass

    def result(self) -> dict:
        return {}


def extraction_cost(text: Path, folder: Path) -> None:
    """``extract --gates`` with its horizons, and with them left out, best of two runs each."""
    import lstmviz.extraction.extract as extraction

    print("\nextract --gates (best of 2; CPU time of all threads, which another job's load moves less)")
    for label, horizons in (("with horizons", Horizons), ("without", _NoHorizons)):
        extraction.Horizons = horizons
        wall, cpu = min(_timed(lambda: extract_file(MODEL, text, folder / "timed.h5", Options(gates=True),
                                                    unknown="replace:\ufffd", force=True)) for _ in range(2))
        print(f"  {label}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    extraction.Horizons = Horizons


def _timed(work) -> tuple[float, float]:
    """(wall-clock, process CPU) seconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=None, help="use only the text's first CHARS characters")
    p.add_argument("--samples", type=int, default=300, help="positions sampled for exactness")
    p.add_argument("--windows", type=int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--extraction", action="store_true",
                   help="only time extract --gates with and without its horizons")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "wiki_val.txt"
        text.write_text(TEXT.read_text(encoding="utf-8")[: args.chars], encoding="utf-8")
        if args.extraction:
            extraction_cost(text, Path(folder))
            return
        plain, gated = (extract_file(MODEL, text, Path(folder) / f"{name}.h5", Options(gates=gates),
                                     unknown="replace:\ufffd")
                        for name, gates in (("plain", False), ("gates", True)))
        with open_states(plain) as states, open_states(gated) as with_gates:
            print(f"bundled model over {states.n_tokens:,} characters; "
                  f"torch threads {torch.get_num_threads()}")
            exactness(states, args.samples, [1, 300, 4096])
            run = UnrolledLSTM(model_for(states).model)
            shortcuts(states, with_gates, run, 10, 300)
            cost(states, run, args.windows)


if __name__ == "__main__":
    main()
