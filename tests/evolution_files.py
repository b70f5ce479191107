"""Tiny real files for the dashboard's evolution tests: an evolution of three snapshots, two extractions."""

from pathlib import Path

from extraction_files import TEXT, VOCAB, make_model, write_text

from lstmviz.evolution.timeline import evolve
from lstmviz.extraction.extract import extract_string
from lstmviz.model.checkpoint import save_checkpoint

STEPS = (10, 100, 1000)
CHARS = 2_000


def build_evolution(folder: Path) -> Path:
    """``folder/evolution.h5`` over ``folder/text.txt``, its snapshots in ``folder/run.snapshots/``."""
    run = folder / "run.snapshots"
    run.mkdir(parents=True)
    for k, step in enumerate(STEPS):
        save_checkpoint(run / f"step-{step:06d}.pt", make_model(n_layer=2, n_hidden=16, n_embd=8, seed=k),
                        VOCAB, {"snapshot": {"step": step, "train_bpc": 5.0 - k, "val_bpc": 5.2 - k,
                                             "sample": f"the sample of step {step}"}})
    text = write_text(folder / "text.txt")
    evolve(run, text, folder / "evolution.h5", chars=CHARS, device="cpu")
    return folder / "evolution.h5"


def build_pair(folder: Path) -> tuple[Path, Path]:
    """Two extractions of the same text by two models: ``folder/a.h5`` and ``folder/b.h5``."""
    out = []
    for name, seed in (("a", 1), ("b", 2)):
        model = folder / f"{name}.pt"
        save_checkpoint(model, make_model(n_layer=2, n_hidden=16, n_embd=8, seed=seed), VOCAB,
                        {"note": "test"})
        out.append(extract_string(model, TEXT[:3000], folder / f"{name}.h5"))
    return out[0], out[1]
