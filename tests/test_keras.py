"""Keras models written by Keras itself (torch backend), read and extracted by lstmviz without Keras.

Every layout is checked against Keras's own layers: each LSTM stepped one character at a time
(``return_state=True``, each step's states fed back), every stored h and c within 1e-5, and the
top-5 predictions equal to those of Keras's own Dense output.
"""

import json
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from lstmviz.cli import cli
from lstmviz.errors import UnsupportedModelError
from lstmviz.extraction.extract import Options, extract_file
from lstmviz.model.loading import load_model
from lstmviz.store.reader import open_states

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported: else it looks for TensorFlow
keras = pytest.importorskip("keras")
layers = keras.layers
# Keras's torch backend calls np.array(tensor) in a way NumPy 2 deprecates, thousands of times
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TEXT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.\nHowever little known the feelings or views of such a man may be "
    "on his first entering a neighbourhood, this truth is so well fixed in the minds of the "
    "surrounding families, that he is considered the rightful property of some one or other of "
    "their daughters.\n"
)
CHARS = sorted(set(TEXT))  # as Keras's lstm_text_generation builds its vocabulary
V = len(CHARS)
TOL = 1e-5


def randomize(model, seed):
    """Seeded weights large enough that gates and cells move away from zero."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        new = []
        for w in weights:
            scale = 1.5 / np.sqrt(w.shape[0]) if w.ndim == 2 else 0.5
            new.append(w + rng.normal(0, scale, w.shape).astype(np.float32))  # keeps the forget bias
        layer.set_weights(new)
    return model


def embedding_lstm():
    """Embedding + one LSTM, softmax Dense: the usual Sequential char-RNN."""
    keras.utils.set_random_seed(1)  # Keras's initial weights, seeded too
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        layers.Embedding(V, 8, name="embedding"),
        layers.LSTM(24, return_sequences=True, name="lstm"),
        layers.Dense(V, activation="softmax", name="dense"),
    ])
    return randomize(model, 1)


def one_hot_windows():
    """The tutorial's shape: one-hot windows of 40, two LSTMs (the last one without sequences)."""
    keras.utils.set_random_seed(2)  # Keras's initial weights, seeded too
    model = keras.Sequential([
        keras.Input((40, V)),
        layers.LSTM(16, return_sequences=True, unit_forget_bias=False, name="lstm"),
        layers.LSTM(16, name="lstm_1"),
        layers.Dense(V, activation="softmax", name="dense"),
    ])
    return randomize(model, 2)


def functional_no_bias_dropout():
    """Functional chain: Embedding, an LSTM without bias, Dropout, an LSTM with it, linear Dense."""
    keras.utils.set_random_seed(3)  # Keras's initial weights, seeded too
    inputs = keras.Input((None,), dtype="int32", name="ids")
    x = layers.Embedding(V, 6, name="emb")(inputs)
    x = layers.LSTM(12, return_sequences=True, use_bias=False, name="first")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.LSTM(12, return_sequences=True, name="second")(x)
    outputs = layers.Dense(V, use_bias=False, name="logits")(x)
    return randomize(keras.Model(inputs, outputs), 3)


def time_distributed_activation():
    """Keras 2 style: one-hot input, TimeDistributed(Dense), then Activation('softmax')."""
    keras.utils.set_random_seed(4)  # Keras's initial weights, seeded too
    model = keras.Sequential([
        keras.Input((None, V)),
        layers.LSTM(10, return_sequences=True, dropout=0.2, name="lstm"),
        layers.Dropout(0.5, name="dropout"),
        layers.TimeDistributed(layers.Dense(V), name="time_distributed"),
        layers.Activation("softmax", name="activation"),
    ])
    return randomize(model, 4)


