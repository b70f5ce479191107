"""Temporaries left by killed runs: the next run for the same output removes them, `info` and `serve`
list them with the command that removes them, and a temporary still in use is never touched."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner
from extraction_files import TEXT, make_model, write_checkpoint, write_text

from lstmviz.cli import cli
from lstmviz.files import QUIET_S, human_size, temporaries, temporary_sibling

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def dead_pid() -> int:
    """The PID of a process that has just exited (not reused this soon)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_extraction_is_listed_then_removed_by_the_next_run(tmp_path, monkeypatch):
    model = write_checkpoint(tmp_path / "m.pt", make_model(2, 64, 16))
    text = write_text(tmp_path / "long.txt", (TEXT * 60)[:600_000])
    out = tmp_path / "out.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "lstmviz", "extract", str(model)]
    proc = subprocess.Popen([*command, str(text), "-o", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well into the block loop
    proc.send_signal(signal.SIGKILL)  # no chance to tidy up
    proc.wait(timeout=60)
    [left] = leftovers(tmp_path)
    assert left.name == f".out.h5.{proc.pid}.0.tmp" and not out.exists()
    size = left.stat().st_size
    assert size > 0

    short = write_text(tmp_path / "short.txt", TEXT[:2000])
    other = invoke("extract", model, short, "-o", tmp_path / "other.h5", "-q")  # another output: kept
    assert other.exit_code == 0 and leftovers(tmp_path) == [left]

    [found] = temporaries(tmp_path)
    assert found.stale and found.target == out and found.size == size
    line = found.describe()
    assert line == (f"{left} ({human_size(size)}): left by process {proc.pid}, which is gone; "
                    f"remove it with `rm {left}`")
    info = invoke("info", tmp_path)
    assert info.exit_code == 0, info.output
    assert info.output.endswith(f"temporary files ({human_size(size)}):\n  {line}\n")

    monkeypatch.setattr("dash.Dash.run", lambda self, **kw: None)
    served = invoke("serve", tmp_path)
    assert served.exit_code == 0, served.output
    assert f"Temporary file {line}\n" in served.stderr

    again = subprocess.run([*command, str(short), "-o", str(out), "-q"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stderr == f"removed {left} ({human_size(size)}), left by process {proc.pid}, which is gone\n"
    assert leftovers(tmp_path) == [] and out.exists()


def test_a_run_removes_only_its_own_outputs_stale_temporaries(tmp_path):
    pid = dead_pid()
    mine = tmp_path / f".a.h5.{pid}.0.tmp"
    other = tmp_path / f".b.h5.{pid}.0.tmp"
    for path in (mine, other):
        with h5py.File(path, "w") as f:
            f["x"] = [1]
    temporary_sibling(tmp_path / "a.h5").unlink()
    assert leftovers(tmp_path) == [other]


def test_a_reused_pid_does_not_keep_a_temporary(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])  # alive, but does not hold the file
    try:
        tmp = tmp_path / f".a.h5.{sleeper.pid}.0.tmp"
        with h5py.File(tmp, "w") as f:
            f["x"] = [1]
        assert [t.stale for t in temporaries(tmp_path)] == [True]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_writer_holding_a_temporary_keeps_it_whatever_its_name_says(tmp_path):
    # A writer in another container sharing the folder: its PID means nothing here, but HDF5's lock does.
    tmp = tmp_path / f".a.h5.{dead_pid()}.0.tmp"
    code = ("import h5py, sys, time\nf = h5py.File(sys.argv[1], 'w')\nf['x'] = [1]\nf.flush()\n"
            "print('open', flush=True)\ntime.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(tmp)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "open\n"
        assert [t.stale for t in temporaries(tmp_path)] == [False]
        temporary_sibling(tmp_path / "a.h5").unlink()
        assert tmp.exists()
        assert temporaries(tmp_path)[0].describe().endswith("still being written")
    finally:
        writer.kill()
        writer.wait()
    assert [t.stale for t in temporaries(tmp_path)] == [True]  # the kernel dropped the lock


def test_other_temporaries_must_also_be_quiet_for_a_while(tmp_path):
    tmp = tmp_path / f".model.pt.{dead_pid()}.0.tmp"
    tmp.write_bytes(b"PK\x03\x04 half a checkpoint")
    assert [t.stale for t in temporaries(tmp_path)] == [False]  # written just now
    old = time.time() - QUIET_S - 5
    os.utime(tmp, (old, old))
    assert [t.stale for t in temporaries(tmp_path)] == [True]


@pytest.mark.parametrize("name", [".out.h5.123.0.tmp", ".model.pt.77.3.tmp", ".scores-quote.npz.9.0.tmp"])
def test_gitignore_covers_every_temporary(tmp_path, name):
    (tmp_path / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / name).write_text("x")
    ignored = subprocess.run(["git", "check-ignore", name], cwd=tmp_path, capture_output=True, text=True)
    assert ignored.stdout.strip() == name
