"""What lstmviz promises about untrusted input (docs/security.md), each promise tried as an attacker would."""

import os
import pickle
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from app.cli import demo, serve
from lstmviz.cli import cli


class Payload:
    """Unpickling this runs ``os.system``: it would create the marker file."""

    marker: Path

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _payload(marker: Path) -> Payload:
    p = Payload()
    p.marker = marker
    return p


WRITERS = {
    "torch zip": lambda obj, path: torch.save(obj, path),
    "torch legacy": lambda obj, path: torch.save(obj, path, _use_new_zipfile_serialization=False),
    "plain pickle": lambda obj, path: path.write_bytes(pickle.dumps(obj)),
}


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".safetensors", ".ckpt"])
@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("command", ["inspect", "extract", "sample"])
def test_no_pickle_runs_code_without_trust_pickle(tmp_path, writer, suffix, command):
    marker = tmp_path / "pwned"
    model = tmp_path / f"model{suffix}"
    WRITERS[writer]({"model": _payload(marker), "vocab": list("abc")}, model)
    text = tmp_path / "t.txt"
    text.write_text("abcabc" * 20)
    args = {"inspect": [str(model)], "extract": [str(model), str(text), "-o", str(tmp_path / "o.h5")],
            "sample": [str(model), "-n", "5"]}[command]
    result = CliRunner().invoke(cli, [command, *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert not marker.exists()
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("command", [serve, demo])
def test_the_dashboard_listens_on_localhost_unless_told_otherwise(command):
    host = next(p for p in command.params if p.name == "host")
    assert host.default == "127.0.0.1"


def test_the_payload_is_real(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_payload(marker)))  # what any loader that unpickles freely would do
    assert marker.exists()
