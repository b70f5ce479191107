"""A pickle that names a function from os, posix, nt or sys is refused by name, even with --trust-pickle,
in torch's zip format and in its legacy one; and it never runs."""

import os

import pytest
import torch
from click.testing import CliRunner

from lstmviz.cli import cli


class RunsACommand:
    """What a booby-trapped checkpoint holds: unpickling it calls os.system."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return os.system, (f"touch {self.sentinel}",)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
@pytest.mark.parametrize("trust", [[], ["--trust-pickle"]], ids=["untrusted", "trusted"])
def test_a_pickle_naming_os_system_is_refused_by_name(tmp_path, legacy, trust):
    sentinel = tmp_path / "it-ran"
    path = tmp_path / "model.pt"
    torch.save({"lstm.weight_ih_l0": torch.zeros(8, 2), "x": RunsACommand(sentinel)}, path,
               _use_new_zipfile_serialization=not legacy)
    result = CliRunner().invoke(cli, ["inspect", str(path), *trust])
    assert result.exit_code == 1
    assert result.output == f"Error: {refusal(path)}\n"
    assert not sentinel.exists()


class Settings:
    """A script's own class, which only --trust-pickle loads."""


def test_a_blocked_name_behind_an_ordinary_class_is_refused_while_unpickling(tmp_path):
    # A legacy file reports only its first unknown name; the blocked one comes later, during unpickling.
    sentinel = tmp_path / "it-ran"
    path = tmp_path / "model.pt"
    torch.save({"a": Settings(), "x": RunsACommand(sentinel)}, path, _use_new_zipfile_serialization=False)
    untrusted = CliRunner().invoke(cli, ["inspect", str(path)])
    assert untrusted.output.startswith(f"Error: {path}: holds pickled Python classes ({__name__}.Settings)")
    trusted = CliRunner().invoke(cli, ["inspect", str(path), "--trust-pickle"])
    assert trusted.output == f"Error: {refusal(path)}\n"
    assert not sentinel.exists()


def refusal(path) -> str:
    name = f"{os.system.__module__}.system"  # posix.system on Linux
    return (f"{path}: names {name}, from the module {name.split('.')[0]}, which can run commands on this "
            "machine; no model needs it, so lstmviz does not load the file, even with --trust-pickle (if you "
            "made it, save model.state_dict() instead)")
