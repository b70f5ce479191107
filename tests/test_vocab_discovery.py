"""Vocabularies found where trainers keep them: in the checkpoint, in any JSON file beside it, in
nanoGPT's meta.pkl; in every form they are saved in; and one clear line when they cannot be used."""

import json
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from torch import nn

from lstmviz.cli import cli
from lstmviz.errors import VocabError
from lstmviz.extraction.extract import Options, extract_file
from lstmviz.model.loading import load_model
from lstmviz.model.vocab import visible
from lstmviz.store.reader import open_states

CHARS = "\n !',.?abcdefghijklmnopqrstuvwxyz"
V = len(CHARS)


def char_net(vocab=V, hidden=8):
    torch.manual_seed(0)
    return nn.ModuleDict({"embedding": nn.Embedding(vocab, 6), "rnn": nn.LSTM(6, hidden, batch_first=True),
                          "fc": nn.Linear(hidden, vocab)})


@pytest.fixture
def weights(tmp_path):
    """A bare safetensors model with no vocabulary of its own, in a folder of its own."""
    path = tmp_path / "model.safetensors"
    save_file(char_net().state_dict(), path)
    return path


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def inspect(*args):
    return CliRunner().invoke(cli, ["inspect", *map(str, args)])


# --- every name and form -----------------------------------------------------------------------

STRING, CHAR_LIST, BYTE_VALUES, STOI, ITOS = "string", "list", "byte values", "stoi", "itos"


def form(shape):
    return {
        STRING: CHARS,
        CHAR_LIST: list(CHARS),
        BYTE_VALUES: list(CHARS.encode()),
        STOI: {c: i for i, c in enumerate(CHARS)},
        ITOS: {str(i): c for i, c in enumerate(CHARS)},  # JSON keys are strings
        "id to byte": {str(i): b for i, b in enumerate(CHARS.encode())},
        "byte to id": {str(b): i for i, b in enumerate(CHARS.encode())},
    }[shape]


TABLE = [(name, shape) for name in ("vocab", "chars", "characters", "alphabet", "tokens")
         for shape in (STRING, CHAR_LIST, BYTE_VALUES, STOI, ITOS)]
TABLE += [(name, STOI) for name in ("stoi", "char_to_ix", "char2idx", "char2int", "char_to_id",
                                    "token_to_idx")]
TABLE += [(name, shape) for name in ("itos", "ix_to_char", "idx2char", "int2char", "id_to_char",
                                     "idx_to_token") for shape in (ITOS, CHAR_LIST)]
TABLE += [("id_to_byte", "id to byte"), ("id_to_byte", BYTE_VALUES), ("byte_to_id", "byte to id")]


@pytest.mark.parametrize("place", ["meta.json", "config.json, 3 deep", "checkpoint"])
@pytest.mark.parametrize(("name", "shape"), TABLE)
def test_every_name_and_form(tmp_path, weights, place, name, shape):
    value = form(shape)
    path = weights
    if place == "meta.json":
        write_json(tmp_path / "meta.json", {"epochs": 20, name: value})
        source = f"file {tmp_path / 'meta.json'} key '{name}'"
    elif place == "config.json, 3 deep":
        write_json(tmp_path / "config.json", {"run": {"data": {"tokenizer": {name: value}}}})
        source = f"file {tmp_path / 'config.json'} key 'run.data.tokenizer.{name}'"
    else:
        path = tmp_path / "ckpt.pt"
        torch.save({"state_dict": char_net().state_dict(), name: value}, path)
        source = f"checkpoint key '{name}'"
    loaded = load_model(path)
    assert loaded.vocab.symbols == tuple(CHARS)
    assert loaded.vocab.byte_level is (shape in (BYTE_VALUES, "id to byte", "byte to id"))
    assert loaded.vocab_source == source


