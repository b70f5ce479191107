"""`lstmviz inspect` on real checkpoints written by torch, and its one-line errors."""

import importlib
import json
import shutil
import sys

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from torch import nn

from lstmviz.cli import cli
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.config import LSTMConfig
from lstmviz.model.vocab import Vocab

CHARS = "\n !abcdefghij"
V = len(CHARS)


def char_net(vocab=V, rnn=None, embed=6):
    torch.manual_seed(0)
    rnn = rnn if rnn is not None else nn.LSTM(embed, 8, 2, batch_first=True)
    hidden = rnn.hidden_size * (2 if getattr(rnn, "bidirectional", False) else 1)
    return nn.ModuleDict({"embedding": nn.Embedding(vocab, embed), "rnn": rnn, "drop": nn.Dropout(),
                          "fc": nn.Linear(hidden, vocab)})


def inspect(*args):
    return CliRunner().invoke(cli, ["inspect", *map(str, args)])


def test_inspect_wrapped_state_dict(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net().state_dict(), "chars": CHARS, "epoch": 4}, path)
    result = inspect(path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"checkpoint:  {path}",
        "layout:      wrapped-state-dict",
        "parts:       embedding 'state_dict.embedding' → LSTM 'state_dict.rnn' → "
        "decoder 'state_dict.fc'",
        "layers:      2",
        "hidden size: 8",
        "input:       embedding, 6 wide",
        "vocabulary:  13 symbols: ↵␣!abcdefghij (from checkpoint key 'chars')",
        f"parameters:  {sum(p.numel() for p in char_net().parameters()):,}",
        "training:    epoch=4",
    ]


def test_inspect_one_hot_safetensors_with_text_vocab(tmp_path):
    net = char_net(rnn=nn.LSTM(V, 8, bias=False), embed=V)
    del net["embedding"]
    path = tmp_path / "w.safetensors"
    save_file(net.state_dict(), path)
    text = tmp_path / "train.txt"
    text.write_text("hij\nabc defg!")
    result = inspect(path, "--vocab", text)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:3] == ["layout:      safetensors", "parts:       LSTM 'rnn' → decoder 'fc'"]
    assert "input:       one-hot, 13 wide" in lines
    assert f"vocabulary:  13 symbols: ↵␣!abcdefghij (from the characters of {text})" in lines
    assert lines[-1].endswith(" (no bias in LSTM)")


def test_inspect_own_checkpoint_byte_level(tmp_path):
    vocab = Vocab(tuple(chr(b) for b in range(256)), byte_level=True)
    path = tmp_path / "own.pt"
    save_checkpoint(path, CharLSTM(LSTMConfig(256, n_layer=1, n_hidden=4, n_embd=3)), vocab,
                    {"steps": 10, "history": [1, 2]})
    result = inspect(path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "layout:      lstmviz" in lines
    assert "vocabulary:  all 256 byte values, text read as UTF-8 bytes (from checkpoint)" in lines
    assert lines[-1] == "training:    steps=10"


def test_inspect_pickled_model_of_a_deleted_script(tmp_path, monkeypatch):
    script = tmp_path / "script"
    script.mkdir()
    (script / "oldtrain.py").write_text(
        "from torch import nn\n\n\n"
        "class Model(nn.Module):\n"
        "    def __init__(self, chars):\n"
        "        super().__init__()\n"
        "        self.itos = list(chars)\n"
        "        self.encoder = nn.LSTM(len(chars), 5, batch_first=True)\n"
        "        self.head = nn.Linear(5, len(chars))\n"
    )
    monkeypatch.syspath_prepend(str(script))
    model = importlib.import_module("oldtrain").Model(CHARS)
    path = tmp_path / "whole.pth"
    torch.save(model, path)
    del sys.modules["oldtrain"]
    shutil.rmtree(script)
    sys.path.remove(str(script))
    importlib.invalidate_caches()

    refused = inspect(path)
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {path}: holds pickled Python classes (oldtrain.Model, "
        "torch.nn.modules.linear.Linear, torch.nn.modules.rnn.LSTM); unpickling runs code from "
        "the file, so pass --trust-pickle to load it, and only for a file you trust\n"
    )
    result = inspect(path, "--trust-pickle")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:3] == ["layout:      pickled-model", "parts:       LSTM 'encoder' → decoder 'head'"]
    assert "vocabulary:  13 symbols: ↵␣!abcdefghij (from checkpoint key 'itos')" in lines


