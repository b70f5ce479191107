"""Cells over training, from the command line: `train --snapshots`, `evolve`, `compare`, and bad input."""

import csv
import math
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model, write_checkpoint, write_text

from lstmviz.cli import cli
from lstmviz.errors import OptionError
from lstmviz.evolution.file import read_evolution
from lstmviz.evolution.snapshots import (
    SAMPLE_CHARS,
    snapshot_best,
    snapshot_folder,
    snapshot_steps,
    taken_steps,
)
from lstmviz.extraction.extract import extract_string
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.loading import load_model
from lstmviz.model.train import TrainConfig, train
from lstmviz.model.vocab import Vocab

SOURCE = Path(textwrap.__file__)
TINY = ["--layers", "1", "--hidden", "16", "--embed", "8", "--seq-len", "20", "--batch-size", "8",
        "--lr", "0.01", "--quiet"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    text = write_text(folder / "source.txt", SOURCE.read_text(encoding="utf-8"))
    result = run("train", text, "-o", folder / "m.pt", *TINY, "--steps", 24, "--eval-every", 100,
                 "--snapshots", 4)
    assert result.exit_code == 0, result.output
    return folder, text, result


def test_train_keeps_snapshots_spread_over_the_run_with_losses_and_samples(trained):
    folder, _, result = trained
    snaps = folder / "m.snapshots"
    assert snapshot_folder(folder / "m.pt") == snaps
    assert taken_steps(snaps) == snapshot_steps(24, 4) == [1, 3, 8, 24]
    assert f"4 snapshot(s) written to {snaps}" in result.stderr
    history = torch.load(folder / "m.pt", weights_only=True)["training"]["history"]
    assert [h[0] for h in history] == [1, 3, 8, 24]  # each snapshot step is validated
    for step, (_, train_bpc, val_bpc) in zip([1, 3, 8, 24], history, strict=True):
        loaded = load_model(snaps / f"step-{step:06d}.pt")  # an ordinary checkpoint
        entry = loaded.training["snapshot"]
        assert (entry["step"], entry["train_bpc"], entry["val_bpc"]) == (step, train_bpc, val_bpc)
        assert len(entry["sample"]) == SAMPLE_CHARS and loaded.training["steps"] == step
    early, late = (load_model(snaps / f"step-{s:06d}.pt").training["snapshot"]["sample"] for s in (1, 24))
    assert early != late


def test_evolve_over_the_snapshots_of_a_run(trained):
    folder, text, _ = trained
    result = run("evolve", folder / "m.snapshots", text, "-o", folder / "ev.h5", "--chars", 3000, "--quiet",
                 "--device", "cpu")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"wrote {folder / 'ev.h5'}: 4 snapshots (step 1 to step 24), 3,000 characters of "
                        "source.txt, units matched by c")
    ev = read_evolution(folder / "ev.h5")
    assert ev.steps == [1, 3, 8, 24] and len(lines) == 2 + len(ev.hypotheses)
    snaps = [load_model(folder / "m.snapshots" / f"step-{s:06d}.pt").training["snapshot"] for s in ev.steps]
    assert [s.sample for s in ev.snapshots] == [s["sample"] for s in snaps]
    best = torch.load(folder / "m.pt", weights_only=True)["training"]["best_val_bpc"]
    assert ev.snapshots[-1].val_bpc == best
    again = run("evolve", folder / "m.snapshots", text, "-o", folder / "ev.h5", "--chars", 3000, "--quiet")
    assert again.exit_code == 1
    assert again.output == (f"Error: {folder / 'ev.h5'} already exists; pass --force to replace it, or "
                            "choose -o OTHER.h5\n")


def test_a_fresh_run_refuses_a_folder_of_earlier_snapshots(trained):
    folder, text, _ = trained
    result = run("train", text, "-o", folder / "m.pt", *TINY, "--steps", 5, "--snapshots", 2)
    assert result.exit_code == 1
    assert result.output == (f"Error: {folder / 'm.snapshots'} already holds 4 snapshot(s) of an earlier "
                             f"run; remove the folder, continue that run with --resume {folder / 'm.pt'}, or "
                             "choose another -o\n")


