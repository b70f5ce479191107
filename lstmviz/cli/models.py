"""``lstmviz inspect``: what a checkpoint holds, or why it cannot be used."""

from __future__ import annotations

import click

from lstmviz.model.importers.vocab_forms import ALL_BYTES
from lstmviz.model.loading import LoadedModel, load_model
from lstmviz.model.vocab import visible

_SAMPLE = 40  # vocabulary symbols shown
_SETTINGS = 6  # training settings shown


def _vocab_line(loaded: LoadedModel) -> str:
    vocab = loaded.vocab
    if vocab.byte_level and vocab.symbols == ALL_BYTES:
        shown = "all 256 byte values, text read as UTF-8 bytes"
    else:
        more = "…" if len(vocab) > _SAMPLE else ""
        kind = "bytes" if vocab.byte_level else "symbols"
        shown = f"{len(vocab)} {kind}: {''.join(visible(s) for s in vocab.symbols[:_SAMPLE])}{more}"
    return f"{shown} (from {loaded.vocab_source})" if loaded.vocab_source else shown


def _parts_line(parts: dict[str, str]) -> str:
    """The parts in the order data flows: ``layer0``, ``layer1`` … are LSTM layers held apart."""
    names = {"embedding": "embedding", "lstm": "LSTM", "decoder": "decoder"}
    layers = sorted((r for r in parts if r.startswith("layer")), key=lambda r: int(r[5:]))
    order = [r for r in ("embedding", "lstm") if r in parts] + layers + ["decoder"]
    return " → ".join(f"{names.get(r, 'layer ' + r[5:])} '{parts[r]}'" for r in order if r in parts)


def describe(loaded: LoadedModel) -> list[str]:
    """The lines ``inspect`` prints for a loaded model, one fact each.

    Kept apart from the command so other commands (and tests) can show the same summary.
    """
    cfg = loaded.model.config
    n_params = sum(p.numel() for p in loaded.model.parameters())
    inputs = f"embedding, {cfg.n_embd} wide" if cfg.n_embd else f"one-hot, {cfg.vocab_size} wide"
    biases = [n for n, on in (("LSTM", cfg.lstm_bias), ("decoder", cfg.decoder_bias)) if not on]
    lines = {
        "checkpoint": str(loaded.path),
        "layout": loaded.layout + (f" ({loaded.stack})" if loaded.stack else ""),
        "parts": _parts_line(loaded.parts),
        "layers": str(cfg.n_layer),
        "hidden size": str(cfg.n_hidden),
        "input": inputs,
        "vocabulary": _vocab_line(loaded),
        "parameters": f"{n_params:,}" + (f" (no bias in {' or '.join(biases)})" if biases else ""),
    }
    lines.update(loaded.details)  # an importer's own words replace the generic ones, or add lines
    settings = [
        f"{k}={v}" for k, v in loaded.training.items() if isinstance(v, (bool, int, float, str))
    ]
    if settings:
        more = ", …" if len(settings) > _SETTINGS else ""
        lines["training"] = f"{', '.join(settings[:_SETTINGS])}{more}"
    if loaded.ignored:
        lines["ignored"] = ", ".join(loaded.ignored)
    out = [f"{label + ':':<13}{text}" for label, text in lines.items()]
    return out + [f"{'note:':<13}{note}" for note in loaded.notes]


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option(
    "--vocab",
    "vocab_path",
    type=click.Path(dir_okay=False),
    help="Vocabulary file: JSON (list of symbols in id order, or {symbol: id}), or a text "
    "whose sorted unique characters form it. Overrides the checkpoint's.",
)
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Allow whole pickled models (torch.save(model)); unpickling runs code from the file.",
)
def inspect(checkpoint: str, vocab_path: str | None, trust_pickle: bool) -> None:
    """Show what CHECKPOINT holds (layout, parts, sizes, vocabulary), or why it cannot be used.

    Reads lstmviz checkpoints, bare state dicts (.pt, .pth, .safetensors) of any
    embedding/one-hot -> LSTM -> Linear model (one nn.LSTM, LSTMCell layers, or a
    stack of one-layer nn.LSTMs), dicts wrapping one, whole pickled models (with
    --trust-pickle), and Keras models (.keras, .h5, or .weights.h5 with the
    model's JSON beside it). The vocabulary is looked for in the checkpoint, in
    every JSON file beside it, and in nanoGPT's meta.pkl.

    \b
    Examples:
        lstmviz inspect austen.pt
        lstmviz inspect weights.safetensors --vocab vocab.json
        lstmviz inspect model.pth --vocab train.txt --trust-pickle
        lstmviz inspect model.keras --vocab train.txt
    """
    loaded = load_model(checkpoint, vocab=vocab_path, trust_pickle=trust_pickle)
    for line in describe(loaded):
        click.echo(line)
