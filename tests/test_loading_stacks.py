"""LSTMCell models and stacks of one-layer nn.LSTMs, loaded from real files in every layout.

The ground truth is the original module stepped by hand one character at a time: its own
nn.LSTMCell or nn.LSTM objects, layer k fed layer k-1's h. Every h and c an extraction stores must
equal it to fp32 noise, and the stored top-5 must be its decoder's top-5.
"""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from torch import nn

from lstmviz.cli import cli
from lstmviz.errors import CheckpointError, UnsupportedModelError
from lstmviz.extraction.extract import Options, extract
from lstmviz.model.loading import load_model
from lstmviz.store.reader import open_states

CHARS = "\n !',.?abcdefghijklmnopqrstuvwxyz"
V = len(CHARS)
TOL = 1e-5  # fp32 noise only
TEXT = ("the quick brown fox jumps over the lazy dog, doesn't it?\n" * 3)[:150]


class CellRNN(nn.Module):
    """char-rnn as its PyTorch reproductions write it: nn.LSTMCell layers stepped in a loop."""

    def __init__(self, *, embed=10, hidden=16, layers=2, named=False, biases=None):
        super().__init__()
        self.embedding = nn.Embedding(V, embed) if embed else None
        biases = biases or [True] * layers
        widths = [embed or V] + [hidden] * layers
        cells = [nn.LSTMCell(widths[k], hidden, bias=biases[k]) for k in range(layers)]
        self.names = [f"cell{k + 1}" for k in range(layers)] if named else None
        if named:
            for name, cell in zip(self.names, cells, strict=True):
                setattr(self, name, cell)
        else:
            self.cells = nn.ModuleList(cells)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(hidden, V)

    def layers(self):
        return list(self.cells) if self.names is None else [getattr(self, n) for n in self.names]


class LSTMStack(nn.Module):
    """Separate one-layer nn.LSTMs called one after the other, in the order of ``names``."""

    def __init__(self, *, embed=10, hidden=16, names=("lstm1", "lstm2"), as_list=False, sizes=None):
        super().__init__()
        self.embedding = nn.Embedding(V, embed) if embed else None
        sizes = sizes or [hidden] * len(names)
        widths = [embed or V, *sizes]
        lstms = [nn.LSTM(widths[k], sizes[k], batch_first=True) for k in range(len(names))]
        self.names = None if as_list else list(names)
        if as_list:
            self.lstms = nn.ModuleList(lstms)
        else:
            for name, lstm in zip(names, lstms, strict=True):
                setattr(self, name, lstm)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(sizes[-1], V)

    def layers(self):
        return list(self.lstms) if self.names is None else [getattr(self, n) for n in self.names]

    @property
    def fc(self):
        return self.head


@torch.no_grad()
def by_hand(model, tokens):
    """Every layer's h and c after each character, and the decoder's logits, from the model's own
    modules stepped one character at a time: {layer: (h (T, H), c (T, H))}, logits (T, V)."""
    ids = torch.as_tensor(tokens, dtype=torch.long)
    x = model.embedding(ids) if model.embedding is not None else nn.functional.one_hot(ids, V).float()
    layers = model.layers()
    state = [None] * len(layers)
    hs = [[] for _ in layers]
    cs = [[] for _ in layers]
    logits = []
    for t in range(len(ids)):
        inp = x[t : t + 1]  # (1, E)
        for k, module in enumerate(layers):
            if isinstance(module, nn.LSTMCell):
                h, c = module(inp, state[k])  # (1, H) each
                state[k] = (h, c)
            else:
                _, state[k] = module(inp[None], state[k])  # (1, 1, E) -> h, c (1, 1, H)
                h, c = state[k][0][0], state[k][1][0]
            hs[k].append(h[0])
            cs[k].append(c[0])
            inp = h
        logits.append(model.fc(inp)[0])
    per_layer = {k: (torch.stack(hs[k]).numpy(), torch.stack(cs[k]).numpy()) for k in range(len(layers))}
    return per_layer, torch.stack(logits)


def build(case):
    torch.manual_seed(0)
    model = {
        "cells in a ModuleList": lambda: CellRNN(),
        "named cells, one-hot": lambda: CellRNN(embed=0, named=True),
        "one cell": lambda: CellRNN(layers=1),
        "cells, first without bias": lambda: CellRNN(layers=3, biases=[False, True, True]),
        "11 cells as wide as the embedding": lambda: CellRNN(embed=4, hidden=4, layers=11),
        "named LSTMs": lambda: LSTMStack(),
        "LSTMs in a ModuleList": lambda: LSTMStack(names=("a", "b", "c"), as_list=True),
        "LSTMs whose names sort against the chain": lambda: LSTMStack(names=("z_first", "a_second")),
    }[case]()
    with torch.no_grad():  # saturating weights, like a trained model's
        for layer in model.layers():
            for p in layer.parameters():
                p.mul_(3.0)
    return model.eval()


