"""load_model on checkpoints written by torch itself from modules defined here.

Every layout is checked for parity: the rebuilt CharLSTM's logits equal the original module's
forward pass (its own nn.LSTM), to fp32 noise.
"""

import argparse
import importlib
import json
import shutil
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from lstmviz.errors import CheckpointError, TextError, UnsupportedModelError, VocabError
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.model.config import LSTMConfig
from lstmviz.model.importers import LAYOUTS
from lstmviz.model.loading import load_model
from lstmviz.model.vocab import Vocab

CHARS = "\n !',.?abcdefghijklmnopqrstuvwxyz"
V = len(CHARS)
TOL = 1e-5  # fp32 noise only


class Net(nn.Module):
    """A char-LSTM as training scripts write them, with free attribute names."""

    def __init__(self, vocab=V, *, embed=12, hidden=16, layers=2, rnn="rnn", fc="fc",
                 emb="embedding", lstm_bias=True, fc_bias=True, tied=False):
        super().__init__()
        self.names = (emb, rnn, fc)
        if embed:
            setattr(self, emb, nn.Embedding(vocab, embed))
        self.vocab = vocab
        in_size = embed or vocab
        setattr(self, rnn, nn.LSTM(in_size, hidden, layers, bias=lstm_bias, batch_first=True,
                                   dropout=0.3 if layers > 1 else 0.0))
        self.dropout = nn.Dropout(0.5)
        setattr(self, fc, nn.Linear(hidden, vocab, bias=fc_bias))
        if tied:
            getattr(self, fc).weight = getattr(self, emb).weight

    def forward(self, x):
        emb, rnn, fc = (getattr(self, n, None) for n in self.names)
        inputs = emb(x) if emb is not None else nn.functional.one_hot(x, self.vocab).float()
        out, _ = rnn(inputs)
        return fc(self.dropout(out))


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    return Net(**kwargs).eval()