def test_the_best_joins_the_snapshots_and_an_early_stop_keeps_its_last_step(tmp_path, caplog):
    text = write_text(tmp_path / "t.txt", SOURCE.read_text(encoding="utf-8")[:3000])
    cfg = TrainConfig(n_layer=1, n_hidden=8, n_embd=4, seq_len=20, batch_size=4, steps=50, snapshots=3,
                      time_limit=0)
    result = train(text, tmp_path / "m.pt", cfg, progress=False)
    assert result.stopped == "time limit" and [p.name for p in result.snapshots] == ["step-000000.pt"]
    assert "before the snapshots planned at step(s) 1, 7, 50" in caplog.text
    folder = tmp_path / "best"
    model = make_model(n_layer=1, n_hidden=8)
    info = {"best_step": 17, "best_val_bpc": 2.5, "train_bpc": 2.7}
    save_checkpoint(tmp_path / "best.pt", model, VOCAB, info)
    added = snapshot_best(folder, tmp_path / "best.pt")
    assert added == folder / "step-000017.pt"
    entry = load_model(added).training["snapshot"]
    assert (entry["step"], entry["val_bpc"], entry["train_bpc"]) == (17, 2.5, 2.7)
    assert snapshot_best(folder, tmp_path / "best.pt") is None  # already there


def test_snapshots_must_not_be_negative(tmp_path):
    with pytest.raises(OptionError, match="--snapshots must be 0"):
        train(write_text(tmp_path / "t.txt"), tmp_path / "m.pt", TrainConfig(snapshots=-1), progress=False)


# --- bad input -------------------------------------------------------------------------------------------


def test_a_folder_with_one_checkpoint_is_one_line(tmp_path):
    one = tmp_path / "one"
    write_checkpoint(one / "step-000005.pt")
    result = run("evolve", one, write_text(tmp_path / "t.txt"), "-o", tmp_path / "ev.h5")
    assert result.exit_code == 1
    assert result.output == (f"Error: {one} holds 1 checkpoint(s) (step-000005.pt); following cells over "
                             "training needs two or more: train with `lstmviz train --snapshots 10`, or name "
                             "several checkpoints\n")


def test_a_text_too_short_is_one_line(tmp_path):
    a, b = write_checkpoint(tmp_path / "a.pt"), write_checkpoint(tmp_path / "b.pt")
    short = write_text(tmp_path / "short.txt", TEXT[:600])
    result = run("evolve", a, b, short, "-o", tmp_path / "ev.h5")
    assert result.exit_code == 1
    assert result.output == (f"Error: {short}: the text has 600 characters; evolve needs at least 1,000 "
                             "(scores and correlations over fewer say little); give a longer text\n")
    assert not (tmp_path / "ev.h5").exists()


BYTES = Vocab(tuple(chr(b) for b in range(256)), byte_level=True)
ACCENTED = TEXT[:2500] + " café, naïve, déjà vu" * 10  # more bytes than characters


