"""`lstmviz extract`, `info` and `validate` from the command line, and every bad input and fault."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import torch
from click.testing import CliRunner
from extraction_files import TEXT, VOCAB, make_model, write_checkpoint, write_text

from lstmviz.cli import cli
from lstmviz.model.vocab import Vocab
from lstmviz.store.reader import open_states
from lstmviz.store.writer import StatesWriter

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", make_model(2, 16, 8))


def invoke(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, [str(a) for a in args])
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, [str(a) for a in args])
    finally:
        os.chdir(old)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_default_output_goes_to_cache_named_after_model_and_text(tmp_path, model_path):
    text = write_text(tmp_path / "wiki_val.txt", TEXT[:3000])
    result = invoke("extract", model_path, text, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "cache" / "tiny__wiki_val.h5"
    assert f"wrote {Path('cache') / 'tiny__wiki_val.h5'}: 3,000 positions, 4 activations" in result.output
    assert "char/s" in result.stderr  # the progress bar, on stderr
    with open_states(out) as s:
        assert s.names == ["layer0.h", "layer0.c", "layer1.h", "layer1.c"]
        assert s.attrs["device"].startswith("cuda" if torch.cuda.is_available() else "cpu")  # --device auto


def test_options_and_info(tmp_path, model_path):
    text = write_text(tmp_path / "wiki_val.txt", TEXT[:3000])
    out = tmp_path / "out.h5"
    result = invoke("extract", model_path, text, "-o", out, "--gates", "--dtype", "float32",
                    "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # -q: no progress bar
    with open_states(out) as s:
        assert s.has_gates and s.attrs["dtype"] == "float32" and s.attrs["device"] == "cpu"
        assert s.file["layer0/gates/i"].dtype.name == "float32"
    info = invoke("info", out)
    assert info.exit_code == 0, info.output
    for expected in ("tiny.pt (lstmviz layout): 2 layer(s) x 16 units, embedding 8",
                     "wiki_val.txt: 3,000 characters", "positions:   3,000",
                     "layer0.gates.i", "float32 (h, gates); c float32", "complete",
                     "1 (exact: one continuous pass)", "took",
                     "for cell search: rank_hist, rank_lo, rank_width (2048 bins)",
                     "of c, memory horizons within 4,096 characters (`lstmviz search --horizon`)"):
        assert expected in info.output, expected
    assert invoke("validate", out).output == f"{out}: valid\n"


def test_info_reports_float16_error_and_stream_deviation(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT)
    out = tmp_path / "s.h5"
    assert invoke("extract", model_path, text, "-o", out, "--streams", "2", "--burn-in", "300").exit_code == 0
    info = invoke("info", out).output
    assert "float16:     h rounding error at most 2.44e-04 (bound); measured max" in info
    assert "streams:     2 streams of 8,192, burn-in 300: deviation from the exact pass: h max" in info
    assert "top-1 agreement" in info
    fewer = invoke("extract", model_path, text, "-o", tmp_path / "few.h5", "--streams", "7", "-q")
    assert "note: read as 3 stream(s) of 4,096 characters, not 7: a stream is a whole number of " \
           "4,096-character blocks" in fewer.stderr
    assert "streams:     3 streams of 4,096 (asked for 7)" in invoke("info", tmp_path / "few.h5").output


def test_info_describes_files_whose_optional_attributes_are_missing_or_foreign(tmp_path, model_path):
    # The format lets a writer leave these out (or write them otherwise); info used to crash on them.
    text = write_text(tmp_path / "t.txt", TEXT)
    out = tmp_path / "s.h5"
    assert invoke("extract", model_path, text, "-o", out, "--streams", "2", "--burn-in", "300",
                  "-q").exit_code == 0
    with h5py.File(out, "r+") as f:
        for key in [k for k in f.attrs if k.startswith("streams_deviation")] + ["dtype"]:
            del f.attrs[key]
        f.attrs["elapsed_s"] = "fast"
    result = invoke("info", out)
    assert result.exit_code == 0, result.output
    assert "burn-in 300: deviation from the exact pass: h max ?" in result.output
    assert "(not measured)" in result.output and "took fast s" in result.output
    assert "dtype:       ? (h); c float32" in result.output


def test_existing_output_is_refused_without_force(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT[:500])
    out = tmp_path / "out.h5"
    out.write_bytes(b"precious")
    result = invoke("extract", model_path, text, "-o", out)
    assert result.exit_code == 1
    assert result.output == (f"Error: {out} already exists; pass --force to replace it, "
                             "or choose -o OTHER.h5\n")
    assert out.read_bytes() == b"precious"
    assert invoke("extract", model_path, text, "-o", out, "--force", "-q").exit_code == 0
    with open_states(out) as s:
        assert s.n_tokens == 500


def test_unknown_characters_are_listed_with_counts(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", "abc ☃☃☃ déjà vu ☃" + TEXT[:100])
    out = tmp_path / "out.h5"
    result = invoke("extract", model_path, text, "-o", out)
    assert result.exit_code == 1
    assert result.output.startswith("Error: the text has 6 character(s) the model's vocabulary lacks: "
                                    "'☃'×4, ")  # most common first
    assert "'é'×1" in result.output and "'à'×1" in result.output
    assert "--unknown skip or --unknown replace:<char>" in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_unknown_skip_and_replace(tmp_path, model_path):
    body = TEXT[:100]
    text = write_text(tmp_path / "t.txt", "☃a☃" + body)
    skip, repl = tmp_path / "skip.h5", tmp_path / "repl.h5"
    assert invoke("extract", model_path, text, "-o", skip, "--unknown", "skip", "-q").exit_code == 0
    only_unknown = write_text(tmp_path / "snow.txt", "☃☃☃☃")
    none_left = invoke("extract", model_path, only_unknown, "-o", tmp_path / "n.h5", "--unknown", "skip")
    assert none_left.output == (f"Error: {only_unknown}: the text has 0 usable character(s) (4 skipped by "
                                "--unknown skip); at least 2 are needed (each position is scored on the "
                                "character after it)\n")
    assert invoke("extract", model_path, text, "-o", repl, "--unknown", "replace:?", "-q").exit_code == 0
    with open_states(skip) as s:
        assert s.text() == "a" + body and s.attrs["unknown"] == "skip" and s.attrs["unknown_count"] == 2
    with open_states(repl) as s:
        assert s.text() == "?a?" + body and s.attrs["unknown"] == "replace:?"
    bad = invoke("extract", model_path, text, "-o", tmp_path / "x.h5", "--unknown", "replace:☃")
    assert bad.exit_code == 1 and "the vocabulary has no '☃'" in bad.output
    bad = invoke("extract", model_path, text, "-o", tmp_path / "x.h5", "--unknown", "drop")
    assert bad.output == ("Error: --unknown 'drop' is not understood; use 'auto', 'error', 'skip' or "
                          "'replace:<one character>'\n")


def test_a_model_with_its_own_unknown_symbol(tmp_path):
    # By default (auto) the model's unknown symbol stands in, and the user is told; an explicit
    # --unknown error still stops and lists the characters.
    vocab = Vocab(tuple(sorted(set(TEXT[:400]))) + ("\ufffd",), unknown="\ufffd")
    model = write_checkpoint(tmp_path / "m.pt", make_model(1, 8, 4, vocab=vocab), vocab)
    text = write_text(tmp_path / "t.txt", "☃" + TEXT[:300])
    auto = invoke("extract", model, text, "-o", tmp_path / "auto.h5", "-q")
    assert auto.exit_code == 0, auto.output
    assert "note: 1 character(s) the vocabulary lacks were handled by --unknown replace:\ufffd" in auto.stderr
    with open_states(tmp_path / "auto.h5") as s:
        assert s.text() == "\ufffd" + TEXT[:300] and s.attrs["unknown"] == "replace:\ufffd"
    strict = invoke("extract", model, text, "-o", tmp_path / "strict.h5", "--unknown", "error")
    assert strict.exit_code == 1
    assert strict.output.startswith("Error: the text has 1 character(s) the model's vocabulary lacks: '☃'×1")
    assert not (tmp_path / "strict.h5").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"good start \xff\xfe then bad", "(byte 11 is 0xff); convert it first, e.g. `iconv -f latin1"),
    ("é".encode() * 700_000 + b"\x80", "not UTF-8 text (byte 1400000 is 0x80)"),  # past the first piece
    ("abc é".encode("utf-16"), "(byte 0 is 0xff); convert it first, e.g. `iconv -f utf-16 -t utf-8`"),
    (b"", "the file is empty"),
    (b"a", "the text has 1 usable character(s); at least 2 are needed"),
], ids=["bad-byte", "bad-byte-late", "utf-16", "empty", "one-char"])
def test_bad_texts(tmp_path, content, message):
    model = write_checkpoint(tmp_path / "m.pt", make_model(1, 8, 8, vocab=Vocab.from_text("abcé ")),
                             vocab=Vocab.from_text("abcé "))
    text = tmp_path / "t.txt"
    text.write_bytes(content)
    result = invoke("extract", model, text, "-o", tmp_path / "o.h5")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {text}: ") and message in result.output
    assert not (tmp_path / "o.h5").exists() and leftovers(tmp_path) == []


def test_a_checkpoint_that_is_no_char_lstm(tmp_path):
    bogus = tmp_path / "bogus.pt"
    torch.save({"weights": torch.zeros(3)}, bogus)
    text = write_text(tmp_path / "t.txt", TEXT[:100])
    result = invoke("extract", bogus, text, "-o", tmp_path / "o.h5")
    assert result.exit_code == 1 and result.output.startswith(f"Error: {bogus}: ")
    assert not (tmp_path / "o.h5").exists()


def test_no_space_left_removes_the_temporary_file(tmp_path, model_path, monkeypatch):
    def full_disk(self, start, acts):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StatesWriter, "write_activations", full_disk)
    text = write_text(tmp_path / "t.txt", TEXT[:2000])
    out = tmp_path / "out.h5"
    result = invoke("extract", model_path, text, "-o", out, "-q")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no space left on the device while writing {out}; nothing was "
                                    "kept. Free some space or write elsewhere with -o")
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system; needs root (as in CI), skipped elsewhere."""
    folder = tmp_path / "small"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(folder)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_really_full_disk_ends_in_one_line(small_disk):
    # HDF5 used to fail again at every release of a dataset handle, then crash the interpreter.
    model = write_checkpoint(small_disk.parent / "m.pt", make_model(2, 64, 16))
    text = write_text(small_disk.parent / "t.txt", (TEXT * 3)[:30_000])
    out = small_disk / "out.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "lstmviz", "extract", str(model), str(text), "-o", str(out),
                          "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stderr.startswith(f"Error: no space left on the device while writing {out}; nothing was kept")
    assert run.stderr.count("\n") == 1
    assert list(small_disk.iterdir()) == []