def test_a_json_file_that_is_the_vocabulary_whatever_its_name(tmp_path, weights):
    write_json(tmp_path / "charset.json", {str(i): c for i, c in enumerate(CHARS)})
    assert load_model(weights).vocab_source == f"file {tmp_path / 'charset.json'}"


def test_a_tokenizer_json_with_special_tokens(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(char_net(vocab=V + 2).state_dict(), path)
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(CHARS)}}
    write_json(tmp_path / "tokenizer.json", {"version": "1.0",
                                             "model": {"type": "WordLevel", "vocab": vocab}})
    loaded = load_model(path)
    assert loaded.vocab.symbols == ("<pad>", "<unk>", *CHARS)
    assert loaded.vocab_source == f"file {tmp_path / 'tokenizer.json'} key 'model.vocab'"


# --- byte values in meta.json: a byte-level model reads UTF-8 ----------------------------------

TEXT = "naïve café — “quoted” text, déjà vu.\n" * 8


def test_meta_json_with_byte_values_round_trips_utf8_through_extraction(tmp_path):
    used = sorted(set(TEXT.encode("utf-8")))
    torch.manual_seed(1)
    net = nn.ModuleDict({"encoder": nn.Embedding(len(used), 8), "rnn": nn.LSTM(8, 12, 2),
                         "decoder": nn.Linear(12, len(used))})
    weights = tmp_path / "model.safetensors"
    save_file(net.state_dict(), weights)
    write_json(tmp_path / "meta.json", {"dataset": "cafe.txt", "epochs": 5, "seq_length": 100,
                                        "vocab_size": len(used), "vocab": used})
    text = tmp_path / "cafe.txt"
    text.write_bytes(TEXT.encode("utf-8"))
    loaded = load_model(weights)
    assert loaded.vocab.byte_level
    out = extract_file(weights, text, tmp_path / "cafe.h5", Options(dtype="float32"))
    with open_states(out) as s:
        assert s.text() == TEXT
        ids = s.tokens(0, s.n_tokens)
    assert bytes(np.array(used)[ids].astype(np.uint8)).decode("utf-8") == TEXT

    result = inspect(weights)
    assert result.exit_code == 0, result.output
    shown = "".join(visible(chr(b)) for b in used[:40]) + ("…" if len(used) > 40 else "")
    assert result.output.splitlines()[1:7] == [
        "layout:      safetensors",
        "parts:       embedding 'encoder' → LSTM 'rnn' → decoder 'decoder'",
        "layers:      2",
        "hidden size: 12",
        "input:       embedding, 8 wide",
        f"vocabulary:  {len(used)} bytes: {shown} (from file {tmp_path / 'meta.json'} key 'vocab')",
    ]


# --- nanoGPT's meta.pkl ------------------------------------------------------------------------


def nanogpt_meta(path):
    meta = {"vocab_size": V, "itos": dict(enumerate(CHARS)), "stoi": {c: i for i, c in enumerate(CHARS)}}
    path.write_bytes(pickle.dumps(meta))
    return path