def save(model, path, how):
    """Write ``model`` the way ``how`` names, with Keras's own saving code."""
    if how == "keras":
        model.save(path)
    elif how == "h5":
        model.save(path)  # Keras 3 still writes the legacy full-model HDF5
    elif how == "keras2-h5":
        model.save(path)
        as_keras2(path)
    elif how == "weights+json":
        model.save_weights(path)
        path.with_name(path.name.replace(".weights.h5", ".json")).write_text(model.to_json())
    elif how == "legacy-weights+config":  # Keras 2's save_weights("w.h5"), config.json from a .keras
        legacy = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")
        with h5py.File(path, "w") as f:
            legacy.save_weights_to_hdf5_group(f, model)
        archive = path.with_name("whole.keras")
        model.save(archive)
        with zipfile.ZipFile(archive) as z:
            path.with_name("config.json").write_bytes(z.read("config.json"))
        archive.unlink()
    return path


def as_keras2(path):
    """Rewrite a legacy .h5 written by Keras 3 into what Keras 2 wrote: the same weights and layout,
    the architecture in Keras 2's forms (a Sequential's layers as a bare list with the input shape on
    the first layer, ``Model`` with nested inbound nodes), ``keras_version`` 2.x."""
    with h5py.File(path, "r+") as f:
        model = json.loads(f.attrs["model_config"])
        entries = model["config"]["layers"]
        for entry in entries:
            entry["config"].pop("dtype", None)
            nodes = entry.get("inbound_nodes")
            if nodes:
                history = nodes[0]["args"][0]["config"]["keras_history"]
                entry["inbound_nodes"] = [[[history[0], history[1], history[2], {}]]]
        if model["class_name"] == "Sequential":  # Keras 2.1: no InputLayer, config is the list
            shape = entries.pop(0)["config"]["batch_shape"]
            entries[0]["config"]["batch_input_shape"] = shape
            model = {"class_name": "Sequential", "config": entries}
        else:  # Keras 2.0 to 2.2 called a functional model "Model"
            for entry in entries:
                if entry["class_name"] == "InputLayer":
                    entry["config"]["batch_input_shape"] = entry["config"].pop("batch_shape")
            config = model["config"]
            config["input_layers"] = [config["input_layers"]]
            config["output_layers"] = [config["output_layers"]]
            model = {"class_name": "Model", "config": config}
        f.attrs["model_config"] = json.dumps(model)
        f.attrs["keras_version"] = "2.1.6"
        f.attrs["backend"] = "tensorflow"
    return path


def keras_reference(model, text):
    """Keras's own h and c of every LSTM layer, stepped one character at a time, and its output."""
    ids = np.array([CHARS.index(ch) for ch in text])[None]  # (1, T)
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    lstms = [layer for layer in chain if isinstance(layer, layers.LSTM)]
    first, last = chain.index(lstms[0]), chain.index(lstms[-1])
    x = ids if isinstance(chain[0], layers.Embedding) else np.eye(V, dtype=np.float32)[ids]
    for layer in chain[:first]:
        x = layer(x, training=False)
    x = keras.ops.convert_to_numpy(x)
    states = []
    for layer in chain[first:last + 1]:
        if not isinstance(layer, layers.LSTM):
            x = keras.ops.convert_to_numpy(layer(x, training=False))
            continue
        step = layers.LSTM.from_config({**layer.get_config(), "return_state": True,
                                        "return_sequences": True})
        step.build((1, 1, x.shape[-1]))
        step.set_weights(layer.get_weights())
        h = c = np.zeros((1, layer.units), np.float32)
        hs, cs = [], []
        for t in range(x.shape[1]):
            out, h, c = step(x[:, t:t + 1], initial_state=[h, c])
            h, c = keras.ops.convert_to_numpy(h), keras.ops.convert_to_numpy(c)
            hs.append(h[0])
            cs.append(c[0])
        states.append((np.stack(hs), np.stack(cs)))
        x = np.stack(hs)[None]
    for layer in chain[last + 1:]:
        x = layer(x, training=False)
    return states, keras.ops.convert_to_numpy(x)[0]  # (T, V): probabilities, or logits if linear