def test_device_that_is_not_there(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT[:100])
    result = invoke("extract", model_path, text, "-o", tmp_path / "o.h5", "--device", "tpu")
    assert result.output == "Error: --device 'tpu' is not a torch device; use auto, cpu or cuda\n"
    if not torch.cuda.is_available():
        result = invoke("extract", model_path, text, "-o", tmp_path / "o.h5", "--device", "cuda")
        assert result.output == "Error: --device cuda: torch sees no CUDA GPU here; use --device cpu\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("device", ["mps", "xpu", "meta"])
def test_devices_extraction_does_not_run_on(tmp_path, model_path, device):
    # Each of these used to end in a torch traceback (or, for meta, deep in the model copy).
    text = write_text(tmp_path / "t.txt", TEXT[:100])
    result = invoke("extract", model_path, text, "-o", tmp_path / "o.h5", "--device", device)
    assert result.exit_code != 0
    assert result.output == (f"Error: --device {device}: this command runs on cpu or cuda only; "
                             "use --device auto\n")
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="needs fewer than 8 GPUs")
def test_a_gpu_number_that_is_not_there(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT[:100])
    result = invoke("extract", model_path, text, "-o", tmp_path / "o.h5", "--device", "cuda:7")
    assert result.exit_code != 0
    expected = (f"Error: --device cuda:7: torch sees {torch.cuda.device_count()} cuda device(s), numbered "
                f"from 0; use --device cuda:0\n" if torch.cuda.is_available() else
                "Error: --device cuda:7: torch sees no CUDA GPU here; use --device cpu\n")
    assert result.output == expected
    assert leftovers(tmp_path) == []


