"""What ``lstmviz evolve`` costs: 10 snapshots of a 2 x 256 model over 20,000 characters.

Makes the snapshots by a short real run (``train --snapshots 10``, 2 x 256, on the bundled Wikipedia
text, unless ``--run`` names a folder of snapshots), then times ``evolve`` end to end and, on two
of the snapshots, each of its parts: one extraction, one scoring of every hypothesis, one
streamed correlation of two snapshots, and one optimal matching of a layer.

    python benchmarks/evolve.py                          # ~2 minutes on 2 cores
    python benchmarks/evolve.py --run austen.snapshots --text austen.val.txt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lstmviz.demo import TEXT  # noqa: E402
from lstmviz.evolution import cells  # noqa: E402
from lstmviz.evolution.matching import match_units  # noqa: E402
from lstmviz.evolution.moments import cross_moments  # noqa: E402
from lstmviz.evolution.snapshots import find_snapshots  # noqa: E402
from lstmviz.evolution.timeline import evolve  # noqa: E402
from lstmviz.extraction.extract import extract_string  # noqa: E402
from lstmviz.model.train import TrainConfig, train  # noqa: E402
from lstmviz.store.reader import open_states  # noqa: E402


def timed(what: str, work, rows: list) -> object:
    start = time.perf_counter()
    result = work()
    rows.append((what, time.perf_counter() - start))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path,
                        help="a folder of snapshots (default: train 10 of a 2 x 256 model)")
    parser.add_argument("--text", type=Path, default=TEXT, help="the text evolve reads")
    parser.add_argument("--chars", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=60, help="steps of the run that makes the snapshots")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        rows: list = []
        run = args.run
        if run is None:
            cfg = TrainConfig(n_layer=2, n_hidden=256, steps=args.steps, snapshots=10, eval_every=10**6,
                              val_chars=20_000, device="cpu")
            made = timed(f"train 2 x 256, {args.steps} steps, 10 snapshots", lambda: train(
                args.text, work / "m.pt", cfg, progress=False), rows)
            run = made.snapshots[0].parent
        paths = find_snapshots(run)
        text = args.text.read_text(encoding="utf-8")[: args.chars]
        ev = timed(f"evolve: {len(paths)} snapshots x {len(text):,} characters", lambda: evolve(
            run, args.text, work / "ev.h5", chars=args.chars, device="cpu"), rows)
        a, b = (timed(f"  extract {p.name}", lambda p=p: extract_string(p, text, work / f"{p.stem}.h5"), rows)
                for p in paths[-2:])
        with open_states(a) as sa, open_states(b) as sb:
            timed("  score every hypothesis, one snapshot",
                  lambda: cells.score_tables(sa, device="cpu"), rows)
            moments = timed("  correlate two snapshots (c, all layers)", lambda: cross_moments(sa, sb), rows)
            r = moments.correlation(sa.n_layer - 1, sb.n_layer - 1)
            timed(f"  match one layer ({r.shape[0]} x {r.shape[1]})", lambda: match_units(r), rows)
        for what, seconds in rows:
            print(f"{what:<58} {seconds:8.2f} s")
        print(f"evolution file: {(work / 'ev.h5').stat().st_size / 1e6:.2f} MB, steps {ev.steps}")


if __name__ == "__main__":
    main()
