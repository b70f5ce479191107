import errno
import fcntl
import math
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import lstmviz.model.train as train_module
from lstmviz.cli import cli
from lstmviz.errors import OptionError, TextError
from lstmviz.model.batches import StreamBatches, split_validation, validation_windows
from lstmviz.model.loading import load_model
from lstmviz.model.train import TrainConfig, state_path, train

REPO = Path(__file__).resolve().parents[1]
# Real text that is always present: a stdlib module, about 20 KB of Python and English prose.
SOURCE = Path(textwrap.__file__)
TINY = dict(n_layer=1, n_hidden=48, n_embd=16, seq_len=40, batch_size=16, lr=1e-2)
TINY_CLI = ["--layers", "1", "--hidden", "48", "--embed", "16", "--seq-len", "40",
            "--batch-size", "16", "--lr", "0.01", "--quiet"]


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "source.txt"
    path.write_text(SOURCE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(text, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "model.pt"
    result = train(text, out, TrainConfig(**TINY, steps=200, eval_every=50), progress=False)
    return result, out


def unigram_entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def test_short_run_beats_unigram_entropy(trained, text):
    result, out = trained
    _, val_text = split_validation(text.read_text(encoding="utf-8"), 0.1)
    assert result.steps == 200 and result.stopped == "steps"
    assert result.best_val_bpc < unigram_entropy(val_text) - 0.5
    assert [h[0] for h in result.history] == [50, 100, 150, 200]


def test_checkpoint_loads_safely_with_metadata(trained, text):
    _, out = trained
    raw = torch.load(out, map_location="cpu", weights_only=True)
    meta = raw["training"]
    assert meta["corpus"] == "source.txt"
    assert meta["corpus_sha256"] == meta["val_corpus_sha256"] and len(meta["corpus_sha256"]) == 64
    assert meta["val_split"]["fraction"] == 0.1
    assert meta["steps"] == meta["best_step"] == 200
    assert meta["device"] == "cpu" and meta["torch_version"] == str(torch.__version__)
    assert meta["hyperparameters"]["n_hidden"] == 48 and meta["seconds"] > 0
    train_chars = len(split_validation(text.read_text(encoding="utf-8"), 0.1)[0])
    epoch = StreamBatches(torch.zeros(train_chars), 16, 40, 0).steps_per_epoch
    assert meta["corpus_chars"] == train_chars and meta["epochs"] == pytest.approx(200 / epoch, abs=1e-3)
    loaded = load_model(out)
    assert loaded.model.config.n_hidden == 48 and loaded.training == meta


def test_recorded_val_bpc_matches_a_plain_forward_pass(trained, text):
    # The validation text is under 5,000 characters: one stream over all of it, state carried.
    _, out = trained
    loaded = load_model(out)
    _, val_text = split_validation(text.read_text(encoding="utf-8"), 0.1)
    ids = torch.from_numpy(loaded.vocab.encode(val_text))
    with torch.no_grad():
        logits, _ = loaded.model(ids[:-1][None])
        nats = torch.nn.functional.cross_entropy(logits[0], ids[1:])
    assert nats.item() / math.log(2) == pytest.approx(loaded.training["best_val_bpc"], abs=1e-3)


def test_best_checkpoint_is_kept_not_the_last(text, tmp_path, monkeypatch):
    scripted = iter([3.0, 2.0, 2.5, 2.7])
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: next(scripted))
    out = tmp_path / "best.pt"
    result = train(text, out, TrainConfig(**TINY, steps=20, eval_every=5), progress=False)
    assert result.best_step == 10 and result.best_val_bpc == 2.0 and result.steps == 20
    saved = load_model(out)
    assert saved.training["steps"] == 10 and saved.training["best_val_bpc"] == 2.0
    monkeypatch.undo()
    # The kept weights are the weights after step 10: a plain 10-step run gives the same ones.
    train(text, tmp_path / "ten.pt", TrainConfig(**TINY, steps=10, eval_every=10), progress=False)
    ten = load_model(tmp_path / "ten.pt").model.state_dict()
    for name, value in saved.model.state_dict().items():
        torch.testing.assert_close(value, ten[name], rtol=0, atol=1e-6)
    latest = torch.load(state_path(out), weights_only=True)
    assert latest["steps"] == 20
    assert not torch.equal(latest["model"]["decoder.weight"], ten["decoder.weight"])


def test_resume_continues_exactly(text, tmp_path):
    batches = StreamBatches(torch.zeros(len(split_validation(text.read_text(encoding="utf-8"), 0.1)[0])),
                            TINY["batch_size"], TINY["seq_len"], 0)
    epoch = batches.steps_per_epoch  # resuming at an epoch boundary loses no carried state
    straight = tmp_path / "straight.pt"
    train(text, straight, TrainConfig(**TINY, steps=2 * epoch, eval_every=epoch), progress=False)
    out = tmp_path / "resumed.pt"
    train(text, out, TrainConfig(**TINY, steps=epoch, eval_every=epoch), progress=False)
    result = train(text, out, TrainConfig(**TINY, steps=2 * epoch, eval_every=epoch),
                   resume=out, progress=False)
    assert result.steps == 2 * epoch
    assert [h[0] for h in result.history] == [epoch, 2 * epoch]
    state = torch.load(state_path(out), weights_only=True)
    assert state["steps"] == 2 * epoch
    assert all(int(s["step"]) == 2 * epoch for s in state["optimizer"]["state"].values())
    expected = torch.load(state_path(straight), weights_only=True)["model"]
    for name, value in state["model"].items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6)