def test_snapshots_of_other_sizes_and_vocabularies_compare_what_they_can(tmp_path):
    chars = Vocab.from_text(ACCENTED)
    paths = [write_checkpoint(tmp_path / "a.pt", make_model(1, 16, 8, vocab=chars, seed=1), chars),
             write_checkpoint(tmp_path / "b.pt", make_model(2, 24, 8, vocab=chars, seed=2), chars),
             write_checkpoint(tmp_path / "c.pt", make_model(2, 24, 8, vocab=BYTES, seed=3), BYTES)]
    text = write_text(tmp_path / "t.txt", ACCENTED)
    result = run("evolve", *paths, text, "-o", tmp_path / "ev.h5", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    n_chars, n_bytes = len(ACCENTED), len(ACCENTED.encode())
    assert result.stderr.splitlines() == [
        "Note: a.pt has 1 layer(s) and b.pt 2: units are matched in layer(s) 0-0 only",
        "Note: a.pt has 16 units per layer and b.pt 24: 8 unit(s) of each layer of the larger have no "
        "partner",
        f"Note: b.pt reads the text as {n_chars:,} positions and c.pt as {n_bytes:,} (different "
        "vocabularies): their units are not matched, so no cell is followed across them"]
    ev = read_evolution(tmp_path / "ev.h5")
    assert [s.path for s in ev.snapshots] == ["a.pt", "b.pt", "c.pt"] and ev.steps == [None, None, None]
    assert ev.identity.shape == (3, 2, 24) and (ev.identity[:2] == -1).all()  # nothing crosses b -> c
    assert (ev.partner[0, 0, :16] >= 0).all() and (ev.partner[0, 1] == -1).all()
    assert ev.scores.shape[2:] == (4, 24) and math.isnan(ev.scores[0, 0, 0, 20])


def test_compare_two_files_over_different_texts_is_one_line(tmp_path):
    model = write_checkpoint(tmp_path / "m.pt")
    a = extract_string(model, TEXT[:2000], tmp_path / "a.h5")
    b = extract_string(model, TEXT[2000:4000], tmp_path / "b.h5")
    result = run("compare", a, b)
    assert result.exit_code == 1
    sha_a, sha_b = (load_sha(p) for p in (a, b))
    assert result.output == (f"Error: a.h5 and b.h5 are extractions of different texts (a text, sha256 "
                             f"{sha_a}… and a text, sha256 {sha_b}…); extract both models over the same "
                             "text, e.g. `lstmviz extract MODEL TEXT`\n")


def load_sha(path):
    import h5py

    with h5py.File(path) as f:
        return f.attrs["text_sha256"][:12]


def test_compare_models_of_other_sizes_and_writes_their_units(tmp_path):
    a = extract_string(write_checkpoint(tmp_path / "a.pt", make_model(2, 16, 8, seed=1)), TEXT[:3000],
                       tmp_path / "a.h5")
    b = extract_string(write_checkpoint(tmp_path / "b.pt", make_model(1, 24, 8, seed=2)), TEXT[:3000],
                       tmp_path / "b.h5")
    result = run("compare", a, b, "-o", tmp_path / "units.csv", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Note: a.h5 has 2 layer(s) and b.h5 1: units are matched in layer(s) 0-0 only (CKA covers every pair "
        "of layers)",
        "Note: a.h5 has 16 units per layer and b.h5 24: 8 unit(s) of each layer of the larger have no "
        "partner"]
    out = result.stdout.splitlines()
    assert out[0] == "A = a.h5, B = b.h5: 3,000 positions, units matched by c"
    assert out[1].split() == ["layer", "CKA", "mean", "|r|", "pairs", "|r|", ">=", "0.9"]
    assert out[2].split()[0] == "0" and out[2].split()[-1].endswith("/16") and out[3].startswith("hypothesis")
    assert out[-1].startswith("wrote ") and out[-2].startswith("both clear by 0.05: ")
    with open(tmp_path / "units.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and len({r["partner_b"] for r in rows}) == 16
    assert all(0 <= int(r["partner_b"]) < 24 and abs(float(r["correlation"])) <= 1 for r in rows)


def test_compare_a_byte_and_a_character_model_compares_only_their_cells(tmp_path):
    chars = Vocab.from_text(ACCENTED)
    text = write_text(tmp_path / "t.txt", ACCENTED)
    a = extract_string(write_checkpoint(tmp_path / "a.pt", make_model(1, 16, 8, vocab=chars), chars),
                       ACCENTED, tmp_path / "a.h5")
    b = extract_string(write_checkpoint(tmp_path / "b.pt", make_model(1, 16, 8, vocab=BYTES), BYTES),
                       text.read_text(encoding="utf-8"), tmp_path / "b.h5")
    result = run("compare", a, b, "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"Note: a.h5 reads the text as {len(ACCENTED):,} positions and b.h5 as "
                             f"{len(ACCENTED.encode()):,} (different vocabularies, or bytes against "
                             "characters): units cannot be correlated, so only the hypotheses are compared\n")
    assert "layer " not in result.stdout and "hypothesis" in result.stdout