def test_meta_pkl_beside_a_wrapped_checkpoint(tmp_path):
    net = char_net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "iter_num": 2000,
                "best_val_loss": 1.47, "config": {"dataset": "shakespeare_char"}}, path)
    nanogpt_meta(tmp_path / "meta.pkl")
    loaded = load_model(path)
    assert loaded.vocab.symbols == tuple(CHARS)
    result = inspect(path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[6:] == [
        f"vocabulary:  33 symbols: ↵␣!',.?abcdefghijklmnopqrstuvwxyz (from file {tmp_path / 'meta.pkl'} "
        "key 'itos')",
        f"parameters:  {sum(p.numel() for p in net.parameters()):,}",
        "training:    iter_num=2000, best_val_loss=1.47, config.dataset=shakespeare_char",
        "ignored:     optimizer state 'optimizer'",
    ]


class Evil:
    """Unpickling this writes a file: what a hostile meta.pkl would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return exec, (f"open({self.target!r}, 'w').write('pwned')",)


def test_a_meta_pkl_that_would_run_code_is_refused_unrun(tmp_path, weights):
    target = tmp_path / "pwned.txt"
    meta = tmp_path / "meta.pkl"
    meta.write_bytes(pickle.dumps({"vocab_size": V, "itos": Evil(target)}))
    with pytest.raises(VocabError) as e:
        load_model(weights)
    assert not target.exists()
    assert str(e.value) == (
        f"{meta}: refused to unpickle it: it asks for builtins.exec, which could run code, and only "
        "plain data (dicts, lists, strings, numbers) is read from a pickle; nothing in it was run; "
        "pass the vocabulary with --vocab FILE"
    )
    with pytest.raises(VocabError, match=r"refused to unpickle it: it asks for builtins.exec"):
        load_model(weights, vocab=meta)
    assert not target.exists()


def test_a_refused_meta_pkl_is_a_note_when_the_vocabulary_is_elsewhere(tmp_path, weights):
    target = tmp_path / "pwned.txt"
    meta = tmp_path / "meta.pkl"
    meta.write_bytes(pickle.dumps(Evil(target)))
    write_json(tmp_path / "vocab.json", list(CHARS))
    result = inspect(weights)
    assert result.exit_code == 0, result.output
    assert not target.exists()
    assert result.output.splitlines()[-1] == (
        f"note:        {meta}: refused to unpickle it: it asks for builtins.exec, which could run "
        "code, and only plain data (dicts, lists, strings, numbers) is read from a pickle; nothing "
        "in it was run; skipped it"
    )


def test_meta_pkl_given_with_vocab(tmp_path, weights):
    meta = nanogpt_meta(tmp_path / "elsewhere.pkl")
    loaded = load_model(weights, vocab=meta)
    assert loaded.vocab.symbols == tuple(CHARS)
    assert loaded.vocab_source == f"file {meta} key 'itos'"


# --- which one wins ----------------------------------------------------------------------------


def test_a_name_that_says_vocabulary_wins_over_tokens(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net().state_dict(), "tokens": list(CHARS)}, path)
    write_json(tmp_path / "vocab.json", list(CHARS))
    assert load_model(path).vocab_source == f"file {tmp_path / 'vocab.json'}"


def test_the_checkpoint_wins_over_files_beside_it(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net().state_dict(), "chars": CHARS}, path)
    write_json(tmp_path / "config.json", {"vocab": list(CHARS)})
    assert load_model(path).vocab_source == "checkpoint key 'chars'"


def test_files_named_for_the_weights_win_over_other_files(tmp_path, weights):
    write_json(tmp_path / "a_config.json", {"vocab": list(CHARS)})
    write_json(tmp_path / "model.json", {"char_to_ix": {c: i for i, c in enumerate(CHARS)}})
    assert load_model(weights).vocab_source == f"file {tmp_path / 'model.json'} key 'char_to_ix'"


def test_a_whole_file_named_vocab_wins_over_a_list_in_any_file(tmp_path, weights):
    write_json(tmp_path / "a.json", list(CHARS))
    write_json(tmp_path / "my.vocab.json", list(CHARS))
    assert load_model(weights).vocab_source == f"file {tmp_path / 'my.vocab.json'}"


def test_bytes_and_characters_agree_on_ascii(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net().state_dict(), "chars": CHARS}, path)
    write_json(tmp_path / "meta.json", {"vocab": list(CHARS.encode())})
    loaded = load_model(path)  # no conflict: ASCII text encodes the same either way
    assert loaded.vocab_source == "checkpoint key 'chars'"
    assert not loaded.vocab.byte_level


def test_another_checkpoints_json_is_left_out(tmp_path):
    path = tmp_path / "shakespeare.pt"
    torch.save({"state_dict": char_net().state_dict(), "chars": CHARS}, path)
    torch.save(char_net().state_dict(), tmp_path / "austen.pt")
    write_json(tmp_path / "austen.json", {"vocab": CHARS[::-1]})  # same size, other order
    assert load_model(path).vocab_source == "checkpoint key 'chars'"
    assert load_model(tmp_path / "austen.pt").vocab.symbols == tuple(CHARS[::-1])


# --- bad input ---------------------------------------------------------------------------------


def test_a_json_vocabulary_of_the_wrong_size(tmp_path, weights):
    write_json(tmp_path / "meta.json", {"vocab": list("abc"), "vocab_size": 3})
    with pytest.raises(VocabError) as e:
        load_model(weights)
    assert str(e.value) == (
        f"the vocabulary (file {tmp_path / 'meta.json'} key 'vocab') has 3 symbols but the model's "
        "decoder has 33 outputs; pass the vocabulary it was trained with: --vocab FILE"
    )


def test_two_vocabularies_that_disagree(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net().state_dict(), "chars": CHARS}, path)
    swapped = CHARS.replace("a", "#").replace("b", "a").replace("#", "b")
    write_json(tmp_path / "meta.json", {"itos": list(swapped)})
    result = inspect(path)
    assert result.exit_code == 1
    assert result.output == (
        "Error: two vocabularies of 33 symbols disagree (id 7 is 'a' in one and 'b' in the other): "
        f"checkpoint key 'chars' and file {tmp_path / 'meta.json'} key 'itos'; pass the one the "
        "model was trained with: --vocab FILE\n"
    )
    assert inspect(path, "--vocab", tmp_path / "meta.json").exit_code == 0


def test_bytes_and_characters_disagree_beyond_ascii(tmp_path):
    chars = "abcé"
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": char_net(vocab=4).state_dict(), "chars": chars}, path)
    write_json(tmp_path / "meta.json", {"vocab": [ord(c) for c in chars]})  # 0xE9: a byte
    with pytest.raises(VocabError, match=r"disagree \(one reads text as UTF-8 bytes and the other as "
                                         r"characters\): checkpoint key 'chars' and file .*meta.json"):
        load_model(path)


def test_malformed_json_is_the_error_when_nothing_else_has_a_vocabulary(tmp_path, weights):
    (tmp_path / "meta.json").write_text('{"vocab": ["a", "b",]}')
    with pytest.raises(VocabError) as e:
        load_model(weights)
    assert str(e.value) == (
        f"{tmp_path / 'meta.json'}: not valid JSON (Expecting value at line 1, column 21); pass the "
        "vocabulary with --vocab FILE"
    )


def test_malformed_json_is_a_note_when_another_file_has_the_vocabulary(tmp_path, weights):
    (tmp_path / "meta.json").write_text('{"vocab": ["a", "b",]}')
    write_json(tmp_path / "vocab.json", list(CHARS))
    result = inspect(weights)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[6:] == [
        f"vocabulary:  33 symbols: ↵␣!',.?abcdefghijklmnopqrstuvwxyz (from file {tmp_path / 'vocab.json'})",
        f"parameters:  {sum(p.numel() for p in char_net().parameters()):,}",
        f"note:        {tmp_path / 'meta.json'}: not valid JSON (Expecting value at line 1, column 21); "
        "skipped it",
    ]


def test_no_vocabulary_names_the_files_it_read(tmp_path, weights):
    write_json(tmp_path / "config.json", {"hidden": 8, "layers": 1})
    write_json(tmp_path / "train_log.json", [2.3, 2.0, 1.8])
    torch.save(char_net().state_dict(), tmp_path / "other.pt")
    write_json(tmp_path / "other.json", {"vocab": list(CHARS)})
    with pytest.raises(VocabError) as e:
        load_model(weights)
    assert str(e.value) == (
        f"{weights}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, "
        "stoi) nor do the files beside it (config.json, train_log.json), except another model's: "
        "other.json (other.pt's); pass one with --vocab FILE: a JSON list of the 33 symbols in id "
        "order, or the training text"
    )
