"""Cost of causal scores (``lstmviz search --causal``) against baselines measured in the same run.

On the bundled model and text (or --model/--text), it times:

1. plain: one ``CharLSTM`` forward pass (nn.LSTM + decoder) over the stretch, storing nothing;
2. loop: the edited recurrence (:class:`~lstmviz.intervene.edited_run.EditedRunner`) with one
   unedited stream, which is what a per-step loop costs before any unit is silenced;
3. causal: ``causal_scores`` for the top --top units of --hypothesis and --random random units per
   layer and kind, in one batched run (streams = units + 1).

Wall-clock and CPU seconds are both printed: on a machine others share, CPU seconds say more. The
extraction is built once under --cache (``lstmviz demo`` builds the same one).

    python benchmarks/causal.py                               # quote, top 10, 30 random, 1 thread
    python benchmarks/causal.py --hypothesis url --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstmviz.demo import MODEL, TEXT  # noqa: E402
from lstmviz.extraction.extract import extract_file  # noqa: E402
from lstmviz.extraction.options import Options  # noqa: E402
from lstmviz.intervene.causal import causal_scores  # noqa: E402
from lstmviz.intervene.edited_run import EditedRunner  # noqa: E402
from lstmviz.intervene.model_source import model_for  # noqa: E402
from lstmviz.search.rank import rank_units  # noqa: E402
from lstmviz.store.reader import open_states  # noqa: E402


class Timer:
    """Wall-clock and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--text", type=Path, default=TEXT)
    parser.add_argument("--cache", type=Path, default=Path("cache"))
    parser.add_argument("--hypothesis", default="quote")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--random", type=int, default=30)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.cache / f"{args.model.stem}__{args.text.stem}.h5"
    if not out.exists():
        print(f"extracting {out} ...", file=sys.stderr)
        extract_file(args.model, args.text, out, Options(progress=True), unknown="replace:\ufffd")
    with open_states(out) as states:
        model = model_for(states).model.eval()
        n = min(states.n_tokens, args.chars)
        tokens = torch.from_numpy(states.tokens(0, n).astype(np.int64))
        units = list(rank_units(states, args.hypothesis, top=args.top).neuron)
        print(f"{args.model.name} ({model.config.n_layer} x {model.config.n_hidden}) over {n:,} characters "
              f"of {args.text.name}, {args.threads} torch thread(s)")

        with Timer() as plain, torch.no_grad():
            state = None
            for a in range(0, n, 4096):
                _, state = model(tokens[None, a : a + 4096], state)
        with Timer() as loop:
            runner = EditedRunner(model)
            for a in range(0, n, 4096):
                runner.run(tokens[a : a + 4096], record=False)
        with Timer() as causal:
            df = causal_scores(states, model, [(args.hypothesis, u) for u in units], n_random=args.random,
                               chars=n)
    streams = 1 + len(units) + sum(len(r["units"]) for r in df.attrs["random"].values())
    groups = ", ".join(df.attrs["random"])
    print(f"causal: top {len(units)} units of {args.hypothesis} + {args.random} random per layer and kind "
          f"({groups}): {streams} streams")
    for name, t in (("plain forward", plain), ("loop, 1 stream", loop), ("causal", causal)):
        print(f"  {name:15s} wall {t.wall:8.1f} s  cpu {t.cpu:8.1f} s  "
              f"({t.cpu / plain.cpu:6.1f} x plain, {t.cpu / loop.cpu:5.1f} x loop, cpu)")
    print(df[["neuron", "causal_delta_bits", "causal_percentile", "causal_inside_bits",
              "causal_inside_percentile"]].to_string(index=False))


if __name__ == "__main__":
    main()
