"""``lstmviz train`` and ``lstmviz sample``: make a char-LSTM, then hear what it says."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import torch

from lstmviz.cli import INTERRUPTED
from lstmviz.devices import resolve_device
from lstmviz.intervene.steering import clamp_from, clamped, parse_clamp
from lstmviz.model.loading import load_model
from lstmviz.model.sample import generate
from lstmviz.model.train import TrainConfig, state_path, train

_DEFAULTS = TrainConfig()


@click.command("train")
@click.argument("text", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Checkpoint to write (the best by validation loss).")
@click.option("--val", type=click.Path(dir_okay=False),
              help="Validation text. Without it, the last --val-fraction of TEXT is held out.")
@click.option("--val-fraction", default=_DEFAULTS.val_fraction, show_default=True,
              help="Share of TEXT held out for validation when there is no --val.")
@click.option("--val-chars", default=_DEFAULTS.val_chars, show_default=True,
              help="Validate on at most this many characters, spread evenly over the text.")
@click.option("--layers", default=_DEFAULTS.n_layer, show_default=True, help="LSTM layers.")
@click.option("--hidden", default=_DEFAULTS.n_hidden, show_default=True, help="Units per layer.")
@click.option("--embed", default=_DEFAULTS.n_embd, show_default=True,
              help="Input embedding width; 0 feeds one-hot characters as char-rnn does.")
@click.option("--dropout", default=_DEFAULTS.dropout, show_default=True,
              help="Dropout between layers and before the decoder (0.2-0.5 helps on small texts).")
@click.option("--byte-level", is_flag=True,
              help="Model UTF-8 bytes (all 256) instead of characters, like char-rnn on enwik8.")
@click.option("--min-count", default=_DEFAULTS.min_count, show_default=True,
              help="Fold characters seen fewer times into one unknown symbol (U+FFFD).")
@click.option("--seq-len", default=_DEFAULTS.seq_len, show_default=True,
              help="Steps of backpropagation through time.")
@click.option("--batch-size", default=_DEFAULTS.batch_size, show_default=True,
              help="Parallel streams through the text.")
@click.option("--lr", default=_DEFAULTS.lr, show_default=True, help="Adam learning rate.")
@click.option("--clip", default=_DEFAULTS.clip, show_default=True,
              help="Clip the gradient norm to this (0: off).")
@click.option("--steps", type=int, help="Total optimizer steps (overrides --epochs).")
@click.option("--epochs", default=_DEFAULTS.epochs, show_default=True,
              help="Passes over TEXT, when --steps is not given.")
@click.option("--eval-every", default=_DEFAULTS.eval_every, show_default=True,
              help="Validate (and keep the best) every this many steps.")
@click.option("--time-limit", type=float, help="Stop after this many minutes, keeping the best.")
@click.option("--device", default=_DEFAULTS.device, show_default=True,
              help="auto (CUDA if present), cpu, cuda or cuda:N.")
@click.option("--seed", default=_DEFAULTS.seed, show_default=True, type=click.IntRange(0, 2**63 - 1),
              help="Random seed.")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False),
              help="Continue from this checkpoint and its .resume file (weights, Adam, step).")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Vocabulary of a --resume checkpoint that carries none (as for `lstmviz inspect`).")
@click.option("--snapshots", default=_DEFAULTS.snapshots, show_default=True,
              help="Also keep this many checkpoints spread logarithmically over the run (plus the best), "
                   "each with its losses and a sample, in OUTPUT-STEM.snapshots/ for `lstmviz evolve`.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(text: str, output: str, val: str | None, val_fraction: float, val_chars: int,
                  layers: int, hidden: int, embed: int, dropout: float, byte_level: bool,
                  min_count: int, seq_len: int, batch_size: int, lr: float, clip: float,
                  steps: int | None, epochs: float, eval_every: int, time_limit: float | None,
                  device: str, seed: int, resume: str | None, vocab_path: str | None,
                  snapshots: int, quiet: bool) -> None:
    """Train a character-level LSTM on TEXT, keeping the best checkpoint.

    Contiguous batches carry the LSTM state along the text, as char-rnn
    does. The progress bar shows train and validation loss in bits per
    character. Ctrl-C (or SIGTERM) stops cleanly: it validates, keeps the
    best checkpoint, says where it is and exits with status 130. With --resume,
    --layers/--hidden/--embed default to the checkpoint's values, and so
    does the vocabulary. With --snapshots N, N checkpoints from 1 % of the
    run to its end, at equal ratios of steps, go to a folder beside the
    output; `lstmviz evolve` follows the cells through them.

    \b
    Example:
        lstmviz train austen.train.txt --val austen.val.txt -o austen.pt
        lstmviz train austen.train.txt --val austen.val.txt -o austen.pt --steps 4000 --snapshots 10
        lstmviz train wiki.txt --min-count 20 --time-limit 30 -o wiki.pt
        lstmviz train austen.train.txt -o austen.pt --resume austen.pt --epochs 40
    """
    ctx = click.get_current_context()
    if resume is not None:  # shape options not given on the command line follow the checkpoint
        cfg = load_model(resume, vocab=vocab_path).model.config
        given = {n for n in ("layers", "hidden", "embed")
                 if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT}
        layers = layers if "layers" in given else cfg.n_layer
        hidden = hidden if "hidden" in given else cfg.n_hidden
        embed = embed if "embed" in given else (cfg.n_embd or 0)
    config = TrainConfig(
        n_layer=layers, n_hidden=hidden, n_embd=embed, dropout=dropout, byte_level=byte_level,
        min_count=min_count, seq_len=seq_len, batch_size=batch_size, lr=lr, clip=clip,
        steps=steps, epochs=epochs, eval_every=eval_every, val_fraction=val_fraction,
        val_chars=val_chars, time_limit=time_limit, device=device, seed=seed, snapshots=snapshots)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = train(text, output, config, val=val, resume=resume, vocab=vocab_path,
                       progress=not quiet)
    except KeyboardInterrupt:  # a second Ctrl-C, during the final validation or save
        click.echo(f"\ninterrupted again: {output} holds the last checkpoint written, if any", err=True)
        ctx.exit(INTERRUPTED)
    took = f"{result.seconds:.1f} s" if result.seconds < 60 else f"{result.seconds / 60:.1f} min"
    click.echo(
        f"stopped ({result.stopped}) at step {result.steps} ({result.epochs:.2f} epochs) after "
        f"{took}, {result.chars_per_second:,.0f} {result.symbol}/s", err=True)
    click.echo(f"best validation {result.best_val_bpc:.4f} bits/{result.symbol} at step {result.best_step}, "
               f"saved to {result.output} (resume state: {state_path(result.output)})", err=True)
    if result.snapshots:
        click.echo(f"{len(result.snapshots)} snapshot(s) written to {result.snapshots[0].parent}", err=True)
    if result.stopped == "interrupted":
        ctx.exit(INTERRUPTED)


@click.command("sample")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-t", "--temperature", default=1.0, show_default=True,
              help="Above 0. Low (0.2-0.5): conservative, likely text that starts to repeat "
                   "itself; 1: the model's own distribution; high (1.5+): diverse, with more "
                   "mistakes.")
@click.option("-n", "length", default=500, show_default=True,
              help="Characters to generate (bytes for a byte-level model).")
@click.option("--prime", default="", help="Text the model reads first; the sample continues it.")
@click.option("--top-k", type=int, help="Draw only among the k most likely characters.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1),
              help="Random seed: the same seed gives the same text.")
@click.option("--device", default="auto", show_default=True,
              help="auto (CUDA if present), cpu, cuda or cuda:N. On CPU one thread is used: "
                   "steps of one character gain nothing from more.")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Vocabulary file, for checkpoints that do not carry one.")
@click.option("--trust-pickle", is_flag=True,
              help="Allow whole pickled models; unpickling runs code from the file.")
@click.option("--clamp", "clamps", multiple=True, metavar="NEURON=V",
              help="Hold a unit (of h, c or a gate) at the value V at every step, the prime's "
                   "included, e.g. layer2.c.89=-3. Repeat for several.")
@click.option("--clamp-from", "clamps_from", multiple=True, metavar="FILE.h5:NEURON@POS",
              help="Hold a unit at the value it had at position POS of an extraction made with "
                   "CHECKPOINT, e.g. cache/m__val.h5:layer2.c.89@12345.")
def sample_command(checkpoint: str, temperature: float, length: int, prime: str,
                   top_k: int | None, seed: int | None, device: str, vocab_path: str | None,
                   trust_pickle: bool, clamps: tuple[str, ...], clamps_from: tuple[str, ...]) -> None:
    """Generate text from CHECKPOINT at a temperature, optionally continuing a prime.

    The prime is printed first, then the generated text, to stdout. The
    temperature trades safety for variety, as in Karpathy's "Unreasonable
    Effectiveness of RNNs" post: at 0.5 the text is plausible but plain,
    near 0 it loops, and above 1 it invents words. With --clamp units are held
    at values as the model writes (steering; see docs/interventions.md).

    \b
    Examples:
        lstmviz sample austen.pt --temperature 0.5 -n 400 --prime '"My dear'
        lstmviz sample wiki.pt --clamp layer2.c.89=-3 -n 400 --prime 'The'
        lstmviz sample wiki.pt --clamp-from cache/wiki__val.h5:layer2.c.89@9530 -n 400
    """
    held = [parse_clamp(c) for c in clamps]  # a bad clamp is refused before the model is loaded
    loaded = load_model(Path(checkpoint), vocab=vocab_path, trust_pickle=trust_pickle)
    held += [clamp_from(c, loaded) for c in clamps_from]
    where = resolve_device(device)
    if where.type == "cpu":
        torch.set_num_threads(1)  # one symbol per step: thread hand-offs cost more than they save
    step = clamped(loaded.model, held, where) if held else None
    pieces = generate(loaded.model, loaded.vocab, length, temperature=temperature, prime=prime,
                      top_k=top_k, seed=seed, device=where, step=step)
    click.echo(prime, nl=False)
    for piece in pieces:
        click.echo(piece, nl=False)
    click.echo()