@pytest.mark.slow  # three extraction processes, interrupted
@pytest.mark.parametrize(("threads", "stop"), [
    ("1", signal.SIGINT),
    ("2", signal.SIGINT),  # two threads: the two-stage loop (lstmviz.extraction.two_stage)
    ("2", signal.SIGTERM),  # kill, or a scheduler's time limit
])
def test_ctrl_c_leaves_no_file(tmp_path, threads, stop):
    # A model and text big enough to take several seconds, interrupted once writing has begun.
    model = write_checkpoint(tmp_path / "m.pt", make_model(2, 64, 16))
    text = write_text(tmp_path / "long.txt", (TEXT * 60)[:600_000])
    out = tmp_path / "out.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": threads}
    command = [sys.executable, "-m", "lstmviz", "extract", str(model), str(text), "-o", str(out)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while "extract:" not in _peek(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
        if proc.poll() is not None:
            break
    time.sleep(0.5)  # well into the block loop
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted: no output was written (the partial file was removed)." in err
    assert not out.exists() and leftovers(tmp_path) == []


def _peek(folder: Path) -> str:
    """'extract:' once the temporary output exists (the run has reached the block loop)."""
    return "extract:" if leftovers(folder) else ""


def test_every_command_has_help_with_an_example():
    for command in ("extract", "info", "validate"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output
    assert "[default: float16]" in invoke("extract", "--help").output


def test_info_and_validate_on_damaged_files(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT[:1000])
    good = tmp_path / "good.h5"
    assert invoke("extract", model_path, text, "-o", good, "-q").exit_code == 0
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = invoke("info", cut)
    assert result.exit_code == 1
    assert result.output == (f"Error: {cut}: not a readable HDF5 file (truncated or damaged); "
                             "run `lstmviz extract` again\n")
    result = invoke("validate", cut)
    assert result.exit_code == 1
    assert result.output == (f"{cut}: 1 problem(s)\n"
                             f"  - {cut}: not a readable HDF5 file (truncated or damaged); "
                             "run `lstmviz extract` again\n")


def test_vocab_of_test_text_covers_it():
    assert not VOCAB.missing(TEXT)


def test_output_through_a_link_and_never_over_a_pipe(tmp_path, model_path):
    text = write_text(tmp_path / "t.txt", TEXT[:300])
    os.mkfifo(tmp_path / "pipe")
    result = invoke("extract", model_path, text, "-o", tmp_path / "pipe", "--force", "-q")
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'pipe'} is not a regular file (a device, pipe or socket); "
                             "give the path of a file to write\n")
    assert (tmp_path / "pipe").is_fifo()
    (tmp_path / "link.h5").symlink_to(tmp_path / "real.h5")
    result = invoke("extract", model_path, text, "-o", tmp_path / "link.h5", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "link.h5").is_symlink()
    assert invoke("validate", tmp_path / "real.h5").output == f"{tmp_path / 'real.h5'}: valid\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("output", "message"), [
    ("t.txt", "t.txt: -o names an input of this run; choose another output file"),
    ("m.pt", "m.pt: -o names an input of this run; choose another output file"),
    ("newdir/", "newdir/: is a folder; give a file name for -o, e.g. newdir/m__t.h5"),
    ("", "-o is empty; give a file name such as m__t.h5"),
    ("t.txt/out.h5", "t.txt/out.h5: t.txt is a file, not a folder; choose another -o path"),
])
def test_outputs_that_cannot_be_written_are_refused_before_the_work(tmp_path, model_path, output, message):
    # --force would once have replaced the text or the checkpoint with the extraction.
    text = write_text(tmp_path / "t.txt", TEXT[:300])
    model = tmp_path / "m.pt"
    model.write_bytes(Path(model_path).read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = invoke("extract", model, text, "-o", output, "--force", "-q", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