CASES = ["cells in a ModuleList", "named cells, one-hot", "one cell", "cells, first without bias",
         "11 cells as wide as the embedding", "named LSTMs", "LSTMs in a ModuleList",
         "LSTMs whose names sort against the chain"]
LAYOUTS = ["state-dict", "safetensors", "wrapped-state-dict", "pickled-model"]


def write(model, layout, folder):
    """The model saved as a trainer would in ``layout``; returns the path load_model is given."""
    if layout == "state-dict":
        path = folder / "model.pt"
        torch.save(model.state_dict(), path)
        (folder / "vocab.json").write_text(json.dumps(list(CHARS)))
    elif layout == "safetensors":
        path = folder / "model.safetensors"
        save_file(model.state_dict(), path, metadata={"chars": CHARS})
    elif layout == "wrapped-state-dict":
        path = folder / "ckpt.pt"
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": opt.state_dict(), "char_to_ix": {c: i for i, c in
                                                                             enumerate(CHARS)}}, path)
    else:
        path = folder / "whole.pt"
        model.chars = CHARS
        torch.save(model, path)
    return path


def differences(model, loaded, tmp_path):
    """Max |difference| of every stored h and c from the model stepped by hand, and whether the
    stored top-5 equals the decoder's."""
    tokens = np.array([CHARS.index(ch) for ch in TEXT])
    ref, logits = by_hand(model, tokens)
    out = extract(loaded, tokens, tmp_path / "states.h5", Options(dtype="float32"))
    worst = 0.0
    with open_states(out) as s:
        assert s.names == [f"layer{k}.{kind}" for k in range(len(ref)) for kind in ("h", "c")]
        for k, (h, c) in ref.items():
            worst = max(worst, float(np.abs(s.window(f"layer{k}.h", 0, len(tokens)) - h).max()),
                        float(np.abs(s.window(f"layer{k}.c", 0, len(tokens)) - c).max()))
        top = s.predictions(0, len(tokens)).top_ids
    return worst, np.array_equal(top, torch.topk(logits, 5, dim=-1).indices.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_every_h_and_c_equals_the_original_stepped_by_hand(tmp_path, case, layout):
    model = build(case)
    path = write(model, layout, tmp_path)
    loaded = load_model(path, trust_pickle=layout == "pickled-model")
    assert loaded.layout == layout
    assert loaded.model.config.n_layer == len(model.layers())
    assert loaded.vocab.symbols == tuple(CHARS)
    worst, same_top5 = differences(model, loaded, tmp_path)
    assert worst < TOL
    assert same_top5


@pytest.mark.parametrize(("case", "parts", "stack"), [
    ("cells in a ModuleList", {"embedding": "embedding", "layer0": "cells.0", "layer1": "cells.1",
                               "decoder": "fc"}, "2 LSTMCell layers"),
    ("named cells, one-hot", {"layer0": "cell1", "layer1": "cell2", "decoder": "fc"},
     "2 LSTMCell layers"),
    ("one cell", {"embedding": "embedding", "layer0": "cells.0", "decoder": "fc"}, "1 LSTMCell layer"),
    ("named LSTMs", {"embedding": "embedding", "layer0": "lstm1", "layer1": "lstm2", "decoder": "head"},
     "2 one-layer nn.LSTM modules"),
    ("LSTMs whose names sort against the chain", {"embedding": "embedding", "layer0": "z_first",
                                                  "layer1": "a_second", "decoder": "head"},
     "2 one-layer nn.LSTM modules"),
])
def test_parts_are_named_in_layer_order(tmp_path, case, parts, stack):
    path = write(build(case), "state-dict", tmp_path)
    loaded = load_model(path)
    assert loaded.parts == parts
    assert loaded.stack == stack


def test_eleven_cells_run_in_index_order(tmp_path):
    # Shapes cannot tell these apart (all 4 wide), so indices decide, read as numbers.
    loaded = load_model(write(build("11 cells as wide as the embedding"), "state-dict", tmp_path))
    assert [loaded.parts[f"layer{k}"] for k in range(11)] == [f"cells.{k}" for k in range(11)]


def test_a_cell_and_a_one_layer_lstm_in_one_stack(tmp_path):
    torch.manual_seed(0)
    net = nn.ModuleDict({"emb": nn.Embedding(V, 6), "lstm": nn.LSTM(6, 8), "cell": nn.LSTMCell(8, 8),
                         "fc": nn.Linear(8, V)})
    torch.save(net.state_dict(), tmp_path / "mixed.pt")
    (tmp_path / "mixed.json").write_text(json.dumps({"vocab": list(CHARS)}))
    loaded = load_model(tmp_path / "mixed.pt")
    assert loaded.stack == "2 layers: 1 one-layer nn.LSTM and 1 LSTMCell"
    assert loaded.parts == {"embedding": "emb", "layer0": "lstm", "layer1": "cell", "decoder": "fc"}


# --- refusals ----------------------------------------------------------------------------------


def save(tmp_path, modules):
    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    torch.save(nn.ModuleDict(modules).state_dict(), path)
    return path


def test_layers_of_different_hidden_sizes_are_not_supported(tmp_path):
    path = save(tmp_path, {"emb": nn.Embedding(V, 6), "lstm1": nn.LSTM(6, 16), "lstm2": nn.LSTM(16, 8),
                           "fc": nn.Linear(8, V)})
    with pytest.raises(UnsupportedModelError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: the LSTM layers have different hidden sizes ('lstm1' 16, 'lstm2' 8); lstmviz "
        "handles stacks whose layers share one hidden size, as one nn.LSTM does"
    )


def test_lstms_side_by_side_are_not_a_stack(tmp_path):
    path = save(tmp_path, {"emb": nn.Embedding(V, 6), "left": nn.LSTM(6, 8), "right": nn.LSTM(6, 8),
                           "fc": nn.Linear(8, V)})
    with pytest.raises(UnsupportedModelError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: found 2 recurrent modules (an LSTM at 'left', an LSTM at 'right') that do not "
        "form one stack: only the first layer may take inputs other than 8 wide (the hidden size), "
        "but 'left' 6 and 'right' 6 wide do; lstmviz handles one nn.LSTM, or a stack of "
        "nn.LSTMCell or one-layer nn.LSTM modules"
    )


@pytest.mark.parametrize(("modules", "listed"), [
    ({"a": nn.LSTM(6, 8, 2), "b": nn.LSTM(8, 8)}, "an LSTM of 2 layers at 'a', an LSTM at 'b'"),
    ({"a": nn.LSTMCell(6, 8), "b": nn.GRUCell(8, 8)}, "an LSTMCell at 'a', a GRUCell at 'b'"),
])
def test_stacks_of_other_modules_are_named(tmp_path, modules, listed):
    path = save(tmp_path, {"emb": nn.Embedding(V, 6), **modules, "fc": nn.Linear(8, V)})
    with pytest.raises(UnsupportedModelError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: found 2 recurrent modules ({listed}); lstmviz handles one nn.LSTM, or a stack "
        "of nn.LSTMCell or one-layer nn.LSTM modules"
    )


def test_a_single_gru_cell_is_named(tmp_path):
    path = save(tmp_path, {"emb": nn.Embedding(V, 6), "rnn": nn.GRUCell(6, 8), "fc": nn.Linear(8, V)})
    with pytest.raises(UnsupportedModelError, match=r"found a GRUCell at 'rnn'; lstmviz handles only"):
        load_model(path)


def test_a_damaged_cell_is_named(tmp_path):
    sd = CellRNN().state_dict()
    sd["cells.1.bias_hh"] = sd["cells.1.bias_hh"][:63]
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (f"{path}: the LSTMCell at 'cells.1' is inconsistent: bias_hh is 63, "
                            "expected 64; the checkpoint may be damaged")


def test_cells_without_a_decoder(tmp_path):
    path = save(tmp_path, {"c0": nn.LSTMCell(6, 8), "c1": nn.LSTMCell(8, 8)})
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert str(e.value) == (
        f"{path}: found 2 LSTMCell layers at 'c0', 'c1' (input size 6, hidden size 8) but no decoder "
        "of shape (vocabulary, 8) with an embedding of shape (vocabulary, 6) or one-hot input of "
        "width 6; other tensors: none"
    )


# --- inspect -----------------------------------------------------------------------------------


def test_inspect_char_rnn_cells(tmp_path):
    model = build("cells in a ModuleList")
    path = write(model, "wrapped-state-dict", tmp_path)
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:7] == [
        "layout:      wrapped-state-dict (2 LSTMCell layers)",
        "parts:       embedding 'model_state_dict.embedding' → layer 0 'model_state_dict.cells.0' → "
        "layer 1 'model_state_dict.cells.1' → decoder 'model_state_dict.fc'",
        "layers:      2",
        "hidden size: 16",
        "input:       embedding, 10 wide",
        "vocabulary:  33 symbols: ↵␣!',.?abcdefghijklmnopqrstuvwxyz (from checkpoint key 'char_to_ix')",
    ]
    assert result.output.splitlines()[-2:] == ["training:    epoch=3",
                                               "ignored:     optimizer state 'optimizer_state_dict'"]


def test_inspect_stack_of_lstms(tmp_path):
    path = write(build("LSTMs whose names sort against the chain"), "safetensors", tmp_path)
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:3] == [
        "layout:      safetensors (2 one-layer nn.LSTM modules)",
        "parts:       embedding 'embedding' → layer 0 'z_first' → layer 1 'a_second' → decoder 'head'",
    ]