def assert_same(original, loaded, vocab=V):
    tokens = torch.randint(0, vocab, (2, 23), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = original(tokens)
        ours, _ = loaded.model(tokens)
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max().item() < TOL


def write_vocab(path, value=CHARS):
    path.write_text(json.dumps(list(value) if isinstance(value, str) else value))
    return path


# --- bare state dicts --------------------------------------------------------------------------


@pytest.mark.parametrize(("emb", "rnn", "fc"), [
    ("embedding", "rnn", "fc"),
    ("emb", "encoder", "out"),
    ("tok_emb", "lstm_layers", "head"),
    ("encoder", "lstm", "decoder"),
])
def test_state_dict_any_attribute_names(tmp_path, emb, rnn, fc):
    net = make(emb=emb, rnn=rnn, fc=fc)
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    write_vocab(tmp_path / "model.vocab.json")
    loaded = load_model(path)
    assert loaded.layout == "state-dict"
    assert loaded.parts == {"lstm": rnn, "embedding": emb, "decoder": fc}
    assert loaded.vocab.symbols == tuple(CHARS)
    assert loaded.vocab_source == f"file {tmp_path / 'model.vocab.json'}"
    cfg = loaded.model.config
    assert (cfg.vocab_size, cfg.n_layer, cfg.n_hidden, cfg.n_embd) == (V, 2, 16, 12)
    assert_same(net, loaded)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_that_are_not_finite_are_refused(tmp_path, bad):
    # Unchecked, NaN reaches the summaries (a bincount crash) and inf writes impossible values.
    net = make(emb="emb", rnn="rnn", fc="fc")
    with torch.no_grad():
        net.rnn.weight_hh_l1[3, 4] = bad
    path = tmp_path / "model.pt"
    torch.save({"state_dict": net.state_dict(), "chars": CHARS}, path)
    with pytest.raises(CheckpointError, match="1 weight.s. of lstm.weight_hh_l1 are NaN or infinite"):
        load_model(path)


def test_one_hot_without_biases_pth(tmp_path):
    net = make(embed=0, layers=3, lstm_bias=False, fc_bias=False)
    path = tmp_path / "charrnn.pth"
    torch.save(net.state_dict(), path)
    loaded = load_model(path, vocab=write_vocab(tmp_path / "v.json"))
    cfg = loaded.model.config
    assert (cfg.n_embd, cfg.n_layer, cfg.lstm_bias, cfg.decoder_bias) == (None, 3, False, False)
    assert "embedding" not in loaded.parts
    assert_same(net, loaded)


def test_dataparallel_prefix(tmp_path):
    net = make(rnn="lstm")
    path = tmp_path / "dp.pt"
    torch.save(nn.DataParallel(net).state_dict(), path)
    loaded = load_model(path, vocab=write_vocab(tmp_path / "v.json"))
    assert loaded.parts["lstm"] == "module.lstm"
    assert_same(net, loaded)


def test_nested_prefixes_and_compiled_names(tmp_path):
    net = make()
    path = tmp_path / "m.pt"
    torch.save({f"_orig_mod.net.{k}": v for k, v in net.state_dict().items()}, path)
    loaded = load_model(path, vocab=write_vocab(tmp_path / "v.json"))
    assert loaded.parts["decoder"] == "_orig_mod.net.fc"
    assert_same(net, loaded)


def test_tied_embedding_and_decoder(tmp_path):
    net = make(embed=16, hidden=16, emb="encoder", rnn="rnn", fc="decoder", tied=True)
    path = tmp_path / "tied.pt"
    torch.save(net.state_dict(), path)
    loaded = load_model(path, vocab=write_vocab(tmp_path / "v.json"))
    assert loaded.parts == {"lstm": "rnn", "embedding": "encoder", "decoder": "decoder"}
    assert_same(net, loaded)


def test_half_precision_weights_become_float32(tmp_path):
    net = make()
    path = tmp_path / "half.pt"
    torch.save({k: v.half() for k, v in net.state_dict().items()}, path)
    loaded = load_model(path, vocab=write_vocab(tmp_path / "v.json"))
    assert loaded.model.decoder.weight.dtype == torch.float32
    net.half().float()  # the original, rounded the same way
    assert_same(net, loaded)


def test_safetensors_with_vocab_in_metadata(tmp_path):
    net = make(rnn="rnn", fc="head")
    path = tmp_path / "weights.safetensors"
    save_file(net.state_dict(), path, metadata={"vocab": json.dumps(list(CHARS)), "epoch": "7"})
    loaded = load_model(path)
    assert loaded.layout == "safetensors"
    assert loaded.vocab.symbols == tuple(CHARS)
    assert loaded.vocab_source == "safetensors metadata key 'vocab'"
    assert loaded.training == {"epoch": "7"}
    assert_same(net, loaded)


def test_safetensors_with_vocab_json_beside_it(tmp_path):
    net = make(embed=0)
    path = tmp_path / "weights.safetensors"
    save_file(net.state_dict(), path)
    write_vocab(tmp_path / "vocab.json")
    loaded = load_model(path)
    assert loaded.layout == "safetensors"
    assert_same(net, loaded)


def test_an_unreadable_vocabulary_file_is_named(tmp_path, monkeypatch):
    # Permissions do not bind root, so the refusal is simulated where the bytes are read.
    net = make(embed=0)
    path = tmp_path / "weights.safetensors"
    save_file(net.state_dict(), path)
    write_vocab(tmp_path / "vocab.json")
    real = Path.read_bytes

    def refuse(self):
        if self.name == "vocab.json":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(TextError, match="vocab.json: cannot be read .Permission denied.; check that it is"):
        load_model(path)


def test_safetensors_found_by_content_whatever_the_suffix(tmp_path):
    net = make()
    path = tmp_path / "weights.bin"
    save_file(net.state_dict(), path, metadata={"chars": CHARS})
    loaded = load_model(path)
    assert loaded.layout == "safetensors"
    assert_same(net, loaded)


# --- wrapped state dicts -----------------------------------------------------------------------


@pytest.mark.parametrize(("wrap", "source"), [
    (lambda sd: {"state_dict": sd, "chars": CHARS, "epoch": 3}, "checkpoint key 'chars'"),
    (lambda sd: {"model": sd, "itos": list(CHARS)}, "checkpoint key 'itos'"),
    (lambda sd: {"model_state_dict": sd, "char_to_ix": {c: i for i, c in enumerate(CHARS)}},
     "checkpoint key 'char_to_ix'"),
    (lambda sd: {"net": sd, "config": {"hidden": 16, "vocab": list(CHARS)}},
     "checkpoint key 'config.vocab'"),
    (lambda sd: {"weights": sd, "id_to_char": dict(enumerate(CHARS))},
     "checkpoint key 'id_to_char'"),
    (lambda sd: {"epoch": 2, "state": {"model": sd}, "meta": {"tokens": list(CHARS)}},
     "checkpoint key 'meta.tokens'"),
])
def test_wrapped_state_dict(tmp_path, wrap, source):
    net = make()
    path = tmp_path / "ckpt.pt"
    torch.save(wrap(net.state_dict()), path)
    loaded = load_model(path)
    assert loaded.layout == "wrapped-state-dict"
    assert loaded.vocab.symbols == tuple(CHARS)
    assert loaded.vocab_source == source
    assert_same(net, loaded)


def test_wrapped_with_namespace_args_and_optimizer(tmp_path):
    net = make()
    opt = torch.optim.Adam(net.parameters())
    net(torch.zeros(1, 3, dtype=torch.long)).sum().backward()
    opt.step()
    args = argparse.Namespace(lr=0.002, hidden=16, data="input.txt")
    path = tmp_path / "ckpt.pt"
    torch.save({"args": args, "optimizer": opt.state_dict(), "state_dict": net.state_dict(),
                "idx2char": list(CHARS), "loss": 1.25}, path)
    loaded = load_model(path)  # Namespace needs no --trust-pickle
    assert loaded.layout == "wrapped-state-dict"
    assert loaded.training == {"args.lr": 0.002, "args.hidden": 16, "args.data": "input.txt",
                               "loss": 1.25}
    assert_same(net, loaded)


def test_wrapped_vocab_of_the_right_size_wins(tmp_path):
    net = make()
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": net.state_dict(), "vocab": "abc", "stoi": {c: i for i, c in
                enumerate(CHARS)}}, path)
    assert load_model(path).vocab_source == "checkpoint key 'stoi'"