CASES = {
    "embedding-1-lstm.keras": (embedding_lstm, "keras"),
    "windows-2-lstms.h5": (one_hot_windows, "h5"),
    "no-bias-dropout-linear.weights.h5": (functional_no_bias_dropout, "weights+json"),
    "time-distributed.h5": (time_distributed_activation, "legacy-weights+config"),
    "keras2-windows.h5": (one_hot_windows, "keras2-h5"),
    "keras2-functional.h5": (functional_no_bias_dropout, "keras2-h5"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each case's model, written by Keras into its own folder; and the training text."""
    root = tmp_path_factory.mktemp("keras")
    text = root / "train.txt"
    text.write_text(TEXT)
    out = {}
    for name, (build, how) in CASES.items():
        folder = root / name.split(".")[0]
        folder.mkdir()
        model = build()
        out[name] = (model, save(model, folder / name, how))
    return text, out


def max_differences(model, path, text, tmp):
    """Max |difference| of h and c over all layers, and whether the top-5 equal Keras's."""
    states, output = keras_reference(model, TEXT)
    extracted = extract_file(path, text, tmp / "x.h5", Options(dtype="float32"), vocab=text)
    with open_states(extracted) as s:
        T = s.n_tokens
        diff = max(
            float(np.abs(s.window(f"layer{layer}.{kind}", 0, T) - ref[i]).max())
            for layer, ref in enumerate(states) for i, kind in enumerate("hc")
        )
        predictions = s.predictions(0, T)
    logits = output if model.layers[-1].get_config().get("activation") == "linear" else np.log(output)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    top5 = np.argsort(-probs, axis=1, kind="stable")[:, :5]
    same_top = np.array_equal(predictions.top_ids, top5)
    prob_diff = float(np.abs(predictions.top_probs - np.take_along_axis(probs, top5, 1)).max())
    return diff, same_top, prob_diff


@pytest.mark.parametrize("name", list(CASES))
def test_extraction_equals_keras_stepped(written, tmp_path, name):
    text, models = written
    model, path = models[name]
    diff, same_top, prob_diff = max_differences(model, path, text, tmp_path)
    assert diff < TOL
    assert same_top
    assert prob_diff < TOL


def inspect(*args):
    return CliRunner().invoke(cli, ["inspect", *map(str, args)])


def test_inspect_keras_archive(written):
    text, models = written
    path = models["embedding-1-lstm.keras"][1]
    result = inspect(path, "--vocab", text)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        f"checkpoint:  {path}",
        f"layout:      keras (Keras 3 .keras archive, Sequential, Keras {keras.__version__})",
        f"parts:       Embedding 'embedding' ({V}×8) → LSTM 'lstm' (24 units) → Dense 'dense' "
        f"({V} units, softmax)",
    ]
    assert "input:       embedding, 8 wide" in lines
    assert f"vocabulary:  {V} symbols: ↵␣,.HIabcdefghiklmnoprstuvwxy (from the characters of {text})" in lines
    assert f"parameters:  {V * 8 + 4 * 24 * (8 + 24 + 1) + 24 * V + V:,}" in lines  # as Keras counts


def test_inspect_legacy_h5_windows(written):
    text, models = written
    model, path = models["windows-2-lstms.h5"]
    result = inspect(path, "--vocab", text)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == f"layout:      keras-h5 (Keras legacy .h5, Sequential, Keras {keras.__version__})"
    assert f"input:       one-hot, {V} wide; trained on windows of 40, run over the text continuously" \
        in lines
    assert lines[-1] == f"training:    keras_version={keras.__version__}, backend=torch"


def test_inspect_keras2_files(written):
    text, models = written
    lines = inspect(models["keras2-windows.h5"][1], "--vocab", text).output.splitlines()
    assert lines[1] == "layout:      keras-h5 (Keras legacy .h5, Sequential, Keras 2.1.6)"
    assert f"input:       one-hot, {V} wide; trained on windows of 40, run over the text continuously" \
        in lines
    lines = inspect(models["keras2-functional.h5"][1], "--vocab", text).output.splitlines()
    assert lines[1] == "layout:      keras-h5 (Keras legacy .h5, Functional, Keras 2.1.6)"
    assert lines[-1] == "training:    keras_version=2.1.6, backend=tensorflow"


def test_inspect_weights_and_what_was_ignored(written):
    text, models = written
    path = models["no-bias-dropout-linear.weights.h5"][1]
    result = inspect(path, "--vocab", text)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == ("layout:      keras-weights (Keras 3 .weights.h5 + no-bias-dropout-linear.json, "
                        "Functional)")
    assert lines[2] == (f"parts:       Embedding 'emb' ({V}×6) → LSTM 'first' (12 units) → Dropout "
                        "'dropout' (ignored) → LSTM 'second' (12 units) → Dense 'logits' "
                        f"({V} units, linear)")
    assert "ignored:     Dropout 'dropout' (rate 0.3)" in lines


def test_inspect_reports_optimizer_state_and_training_config(tmp_path):
    model = embedding_lstm()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = np.arange(2 * 7).reshape(2, 7) % V
    model.fit(ids, ids, epochs=1, verbose=0)
    path = tmp_path / "trained.keras"
    model.save(path)
    model.save(tmp_path / "trained.h5")
    (tmp_path / "vocab.json").write_text(json.dumps(CHARS))
    lines = inspect(path).output.splitlines()
    assert ("ignored:     optimizer state (14 arrays), training config (optimizer Adam, loss "
            "sparse_categorical_crossentropy)") in lines
    assert (f"vocabulary:  {V} symbols: ↵␣,.HIabcdefghiklmnoprstuvwxy (from file "
            f"{tmp_path / 'vocab.json'})") in lines
    lines = inspect(tmp_path / "trained.h5").output.splitlines()
    assert ("ignored:     optimizer state (14 arrays), training config (optimizer Adam, loss "
            "sparse_categorical_crossentropy)") in lines


def test_inspect_notes_mask_zero_and_stateful_windows(tmp_path):
    model = keras.Sequential([
        keras.Input((20,), batch_size=1, dtype="int32"),
        layers.Embedding(V, 4, mask_zero=True, name="embedding"),
        layers.LSTM(8, stateful=True, return_sequences=True, name="lstm"),
        layers.Dense(V, name="dense"),
    ])
    path = tmp_path / "stateful.keras"
    model.save(path)
    (tmp_path / "vocab.json").write_text(json.dumps(CHARS))
    lines = inspect(path).output.splitlines()
    assert "input:       embedding, 4 wide" in lines  # a stateful model carries its state across windows
    assert ("ignored:     mask_zero of Embedding 'embedding' (id 0 is run, not skipped: exact while the "
            "text never holds symbol 0)") in lines


def test_reading_needs_neither_keras_nor_tensorflow(written):
    text, models = written
    code = (
        "import sys\n"
        "from lstmviz.model.loading import load_model\n"
        f"for path in {[str(p) for _, p in models.values()]!r}:\n"
        f"    load_model(path, vocab={str(text)!r})\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, sorted(sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


# --- one clear line for each bad input -----------------------------------------------------------


def bad_model(kind):
    inputs = [keras.Input((None,), dtype="int32"), layers.Embedding(V, 6)]
    recurrent = {
        "gru": layers.GRU(8, return_sequences=True, name="gru"),
        "bidirectional": layers.Bidirectional(layers.LSTM(4, return_sequences=True), name="bidi"),
        "hard_sigmoid": layers.LSTM(8, return_sequences=True, recurrent_activation="hard_sigmoid",
                                    name="lstm"),
    }[kind]
    return keras.Sequential([*inputs, recurrent, layers.Dense(V)])


def branched_model():
    inputs = keras.Input((None,), dtype="int32")
    x = layers.Embedding(V, 6)(inputs)
    a = layers.LSTM(8, return_sequences=True, name="a")(x)
    b = layers.LSTM(8, return_sequences=True, name="b")(x)
    merged = layers.Add(name="add")([a, b])
    return keras.Model(inputs, layers.Dense(V)(merged))


class CharModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(V, 6)
        self.lstm = layers.LSTM(8, return_sequences=True)
        self.dense = layers.Dense(V)

    def call(self, ids):
        return self.dense(self.lstm(self.embedding(ids)))


def subclassed_model():
    model = CharModel()
    model(np.zeros((1, 3), np.int32))
    return model


def _bad(tmp_path, case):
    """Write the bad input named by ``case``; return (path, extra arguments, expected message)."""
    path = tmp_path / "model.keras"
    if case == "no weights":
        embedding_lstm().save(tmp_path / "full.keras")
        with zipfile.ZipFile(tmp_path / "full.keras") as full, zipfile.ZipFile(path, "w") as z:
            for name in ("config.json", "metadata.json"):
                z.writestr(name, full.read(name))
        return path, [], (f"{path}: the .keras archive holds no model.weights.h5 (it holds config.json, "
                          "metadata.json); save the trained model again with model.save(\"model.keras\")")
    if case == "truncated h5":
        path = tmp_path / "model.h5"
        embedding_lstm().save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path, [], (f"{path}: not a readable HDF5 file (truncated or damaged); if it is a Keras "
                          "model, save it again with Keras: model.save(\"model.keras\")")
    if case in ("gru", "bidirectional", "hard_sigmoid"):
        bad_model(case).save(path)
        if case == "hard_sigmoid":
            return path, [], (f"{path}: LSTM layer 'lstm' uses recurrent_activation='hard_sigmoid' (the "
                              "default before Keras 2.3), but lstmviz computes gates with sigmoid and tanh "
                              "as torch's LSTM does; only recurrent_activation='sigmoid' is supported")
        found = {"gru": "a GRU layer 'gru'",
                 "bidirectional": "a Bidirectional(LSTM) layer 'bidi'"}[case]
        return path, [], (f"{path}: found {found}; lstmviz handles only unidirectional Keras LSTM "
                          "layers (GRU, SimpleRNN, Bidirectional and ConvLSTM are not supported)")
    if case == "branches":
        branched_model().save(path)
        return path, [], (f"{path}: a Functional graph with branches: layer 'add' (Add) takes 2 inputs "
                          "(a, b); lstmviz reads simple chains: Embedding or one-hot input → "
                          "LSTM layers → one Dense to the vocabulary (Dropout anywhere)")
    if case == "keras 1":
        path = tmp_path / "model.h5"
        embedding_lstm().save(path)
        with h5py.File(path, "r+") as f:
            f.attrs["keras_version"] = "1.2.2"
        return path, [], (f"{path}: written by Keras 1.2.2, whose LSTM weights are laid out differently; "
                          "load it in Keras 2 and save it again with model.save(\"model.h5\")")
    if case == "conv1d":
        keras.Sequential([keras.Input((None,), dtype="int32"), layers.Embedding(V, 6),
                          layers.Conv1D(6, 3, padding="causal", name="conv"),
                          layers.LSTM(8, return_sequences=True), layers.Dense(V)]).save(path)
        return path, [], (f"{path}: found a Conv1D layer 'conv', which is not supported; lstmviz reads "
                          "Embedding or one-hot input → LSTM layers → one Dense to the vocabulary "
                          "(Dropout anywhere)")
    if case == "subclassed":
        subclassed_model().save(path)
        return path, [], (f"{path}: a subclassed Keras model ('CharModel'), whose file does not describe "
                          "its layers; build it as keras.Sequential or a functional keras.Model, then save "
                          "it again")
    if case == "sizes":
        keras.Sequential([keras.Input((None, V)), layers.LSTM(8, return_sequences=True), layers.LSTM(4),
                          layers.Dense(V)]).save(path)
        return path, [], (f"{path}: LSTM layers of different sizes (8, 4 units); lstmviz needs every "
                          "LSTM layer to have the same number of units")
    if case == "vocab size":
        embedding_lstm().save(path)
        (tmp_path / "vocab.json").write_text('["a", "b", "c"]')
        return path, [], (f"the vocabulary (file {tmp_path / 'vocab.json'}) has 3 symbols but the model's "
                          f"decoder has {V} outputs; pass the vocabulary it was trained with: --vocab FILE")
    if case == "no vocab":
        embedding_lstm().save(path)
        return path, [], (
            f"{path}: no vocabulary found: the checkpoint holds none (keys like vocab, chars, itos, stoi) "
            "and there is no JSON file or meta.pkl beside it; Keras files never hold "
            "one, and scripts like Keras's lstm_text_generation build it as sorted(set(text)): pass the "
            f"training text as the script read it, --vocab train.txt, or a JSON list of the {V} symbols "
            "in id order")
    if case == "raw text":  # the script lowercased the text before sorted(set(text))
        lower = len(set(TEXT.lower()))
        keras.Sequential([keras.Input((None, lower)), layers.LSTM(4), layers.Dense(lower)]).save(path)
        raw = tmp_path / "raw.txt"
        raw.write_text(TEXT)
        return path, ["--vocab", raw], (
            f"the vocabulary (the characters of {raw}) has {V} symbols but the model's decoder has "
            f"{lower} outputs; pass the vocabulary it was trained with: --vocab FILE; lowercased, as "
            f"Keras's text-generation example reads its text, the characters of {raw} number exactly "
            f"{lower}: pass the text as the training script read it")
    if case == "weights without config":
        path = tmp_path / "model.weights.h5"
        embedding_lstm().save_weights(path)
        return path, [], (
            f"{path}: Keras weights without the model's architecture; put it beside them as JSON "
            "(model.json, model.weights.json, config.json): open(\"model.json\", \"w\")"
            ".write(model.to_json()), or save the whole model with model.save(\"model.keras\")")
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "no weights", "truncated h5", "gru", "bidirectional", "hard_sigmoid", "branches", "keras 1", "conv1d",
    "subclassed", "sizes", "vocab size", "no vocab", "raw text", "weights without config",
])
def test_bad_keras_input_is_one_line(tmp_path, case):
    path, extra, message = _bad(tmp_path, case)
    result = inspect(path, *extra)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"


