"""``lstmviz inspect``: what a checkpoint holds, or why it cannot be used."""

from __future__ import annotations

import click

from lstmviz.cli import cli
from lstmviz.loading import load_model


@cli.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Vocabulary file (JSON list/dict, or a text whose unique characters form it).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow whole pickled models; unpickling runs code from the file.")
def inspect(checkpoint: str, vocab_path: str | None, trust_pickle: bool) -> None:
    r"""Show the layout detected in CHECKPOINT, or why it cannot be used.

    \b
    Example:
        lstmviz inspect austen.pt
    """
    loaded = load_model(checkpoint, vocab=vocab_path, trust_pickle=trust_pickle)
    cfg = loaded.model.config
    n_params = sum(p.numel() for p in loaded.model.parameters())
    sample = "".join(loaded.vocab.symbols[:40])
    click.echo(f"layout:      {loaded.layout}")
    click.echo(f"layers:      {cfg.n_layer}")
    click.echo(f"hidden size: {cfg.n_hidden}")
    click.echo(f"input:       {'embedding ' + str(cfg.n_embd) if cfg.n_embd else 'one-hot'}")
    click.echo(f"vocabulary:  {len(loaded.vocab)} symbols{' (bytes)' if loaded.vocab.byte_level else ''}"
               f": {sample!r}")
    click.echo(f"parameters:  {n_params:,}")