# --- whole pickled models ----------------------------------------------------------------------

MODULE_SOURCE = '''
from torch import nn


class CharRNN(nn.Module):
    def __init__(self, chars, cell="lstm"):
        super().__init__()
        self.chars = chars
        self.char2int = {c: i for i, c in enumerate(chars)}
        self.emb = nn.Embedding(len(chars), 10)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.lstm = rnn(10, 16, 2, batch_first=True, dropout=0.2)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(16, len(chars))

    def forward(self, x):
        out, _ = self.lstm(self.emb(x))
        return self.fc(self.dropout(out))
'''


@pytest.fixture
def script_module(tmp_path, monkeypatch):
    """A training script's module on sys.path, and a function that deletes it for good."""
    folder = tmp_path / "script"
    folder.mkdir()
    name = f"train_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)

    def vanish():
        del sys.modules[name]
        shutil.rmtree(folder)
        sys.path.remove(str(folder))
        importlib.invalidate_caches()
        with pytest.raises(ImportError):
            importlib.import_module(name)

    return module, vanish


def test_pickled_model_needs_trust(tmp_path, script_module):
    module, vanish = script_module
    path = tmp_path / "whole.pt"
    torch.save(module.CharRNN(CHARS).eval(), path)
    vanish()
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: holds pickled Python classes ({module.__name__}.CharRNN, ")
    assert "unpickling runs code from the file, so pass --trust-pickle" in msg


def test_pickled_model_whose_class_is_gone(tmp_path, script_module):
    module, vanish = script_module
    torch.manual_seed(0)
    net = module.CharRNN(CHARS).eval()
    path = tmp_path / "whole.pt"
    torch.save(net, path)
    vanish()
    loaded = load_model(path, trust_pickle=True)
    assert loaded.layout == "pickled-model"
    assert loaded.parts == {"lstm": "lstm", "embedding": "emb", "decoder": "fc"}
    assert loaded.vocab_source == "checkpoint key 'chars'"  # an attribute of the model
    assert_same(net, loaded)


def test_pickled_model_inside_a_dict(tmp_path, script_module):
    module, vanish = script_module
    net = module.CharRNN(CHARS).eval()
    path = tmp_path / "bundle.pt"
    torch.save({"model": net, "vocab": list(CHARS), "step": 100}, path)
    vanish()
    loaded = load_model(path, trust_pickle=True)
    assert loaded.layout == "pickled-model"
    assert loaded.parts["lstm"] == "model.lstm"
    assert loaded.training == {"step": 100}
    assert_same(net, loaded)


def test_pickled_model_with_importable_class(tmp_path, script_module):
    module, _ = script_module
    net = module.CharRNN(CHARS).eval()
    path = tmp_path / "whole.pt"
    torch.save(net, path, _use_new_zipfile_serialization=False)  # the legacy format too
    loaded = load_model(path, trust_pickle=True)
    assert loaded.layout == "pickled-model"
    assert_same(net, loaded)


def test_legacy_format_pickle_needs_trust(tmp_path, script_module):
    module, _ = script_module
    path = tmp_path / "old.pt"
    torch.save(module.CharRNN(CHARS), path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"holds pickled Python classes .*--trust-pickle"):
        load_model(path)


def test_pickled_gru_is_unsupported(tmp_path, script_module):
    module, vanish = script_module
    path = tmp_path / "gru.pt"
    torch.save(module.CharRNN(CHARS, cell="gru"), path)
    vanish()
    with pytest.raises(UnsupportedModelError, match=r"found a GRU at 'lstm'; lstmviz handles only"):
        load_model(path, trust_pickle=True)


# --- lstmviz's own checkpoints -----------------------------------------------------------------


def test_own_checkpoint_and_vocab_override(tmp_path):
    model = CharLSTM(LSTMConfig(vocab_size=V, n_layer=1, n_hidden=8, n_embd=4))
    path = tmp_path / "own.pt"
    save_checkpoint(path, model, Vocab(tuple(CHARS)), {"steps": 5})
    loaded = load_model(path)
    assert (loaded.layout, loaded.vocab_source, loaded.training) == ("lstmviz", "checkpoint",
                                                                      {"steps": 5})
    assert set(LAYOUTS) >= {loaded.layout}
    upper = CHARS.upper().replace("\n", "~")
    loaded = load_model(path, vocab=write_vocab(tmp_path / "upper.json", upper))
    assert loaded.vocab.symbols == tuple(upper)
    with pytest.raises(VocabError, match="has 3 symbols but the model's decoder has 33 outputs"):
        load_model(path, vocab=write_vocab(tmp_path / "abc.json", "abc"))


# --- vocabulary sources ------------------------------------------------------------------------


@pytest.fixture
def bare(tmp_path):
    net = make()
    path = tmp_path / "bare.pt"
    torch.save(net.state_dict(), path)
    return path


def test_sidecar_order(bare):
    write_vocab(bare.with_name("vocab.json"), "abc")
    write_vocab(bare.with_name("bare.json"), {"vocab_size": V, "itos": list(CHARS)})
    assert load_model(bare).vocab_source == f"file {bare.with_name('bare.json')} key 'itos'"
    write_vocab(bare.with_name("bare.vocab.json"), {c: i for i, c in enumerate(CHARS)})
    assert load_model(bare).vocab_source == f"file {bare.with_name('bare.vocab.json')}"


def test_given_vocab_forms(bare, tmp_path):
    stoi = write_vocab(tmp_path / "stoi.json", {c: i for i, c in enumerate(CHARS)})
    assert load_model(bare, vocab=stoi).vocab.symbols == tuple(CHARS)
    own = write_vocab(tmp_path / "own.json", Vocab(tuple(CHARS)).to_dict())
    assert load_model(bare, vocab=own).vocab.symbols == tuple(CHARS)
    text = tmp_path / "train.txt"
    text.write_text("hello, world!\nwhat's up? " + "".join(reversed(CHARS)))
    loaded = load_model(bare, vocab=text)
    assert loaded.vocab.symbols == tuple(sorted(CHARS))
    assert loaded.vocab_source == f"the characters of {text}"


def test_given_vocab_overrides_checkpoint(tmp_path):
    net = make()
    path = tmp_path / "w.pt"
    torch.save({"state_dict": net.state_dict(), "chars": CHARS}, path)
    upper = CHARS.upper().replace("\n", "~")
    assert load_model(path, vocab=write_vocab(tmp_path / "u.json", upper)).vocab.symbols == tuple(upper)


def test_text_vocab_of_wrong_size_names_both(bare, tmp_path):
    text = tmp_path / "val.txt"
    text.write_text("only some letters")
    with pytest.raises(VocabError) as e:
        load_model(bare, vocab=text)
    assert str(e.value) == (
        f"the vocabulary (the characters of {text}) has 10 symbols but the model's decoder has "
        "33 outputs; pass the vocabulary it was trained with: --vocab FILE"
    )


def test_no_vocabulary_found(bare):
    with pytest.raises(VocabError) as e:
        load_model(bare)
    assert str(e.value) == (
        f"{bare}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, "
        "stoi) and there is no JSON file or meta.pkl beside it; pass one with "
        "--vocab FILE: a JSON list of the 33 symbols in id order, or the training text"
    )


def test_given_vocab_missing_or_broken(bare, tmp_path):
    with pytest.raises(VocabError, match=r"nope.json: no such vocabulary file; check the --vocab"):
        load_model(bare, vocab=tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('["a", "b",')
    with pytest.raises(VocabError, match=r"broken.json: not valid JSON \(Expecting value at line 1"):
        load_model(bare, vocab=broken)
    gaps = write_vocab(tmp_path / "gaps.json", {"a": 0, "b": 2})
    with pytest.raises(VocabError, match=r"ids are not 0…1 \(found \[0, 2\]"):
        load_model(bare, vocab=gaps)
    dupes = write_vocab(tmp_path / "dupes.json", ["a", "b", "a"])
    with pytest.raises(VocabError, match=r"it lists 'a' more than once"):
        load_model(bare, vocab=dupes)
    words = write_vocab(tmp_path / "words.json", ["the", "of", "and"])
    with pytest.raises(VocabError, match=r"multi-character tokens \('the', 'of', 'and'\)"):
        load_model(bare, vocab=words)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café".encode("latin-1"))
    with pytest.raises(TextError, match="not UTF-8"):
        load_model(bare, vocab=latin1)


def test_special_tokens_are_kept(tmp_path):
    net = make(vocab=V + 1)
    path = tmp_path / "w.pt"
    torch.save({"state_dict": net.state_dict(), "itos": ["<pad>", *CHARS]}, path)
    assert load_model(path).vocab.symbols[:2] == ("<pad>", "\n")


# --- byte-level vocabularies -------------------------------------------------------------------

BYTES = [chr(b) for b in range(256)]


@pytest.mark.parametrize(("meta", "byte_level"), [
    ({"itos": list(range(256))}, True),  # byte values
    ({"vocab": bytes(range(256))}, True),
    ({"chars": BYTES}, True),  # exactly chr(0) … chr(255): byte-level by the rule
    ({"chars": BYTES, "byte_level": False}, False),  # unless a flag says otherwise
    ({"config": {"byte_level": True}}, True),  # a flag alone stands for all 256 bytes
    ({"chars": [chr(0x100 + i) for i in range(256)]}, False),  # 256 symbols that are not bytes
])
def test_byte_level_rule(tmp_path, meta, byte_level):
    net = make(vocab=256, embed=4, hidden=4, layers=1)
    path = tmp_path / "bytes.pt"
    torch.save({"state_dict": net.state_dict(), **meta}, path)
    loaded = load_model(path)
    assert loaded.vocab.byte_level is byte_level
    assert len(loaded.vocab) == 256
    if byte_level:
        assert loaded.vocab.encode("é").tolist() == [0xC3, 0xA9]
    assert_same(net, loaded, vocab=256)


def test_byte_flag_file_and_hint(tmp_path):
    net = make(vocab=256, embed=4, hidden=4, layers=1)
    path = tmp_path / "enwik8.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(VocabError, match=r'pass a JSON file \{"byte_level": true\}\)$'):
        load_model(path)
    flag = write_vocab(tmp_path / "bytes.json", {"byte_level": True})
    loaded = load_model(path, vocab=flag)
    assert loaded.vocab.byte_level and loaded.vocab.symbols == tuple(BYTES)


def test_byte_subset_from_bytes_entries(tmp_path):
    used = sorted(set("hello wörld".encode()))
    net = make(vocab=len(used), embed=4, hidden=4, layers=1)
    path = tmp_path / "sub.pt"
    torch.save({"state_dict": net.state_dict(), "itos": [bytes([b]) for b in used]}, path)
    vocab = load_model(path).vocab
    assert vocab.byte_level and vocab.decode(vocab.encode("wörld")) == "wörld"


# --- bad input ---------------------------------------------------------------------------------


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope.pt: no such file; check the path$"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match=r": is a folder; give the checkpoint file inside it$"):
        load_model(tmp_path)


@pytest.mark.parametrize(("content", "why"), [
    (bytes(range(256)) * 4, "not written by torch.save"),
    (b"", "the file is empty"),
    (b"First Citizen:\nBefore we proceed any further, hear me speak.\n", "it is a text file"),
    ("zip", "a zip archive torch.save did not write, or a damaged or truncated one"),
    ("truncated", "a zip archive torch.save did not write, or a damaged or truncated one"),
], ids=["random", "empty", "text", "zip", "truncated"])
def test_not_a_torch_file(tmp_path, content, why):
    path = tmp_path / "model.pt"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "not a model")
    elif content == "truncated":
        torch.save(make().state_dict(), path)
        path.write_bytes(path.read_bytes()[:3000])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (f"{path}: not a PyTorch checkpoint ({why}); give a .pt/.pth file "
                            "written by torch.save, or a .safetensors file")


def test_damaged_safetensors(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match=r"w.safetensors: not a valid safetensors file \("):
        load_model(path)


def test_cnn_state_dict_is_not_a_char_lstm(tmp_path):
    cnn = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 10))
    path = tmp_path / "cnn.pt"
    torch.save(cnn.state_dict(), path)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: not a char-LSTM: no nn.LSTM among its 4 tensors (e.g. 0.weight (8×3×3×3), "
        "0.bias (8), 3.weight (10×8), 3.bias (10)); lstmviz needs weights with "
        "weight_ih_l0/weight_hh_l0 from an nn.LSTM"
    )