def test_unsupported_layers_are_typed(tmp_path):
    path = tmp_path / "m.keras"
    bad_model("gru").save(path)
    with pytest.raises(UnsupportedModelError):
        load_model(path, vocab=None)


# --- Keras models and extractions are told apart -------------------------------------------------


def test_keras_model_given_where_an_extraction_belongs(written):
    text, models = written
    for name in ("embedding-1-lstm.keras", "windows-2-lstms.h5"):
        path = models[name][1]
        for command in ("info", "serve"):
            result = CliRunner().invoke(cli, [command, str(path)])
            assert result.exit_code == 1
            assert result.output == (f"Error: {path}: a Keras model, not an extraction; extract it over a "
                                     "text: `lstmviz extract MODEL TEXT --vocab train.txt`\n")
    result = CliRunner().invoke(cli, ["validate", str(models["windows-2-lstms.h5"][1])])
    assert "a Keras model, not an extraction" in result.output


def test_extraction_given_where_a_model_belongs(written, tmp_path):
    text, models = written
    extracted = extract_file(models["embedding-1-lstm.keras"][1], text, tmp_path / "states.h5",
                             vocab=text)
    message = (f"Error: {extracted}: an lstmviz extraction, not a model; look inside it with `lstmviz "
               f"info {extracted}` or `lstmviz serve {extracted}`, or give the model it was extracted "
               "from (embedding-1-lstm.keras)\n")
    assert inspect(extracted).output == message
    result = CliRunner().invoke(cli, ["extract", str(extracted), str(text), "-o", str(tmp_path / "y.h5")])
    assert result.exit_code == 1
    assert result.output == message