def test_resume_to_another_file_keeps_the_best(trained, text, tmp_path):
    _, out = trained
    copy = tmp_path / "more.pt"
    result = train(text, copy, TrainConfig(**TINY, steps=210, eval_every=100),
                   resume=out, progress=False)
    assert result.steps == 210
    assert load_model(copy).training["best_val_bpc"] == pytest.approx(result.best_val_bpc, abs=1e-4)


def test_resume_with_another_shape_is_refused(trained, text, tmp_path):
    _, out = trained
    config = TrainConfig(**{**TINY, "n_hidden": 64}, steps=300)
    with pytest.raises(OptionError, match=r"1 layer\(s\) of 48 units.*--hidden 48"):
        train(text, tmp_path / "x.pt", config, resume=out, progress=False)


def test_resume_when_already_done_says_so(trained, text, tmp_path):
    _, out = trained
    with pytest.raises(OptionError, match="already trained 200 steps; ask for more with --steps"):
        train(text, tmp_path / "x.pt", TrainConfig(**TINY, steps=100), resume=out, progress=False)


def test_cli_resume_takes_shape_from_checkpoint(trained, text, tmp_path):
    _, out = trained
    copy = tmp_path / "cli.pt"
    result = CliRunner().invoke(cli, ["train", str(text), "-o", str(copy), "--resume", str(out),
                                      "--steps", "205", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "stopped (steps) at step 205" in result.output
    assert load_model(copy).model.config.n_hidden == 48


@pytest.mark.slow  # a real training process, interrupted
def test_ctrl_c_saves_a_loadable_checkpoint(text, tmp_path):
    # No validation is due before the interrupt: the one after Ctrl-C must write the checkpoint.
    # stderr is a terminal, where the bar is redrawn ten times a second (in a pipe, every 30 s).
    out = tmp_path / "interrupted.pt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a width to draw in
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmviz", "train", str(text), "-o", str(out),
         *TINY_CLI[:-1], "--steps", "10000000", "--eval-every", "10000000"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    os.close(stderr)
    err = bytearray()

    def read_stderr():
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the process has exited and closed the terminal
                break
            if not chunk:
                break
            err.extend(chunk)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not re.search(rb"\| *[1-9]\d*/10000000", err):  # the bar shows steps done
            assert proc.poll() is None and time.monotonic() < deadline, err.decode()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        proc.kill()
        reader.join()
        os.close(terminal)
    log = err.decode()
    assert proc.returncode == 130, log
    assert "stopped (interrupted)" in log and f"saved to {out}" in log
    raw = torch.load(out, map_location="cpu", weights_only=True)
    assert raw["training"]["best_step"] == raw["training"]["steps"] > 0
    assert load_model(out).model.config.n_hidden == 48


def test_time_limit_stops_and_keeps_a_checkpoint(text, tmp_path):
    out = tmp_path / "t.pt"
    result = train(text, out, TrainConfig(**TINY, time_limit=0.0), progress=False)
    assert result.stopped == "time limit" and result.steps == 0
    assert load_model(out).training["steps"] == 0


def test_separate_validation_file(text, tmp_path):
    val = tmp_path / "val.txt"
    val.write_text(Path(os.__file__).read_text(encoding="utf-8")[:3000], encoding="utf-8")
    out = tmp_path / "v.pt"
    train(text, out, TrainConfig(**TINY, steps=5, eval_every=5), val=val, progress=False)
    meta = load_model(out).training
    assert meta["val_corpus"] == "val.txt" and meta["val_split"] is None
    assert meta["val_chars"] == 3000
    # the vocabulary covers the validation text too
    assert set(val.read_text()) <= set(load_model(out).vocab.symbols)


def test_byte_level_and_min_count_vocabularies(tmp_path):
    path = tmp_path / "accents.txt"
    path.write_text(("café au lait, naïve señor\n" * 40) + "Ωmega\n", encoding="utf-8")
    small = dict(n_layer=1, n_hidden=16, n_embd=8, seq_len=20, batch_size=4, steps=3,
                 eval_every=3)
    result = train(path, tmp_path / "b.pt", TrainConfig(**small, byte_level=True), progress=False)
    assert result.symbol == "byte"
    vocab = load_model(tmp_path / "b.pt").vocab
    assert vocab.byte_level and len(vocab) == 256
    said = run_cli(path, "-o", tmp_path / "b2.pt", "--byte-level", "--layers", 1, "--hidden", 16,
                   "--embed", 8, "--seq-len", 20, "--batch-size", 4, "--steps", 3, "--eval-every", 3).output
    assert " byte/s\n" in said and " bits/byte at step 3" in said and "char" not in said
    train(path, tmp_path / "m.pt", TrainConfig(**small, min_count=5), progress=False)
    vocab = load_model(tmp_path / "m.pt").vocab
    assert vocab.unknown == "\ufffd" and "Ω" not in vocab.symbols and "é" in vocab.symbols


def test_split_validation_cuts_at_a_line_start():
    text = "".join(f"line {i:03d}\n" for i in range(100))
    train_part, val_part = split_validation(text, 0.1)
    assert train_part + val_part == text
    assert train_part.endswith("\n") and val_part.startswith("line ")
    assert abs(len(val_part) - 0.1 * len(text)) <= 9
    assert split_validation("no newline at all" * 10, 0.1)[1] == ("no newline at all" * 10)[153:]


def test_stream_batches_are_contiguous_and_carry_over():
    tokens = torch.arange(2_000)
    batches = StreamBatches(tokens, batch_size=5, seq_len=10, seed=3)
    x0, y0, fresh0 = batches.batch(0)
    x1, y1, fresh1 = batches.batch(1)
    assert fresh0 and not fresh1
    assert torch.equal(y0, x0 + 1)
    assert torch.equal(x1[:, 0], y0[:, -1])  # each stream continues where it left off
    assert batches.batch(batches.steps_per_epoch)[2]  # a new epoch starts fresh


def test_short_text_reduces_streams_and_then_refuses(tmp_path):
    assert StreamBatches(torch.arange(300), batch_size=50, seq_len=100, seed=0).batch_size == 2
    assert StreamBatches(torch.arange(150), batch_size=50, seq_len=100, seed=0).batch_size == 1
    with pytest.raises(TextError, match="has 50 characters, too few for --seq-len 100"):
        StreamBatches(torch.arange(50), batch_size=50, seq_len=100, seed=0)


def test_validation_windows_cover_small_and_spread_large():
    starts, length = validation_windows(3_000, 100_000)
    assert starts.tolist() == [0] and length == 3_000
    starts, length = validation_windows(1_000_000, 100_000)
    assert len(starts) == 20 and length == 5_000
    assert starts[0] == 0 and starts[-1] == 1_000_000 - 5_000
    assert np.all(np.diff(starts) >= length)


def run_cli(*args):
    return CliRunner().invoke(cli, ["train", *map(str, args)])


def test_error_missing_text(tmp_path):
    result = run_cli(tmp_path / "nope.txt", "-o", tmp_path / "m.pt")
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nope.txt'}: no such file; check the path\n"


def test_error_empty_and_not_utf8(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "the file is empty" in run_cli(empty, "-o", tmp_path / "m.pt").output
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 au lait".encode("latin-1"))
    result = run_cli(latin, "-o", tmp_path / "m.pt")
    assert result.exit_code == 1
    assert "not UTF-8 text (byte 3 is 0xe9)" in result.output


def test_error_output_not_writable(text, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(text, "-o", blocker / "m.pt")
    assert result.exit_code == 1
    assert result.output == (f"Error: {blocker / 'm.pt'}: {blocker} is a file, not a folder; "
                             "choose another -o path\n")
    result = run_cli(text, "-o", tmp_path)
    assert result.output == (f"Error: {tmp_path}: is a folder; give a file name for -o, "
                             f"e.g. {tmp_path / 'model.pt'}\n")
    assert "-o names an input of this run" in run_cli(text, "-o", text).output


def test_error_text_shorter_than_seq_len(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("hello world\n" * 10)
    result = run_cli(short, "-o", tmp_path / "m.pt", "--val-fraction", "0.5")
    assert result.exit_code == 1
    assert result.output == ("Error: the training text has 60 characters, too few for --seq-len "
                             "100 (needs at least 101); use a smaller --seq-len, e.g. 30\n")


def test_error_bad_options(text, tmp_path):
    out = tmp_path / "m.pt"
    assert "--val-fraction must be between 0 and 1" in run_cli(text, "-o", out,
                                                                "--val-fraction", "1").output
    assert "--device 'gpu' is not a torch device" in run_cli(text, "-o", out, "--device", "gpu").output
    if torch.accelerator.current_accelerator(check_available=True) is None:
        assert run_cli(text, "-o", out, "--device", "mps").output == (
            "Error: --device mps: torch sees no mps device here; use --device cpu\n")
    assert "drop it with --byte-level" in run_cli(text, "-o", out, "--byte-level",
                                                  "--min-count", "3").output
    assert run_cli(text, "-o", out, "--eval-every", "0").output == (
        "Error: --eval-every must be at least 1\n")
    assert run_cli(text, "-o", out, "--dropout", "1").output == (
        "Error: --dropout must be at least 0 and below 1\n")
    assert not out.exists()


def test_help_has_example_and_defaults():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    assert "lstmviz train austen.train.txt --val austen.val.txt -o austen.pt" in result.output
    assert "[default: 256]" in result.output and "status 130" in result.output


def test_a_refused_resume_touches_no_file(text, trained, tmp_path):
    _, done = trained  # 200 steps already
    keep = tmp_path / "keep.pt"
    keep.write_bytes(b"someone else's model")
    for target in (keep, tmp_path / "fresh.pt"):
        result = run_cli(text, "-o", target, *TINY_CLI, "--steps", "100", "--resume", done)
        assert result.exit_code == 1 and "already trained 200 steps" in result.output
    assert keep.read_bytes() == b"someone else's model" and not (tmp_path / "fresh.pt").exists()


def test_a_run_that_diverges_says_nothing_was_saved(text, tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: math.nan)
    out = tmp_path / "nan.pt"
    with pytest.raises(OptionError, match=f"training diverged: the validation loss is nan at step 5, so no "
                                          f"checkpoint was written to {out}; lower --lr or --clip"):
        train(text, out, TrainConfig(**TINY, steps=5), progress=False)
    assert not out.exists()


def test_an_interrupt_while_saving_still_leaves_what_is_reported(text, tmp_path, monkeypatch):
    # Ctrl-C inside the periodic save: the run validates and saves again, so file and result agree.
    real = train_module.save_checkpoint
    calls = []

    def interrupted_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the save at step 10
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", interrupted_once)
    out = tmp_path / "race.pt"
    result = train(text, out, TrainConfig(**TINY, steps=40, eval_every=5), progress=False)
    assert result.stopped == "interrupted" and result.steps == 10
    saved = load_model(out).training
    assert (saved["best_step"], saved["steps"]) == (result.best_step, result.steps) == (10, 10)
    assert torch.load(state_path(out), weights_only=True)["steps"] == 10
    assert [h[0] for h in saved["history"]] == [5, 10]  # each validation once
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_resume_state_from_another_model_is_a_clear_error(text, trained, tmp_path):
    _, done = trained
    other = tmp_path / "other.pt"
    train(text, other, TrainConfig(**{**TINY, "n_hidden": 24}, steps=5), progress=False)
    copy = tmp_path / "copy.pt"
    copy.write_bytes(done.read_bytes())
    state_path(copy).write_bytes(state_path(other).read_bytes())
    result = run_cli(text, "-o", copy, *TINY_CLI, "--steps", "300", "--resume", copy)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {state_path(copy)} does not match {copy} (")
    assert result.output.endswith("delete it to resume from the best weights with a fresh optimizer\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--lr", "inf"], "--lr must be above 0 and finite"),
    (["--epochs", "inf"], "--epochs must be above 0 and finite"),
    (["--time-limit", "-1"], "--time-limit must be a number of minutes, 0 or more"),
    (["--clip", "nan"], "--clip must be 0 (off) or more"),
    (["--seed", "-1"], "Invalid value for '--seed'"),
])
def test_numbers_that_cannot_train_are_refused(text, tmp_path, args, message):
    result = run_cli(text, "-o", tmp_path / "m.pt", *TINY_CLI, "--steps", "2", *args)
    assert result.exit_code in (1, 2) and message in result.output
    assert not (tmp_path / "m.pt").exists()


def test_outputs_named_like_folders_are_refused(text, tmp_path):
    assert "nodir/: is a folder; give a file name" in run_cli(text, "-o", "nodir/", *TINY_CLI).output
    assert run_cli(text, "-o", "", *TINY_CLI).output == (
        "Error: -o is empty; give a file name such as model.pt\n")


def test_a_min_count_that_folds_everything_is_refused(text, tmp_path):
    result = run_cli(text, "-o", tmp_path / "m.pt", *TINY_CLI, "--min-count", "100000000")
    assert result.exit_code == 1 and "folds every character of the text into one symbol" in result.output


def test_vocabulary_flags_on_a_resume_are_ignored_and_not_recorded(text, trained, tmp_path, caplog):
    _, done = trained
    out = tmp_path / "more.pt"
    val = tmp_path / "val.txt"  # another validation text: the best starts over, so this run saves
    val.write_text(text.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    result = run_cli(text, "--val", val, "-o", out, *TINY_CLI, "--steps", "205", "--resume", done,
                     "--min-count", "50")
    assert result.exit_code == 0, result.output
    assert "--byte-level and --min-count do nothing with --resume" in caplog.text
    hyper = load_model(out).training["hyperparameters"]
    assert (hyper["min_count"], hyper["byte_level"]) == (1, False)


class _FillingFile:
    """A real file on a disk that fills up after ``budget`` bytes, as open() returns it."""

    def __init__(self, path, mode, budget):
        self.file, self.left = open(path, mode), budget

    def write(self, data):
        if len(data) > self.left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.left -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_a_full_disk_ends_in_one_line_and_keeps_the_best_checkpoint(text, tmp_path, monkeypatch):
    import lstmviz.model.checkpoint as checkpoint_module

    scripted = iter([3.0, 2.0])
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: next(scripted))
    opened = []

    def filling_open(path, mode="r", *args, **kwargs):
        opened.append(path)
        return _FillingFile(path, mode, budget=math.inf if len(opened) <= 2 else 1000)  # step 5 fits

    monkeypatch.setattr(checkpoint_module, "open", filling_open, raising=False)
    out = tmp_path / "best.pt"
    result = CliRunner().invoke(cli, ["train", str(text), "-o", str(out), *TINY_CLI, "--steps", "20",
                                      "--eval-every", "5"])
    assert result.exit_code == 1
    assert result.output == (f"Error: no space left on the device while writing best.pt at step 10; {out} "
                             "holds the best checkpoint so far (step 5, validation 3.0000 bits/char); free "
                             f"some space, then continue with --resume {out}\n")
    monkeypatch.undo()
    saved = load_model(out)
    assert saved.training["steps"] == 5 and saved.training["best_val_bpc"] == 3.0
    assert torch.load(state_path(out), weights_only=True)["steps"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "best.pt.resume"]


def test_a_really_full_disk_ends_in_one_line(text, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(folder)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:  # a checkpoint of 0.5 MB and a resume state of 1.4 MB: the second save does not fit
        out = folder / "m.pt"
        run = subprocess.run([sys.executable, "-m", "lstmviz", "train", str(text), "-o", str(out), "--layers",
                              "1", "--hidden", "128", "--seq-len", "32", "--batch-size", "8", "--steps", "30",
                              "--eval-every", "10", "--quiet"], env={**os.environ, "PYTHONPATH": str(REPO)},
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 1, run.stderr[-3000:]
        last = run.stderr.splitlines()[-1]
        assert re.fullmatch(rf"Error: no space left on the device while writing m\.pt(\.resume)? at step "
                            rf"\d+; {re.escape(str(out))} holds the best checkpoint so far \(step \d+, "
                            rf"validation [\d.]+ bits/char\); free some space, then continue with --resume "
                            rf"{re.escape(str(out))}", last), last
        assert "Traceback" not in run.stderr
        assert load_model(out).training["steps"] >= 10
        assert sorted(p.name for p in folder.iterdir()) == ["m.pt", "m.pt.resume"]
    finally:
        subprocess.run(["umount", str(folder)], check=True)