@pytest.mark.parametrize(("obj", "what"), [
    ({"name": "x", "lr": "0.1"}, "a dict with keys 'name', 'lr'"),
    ({}, "an empty dict"),
    (torch.zeros(3, 4), "a single tensor of shape (3, 4)"),
    (["a", "b"], "a list of 2 items"),
])
def test_objects_without_weights(tmp_path, obj, what):
    path = tmp_path / "x.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: not a char-LSTM checkpoint: it holds {what} and no model weights; expected a "
        "state dict, or a dict holding one under a key like 'state_dict' or 'model'"
    )


def recurrent_state_dict(rnn):
    torch.manual_seed(0)
    head = nn.Linear(rnn.hidden_size * (2 if getattr(rnn, "bidirectional", False) else 1), V)
    return nn.ModuleDict({"emb": nn.Embedding(V, 6), "rnn": rnn, "fc": head}).state_dict()


@pytest.mark.parametrize(("rnn", "found"), [
    (nn.GRU(6, 8, 2), "a GRU"),
    (nn.RNN(6, 8), "an RNN"),
    (nn.LSTM(6, 8, bidirectional=True), "a bidirectional LSTM"),
    (nn.LSTM(6, 8, proj_size=4), "an LSTM with proj_size=4"),
    (nn.GRU(6, 8, bidirectional=True), "a bidirectional GRU"),
    (nn.GRUCell(6, 8), "a GRUCell"),  # LSTMCell models load: tests/test_loading_stacks.py
])
def test_unsupported_recurrent_modules(tmp_path, rnn, found):
    path = tmp_path / "rnn.pt"
    torch.save(recurrent_state_dict(rnn), path)
    with pytest.raises(UnsupportedModelError) as e:
        load_model(path)
    assert str(e.value) == (f"{path}: found {found} at 'rnn'; lstmviz handles only "
                            "unidirectional nn.LSTM layers without proj_size")