def test_inspect_help_has_an_example():
    result = CliRunner().invoke(cli, ["inspect", "--help"])
    assert result.exit_code == 0
    assert "lstmviz inspect austen.pt" in result.output
    assert "--trust-pickle" in result.output


def _write(tmp_path, case):
    """Write the bad input named by ``case``; return (checkpoint, extra args, expected message)."""
    path = tmp_path / "model.pt"
    extra = []
    if case == "missing":
        return path, extra, f"{path}: no such file; check the path"
    if case in ("random bytes", "text file", "extraction"):
        content = {"random bytes": bytes(range(256)) * 2, "text file": b"To be, or not.\n",
                   "extraction": b"\x89HDF\r\n\x1a\n" + bytes(500)}[case]
        path.write_bytes(content)
        why = {"random bytes": "not written by torch.save", "text file": "it is a text file",
               "extraction": "it is an HDF5 file, such as an extraction: look inside one with "
                             "`lstmviz info`"}[case]
        return path, extra, (f"{path}: not a PyTorch checkpoint ({why}); give a .pt/.pth file "
                             "written by torch.save, or a .safetensors file")
    if case == "cnn":
        torch.save(nn.Sequential(nn.Conv1d(3, 4, 3), nn.Linear(2, 2)).state_dict(), path)
        return path, extra, (
            f"{path}: not a char-LSTM: no nn.LSTM among its 4 tensors (e.g. 0.weight (4×3×3), "
            "0.bias (4), 1.weight (2×2), 1.bias (2)); lstmviz needs weights with "
            "weight_ih_l0/weight_hh_l0 from an nn.LSTM")
    if case == "dict of strings":
        torch.save({"author": "me", "notes": "best run"}, path)
        return path, extra, (
            f"{path}: not a char-LSTM checkpoint: it holds a dict with keys 'author', 'notes' and "
            "no model weights; expected a state dict, or a dict holding one under a key like "
            "'state_dict' or 'model'")
    if case == "vocab size":
        torch.save(char_net().state_dict(), path)
        (tmp_path / "vocab.json").write_text(json.dumps(list("abc")))
        return path, extra, (
            f"the vocabulary (file {tmp_path / 'vocab.json'}) has 3 symbols but the model's decoder "
            "has 13 outputs; pass the vocabulary it was trained with: --vocab FILE")
    if case == "no vocab":
        torch.save(char_net().state_dict(), path)
        return path, extra, (
            f"{path}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, "
            "stoi) and there is no JSON file or meta.pkl beside it; pass one "
            "with --vocab FILE: a JSON list of the 13 symbols in id order, or the training text")
    if case == "missing vocab file":
        torch.save(char_net().state_dict(), path)
        return path, ["--vocab", tmp_path / "v.json"], (
            f"{tmp_path / 'v.json'}: no such vocabulary file; check the --vocab path")
    rnn, found = {
        "gru": (nn.GRU(6, 8), "a GRU"),
        "rnn": (nn.RNN(6, 8, 2), "an RNN"),
        "bidirectional": (nn.LSTM(6, 8, bidirectional=True), "a bidirectional LSTM"),
        "proj_size": (nn.LSTM(6, 8, proj_size=3), "an LSTM with proj_size=3"),
    }[case]
    torch.save(char_net(rnn=rnn).state_dict(), path)
    return path, extra, (f"{path}: found {found} at 'rnn'; lstmviz handles only unidirectional "
                         "nn.LSTM layers without proj_size")


@pytest.mark.parametrize("case", [
    "missing", "random bytes", "text file", "extraction", "cnn", "dict of strings", "vocab size", "no vocab",
    "missing vocab file", "gru", "rnn", "bidirectional", "proj_size",
])
def test_inspect_bad_input_is_one_line(tmp_path, case):
    path, extra, message = _write(tmp_path, case)
    result = inspect(path, *extra)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"


def test_inspect_lists_what_the_checkpoint_holds_beside_the_model(tmp_path):
    net = char_net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "ema": {"fc.weight": torch.zeros(V, 8)},
                "losses": [2.5, 2.1, 1.9], "epoch": 7, "chars": CHARS}, path)
    result = inspect(path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [
        "training:    epoch=7",
        "ignored:     optimizer state 'optimizer', scheduler state 'scheduler', other weights 'ema', "
        "other data 'losses'",
    ]
