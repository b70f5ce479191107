"""Peak memory of `lstmviz extract` as the text grows: it must not grow with the text.

Each size runs in a fresh subprocess (the real command line, `python -m lstmviz extract`); the
peak resident memory comes from the kernel's accounting of that child (``os.wait4``), and the peak
of Python-level allocations (numpy arrays included) from ``tracemalloc`` inside a second child.

    python benchmarks/memory.py                    # 1 MB and 4 MB of text, ~1-2 minutes on 2 cores
    python benchmarks/memory.py --sizes 1 4 16
    python benchmarks/memory.py --threads 2       # the two-stage extraction
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from extract import stdlib_text  # noqa: E402  (benchmarks/extract.py)

from lstmviz.model.charlstm import CharLSTM  # noqa: E402
from lstmviz.model.checkpoint import save_checkpoint  # noqa: E402
from lstmviz.model.config import LSTMConfig  # noqa: E402
from lstmviz.model.vocab import Vocab  # noqa: E402

TRACED = """
import sys, tracemalloc
tracemalloc.start()
from lstmviz.extraction.extract import extract_file
from lstmviz.extraction.options import Options
extract_file(sys.argv[1], sys.argv[2], sys.argv[3], Options(), force=True)
print(tracemalloc.get_traced_memory()[1])
"""


def peak_rss(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """(peak resident bytes, stdout) of a child process."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command)} failed")
        return usage.ru_maxrss * 1024, out.read().decode()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1, 4], help="text sizes in MB")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; 2 or more runs the two-stage extraction "
                   "(lstmviz.extraction.two_stage)")
    args = p.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        biggest = stdlib_text(int(max(args.sizes) * 1e6))
        vocab = Vocab.from_text(biggest)
        model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=args.layers, n_hidden=args.hidden))
        save_checkpoint(tmp / "model.pt", model, vocab)
        print(f"model {args.layers} x {args.hidden}, {args.threads} torch thread(s); "
              "peak memory of `lstmviz extract` by text size")
        print(f"{'text':>8} {'output':>9} {'peak RSS':>10} {'peak traced (Python + numpy)':>30}")
        for mb in args.sizes:
            text = tmp / f"text{mb:g}.txt"
            text.write_text(biggest[: int(mb * 1e6)], encoding="utf-8")
            out = tmp / "out.h5"
            rss, _ = peak_rss([sys.executable, "-m", "lstmviz", "extract", str(tmp / "model.pt"), str(text),
                               "-o", str(out), "--force", "-q"], env)
            size = out.stat().st_size
            traced_run = [sys.executable, "-c", TRACED, str(tmp / "model.pt"), str(text), str(out)]
            _, traced = peak_rss(traced_run, env)
            print(f"{mb:>6g}MB {size / 1e6:>7.0f}MB {rss / 1e6:>8.0f}MB {int(traced) / 1e6:>28.1f}MB",
                  flush=True)


if __name__ == "__main__":
    main()