def test_extra_layers_are_refused(tmp_path):
    net = nn.ModuleDict({"emb": nn.Embedding(V, 6), "rnn": nn.LSTM(6, 8), "norm": nn.LayerNorm(8),
                         "fc": nn.Linear(8, V)})
    path = tmp_path / "ln.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(UnsupportedModelError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: has parameters outside embedding → LSTM → decoder: norm.bias (8), "
        "norm.weight (8); lstmviz handles models made of only these parts (dropout anywhere is fine)"
    )


def test_an_lstm_and_a_gru_are_refused(tmp_path):
    net = nn.ModuleDict({"a": nn.LSTM(V, 8), "b": nn.GRU(8, 8), "fc": nn.Linear(8, V)})
    path = tmp_path / "two.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(UnsupportedModelError, match=r"found 2 recurrent modules \(an LSTM at 'a', "):
        load_model(path)


def test_lstm_without_decoder(tmp_path):
    path = tmp_path / "lstm.pt"
    torch.save(nn.LSTM(6, 8).state_dict(), path)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: found an LSTM at the top level (input size 6, hidden size 8) but no decoder of "
        "shape (vocabulary, 8) with an embedding of shape (vocabulary, 6) or one-hot input of "
        "width 6; other tensors: none"
    )


def test_embedding_rows_must_match_decoder(tmp_path):
    net = nn.ModuleDict({"emb": nn.Embedding(V + 2, 6), "rnn": nn.LSTM(6, 8), "fc": nn.Linear(8, V)})
    path = tmp_path / "pad.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"other tensors: emb.weight \(35×6\), fc.bias"):
        load_model(path)


def test_damaged_lstm_shapes(tmp_path):
    sd = make().state_dict()
    sd["rnn.weight_hh_l1"] = sd["rnn.weight_hh_l1"][:, :5]
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"the LSTM at 'rnn' is inconsistent: weight_hh_l1 is "
                                              r"64×5, expected 64×16; the checkpoint may be damaged"):
        load_model(path)


def test_a_torch_file_named_safetensors_is_read_as_what_it_is(tmp_path):
    # Its contents decide, not its suffix (which would give "header too large").
    net = make()
    path = tmp_path / "weights.safetensors"
    torch.save({"state_dict": net.state_dict(), "chars": CHARS}, path)
    loaded = load_model(path)
    assert loaded.layout == "wrapped-state-dict"
    assert_same(net, loaded)
