"""``lstmviz extract``, ``info`` and ``validate``: making extraction files and looking at them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from lstmviz.cli import INTERRUPTED
from lstmviz.errors import StoreError
from lstmviz.extraction.options import DEFAULT_BURN_IN, Options
from lstmviz.files import human_size, temporaries
from lstmviz.names import parse_name
from lstmviz.store.reader import open_states
from lstmviz.store.spec import CHUNK_ROWS
from lstmviz.store.validate import validate as validate_file


@click.command()
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.argument("text", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file.  [default: cache/<checkpoint stem>__<text stem>.h5]")
@click.option("--gates", is_flag=True, help="Also store the gates i, f, g, o after their nonlinearities.")
@click.option("--dtype", type=click.Choice(["float16", "float32"]), default="float16", show_default=True,
              help="Storage type of h and the gates; c is always float32 (it can exceed float16's range).")
@click.option("--device", default="auto", show_default=True,
              help="auto (a GPU if torch sees one), cpu, cuda or cuda:N.")
@click.option("--streams", type=click.IntRange(min=1, max=2**31 - 1), default=1, show_default=True,
              help="Read the text as N pieces side by side: faster on a GPU, not exact at the seams.")
@click.option("--burn-in", type=click.IntRange(min=0), default=DEFAULT_BURN_IN, show_default=True,
              help="With --streams: characters each piece reads before its start, to settle its state.")
@click.option("--unknown", default="auto", show_default=True, metavar="auto|error|skip|replace:<char>",
              help="What to do with characters the model's vocabulary lacks. auto: replace them by the "
                   "model's own unknown symbol if it has one, else stop with an error listing them.")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@click.option("--vocab", "vocab_path", type=click.Path(exists=True, dir_okay=False),
              help="Vocabulary file, for checkpoints that lack one.")
@click.option("--trust-pickle", is_flag=True,
              help="Allow whole pickled models; unpickling runs code from the file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def extract(checkpoint: str, text: str, output: str | None, gates: bool, dtype: str, device: str,
            streams: int, burn_in: int, unknown: str, force: bool, vocab_path: str | None,
            trust_pickle: bool, quiet: bool) -> None:
    """Run CHECKPOINT over TEXT and store every activation and prediction.

    For every character: h and c of every unit of every layer (and the gates
    with --gates), the top-5 next characters with their probabilities, and
    the loss on the true next character, plus per-unit summaries. The file
    appears only once complete.

    \b
    Examples:
        lstmviz extract model.pt wiki_val.txt          # -> cache/model__wiki_val.h5
        lstmviz extract model.pt wiki_val.txt -o out.h5 --gates --dtype float32 --device cpu
        lstmviz extract model.pt big.txt --streams 64 --device cuda
    """
    from lstmviz.extraction.extract import extract_file  # torch: loaded only when extracting

    options = Options(gates=gates, dtype=dtype, device=device, streams=streams, burn_in=burn_in,
                      progress=not quiet)
    try:
        path = extract_file(checkpoint, text, output, options, unknown=unknown, force=force,
                            vocab=vocab_path, trust_pickle=trust_pickle)
    except KeyboardInterrupt:
        click.echo("\nInterrupted: no output was written (the partial file was removed).", err=True)
        sys.exit(INTERRUPTED)
    with open_states(path) as states:
        took = states.attrs.get("elapsed_s", 0.0)
        click.echo(f"wrote {path}: {states.n_tokens:,} positions, {len(states.names)} activations, "
                   f"{took:.1f} s")
        streams, asked = states.attrs.get("streams", 1), states.attrs.get("streams_requested", 1)
        if streams != asked:
            click.echo(f"note: read as {streams} stream(s) of {states.attrs['stream_length']:,} characters, "
                       f"not {asked}: a stream is a whole number of {CHUNK_ROWS:,}-character blocks",
                       err=True)
        touched = int(states.attrs.get("unknown_count", 0))
        if touched:
            click.echo(f"note: {touched:,} character(s) the vocabulary lacks were handled by --unknown "
                       f"{states.attrs['unknown']} (`lstmviz extract --unknown error` lists them)", err=True)


@click.command()
@click.argument("states", type=click.Path(exists=True))
def info(states: str) -> None:
    """Show what an extraction file holds: model, text, sizes, precision, timing.

    Given a folder, list the extraction files in it, and any temporary files
    that runs killed while writing left behind, with the command to remove them.

    \b
    Examples:
        lstmviz info cache/model__wiki_val.h5
        lstmviz info cache/
    """
    if Path(states).is_dir():
        _folder_info(Path(states))
        return
    with open_states(states) as s:
        for label, value in describe(s):
            click.echo(f"{label + ':':<13}{value}")


def _folder_info(folder: Path) -> None:
    """One line per extraction file in ``folder``, then its temporary files."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".h5", ".hdf5") and not p.name.startswith("."))
    example = folder / "X.h5"
    click.echo(f"{folder}: {len(files)} extraction file(s)" if files else
               f"{folder}: no extraction files; make one with `lstmviz extract MODEL TEXT -o {example}`")
    width = max((len(p.name) for p in files), default=0)
    for path in files:
        size = human_size(path.stat().st_size)
        try:
            with open_states(path) as s:
                cfg = s.config
                what = (f"{s.n_tokens:,} positions, {cfg.n_layer} layer(s) x {cfg.n_hidden} units, "
                        f"{s.attrs.get('model_path', '?')} on {s.attrs.get('text_path', '(tokens)')}")
        except StoreError as e:
            what = f"cannot be read: {str(e).removeprefix(f'{path}: ')}"
        click.echo(f"  {path.name:<{width}}  {size:>8}  {what}")
    found = temporaries(folder)
    if found:
        click.echo(f"temporary files ({human_size(sum(t.size for t in found))}):")
        for temporary in found:
            click.echo(f"  {temporary.describe()}")


def _num(value: Any, spec: str) -> str:
    """``value`` formatted as a number, or as it is: optional attributes may be missing or foreign."""
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return "?" if value is None else str(value)


def describe(s) -> list[tuple[str, str]]:
    """Label/value lines for ``lstmviz info``."""
    a = s.attrs
    cfg = s.config
    size = s.path.stat().st_size
    inputs = f"embedding {cfg.n_embd}" if cfg.n_embd else "one-hot"
    dtype = a.get("dtype", "?")
    lines = [
        ("file", f"{s.path} ({size / 1e6:,.1f} MB, complete)"),  # open_states refuses the others
        ("format", f"{a['encoding-type']} {a['encoding-version']}, lstmviz {a.get('lstmviz_version', '?')},"
                   f" created {a.get('created', '?')}"),
        ("model", f"{a.get('model_path', '?')} ({a.get('model_layout', '?')} layout): {cfg.n_layer} layer(s)"
                  f" x {cfg.n_hidden} units, {inputs}, sha256 {str(a.get('model_sha256', '?'))[:16]}"),
        ("vocabulary", f"{len(s.vocab)} symbols{' (bytes)' if s.vocab.byte_level else ''}"),
        ("text", f"{a.get('text_path', '(tokens)')}: {_num(a.get('text_chars', s.n_tokens), ',')} "
                 f"characters, sha256 {str(a.get('text_sha256', '-'))[:16]}"),
        ("unknown", f"{a.get('unknown', 'error')} ({a.get('unknown_count', 0)} character(s) affected)"),
        ("positions", f"{s.n_tokens:,}"),
        ("activations", " ".join(s.names)),
        ("dtype", f"{dtype} (h{', gates' if s.has_gates else ''}); c {a.get('c_dtype', '?')}"),
    ]
    if dtype == "float16":
        lines.append(("float16", f"h rounding error at most {_num(a.get('f16_error_bound'), '.2e')} (bound); "
                                 f"measured max {_num(a.get('f16_error_h_max'), '.2e')} on a sample"))
    streams = a.get("streams", 1)
    if isinstance(streams, (int, np.integer)) and streams > 1:
        asked = a.get("streams_requested", streams)
        lines.append(("streams", (
            f"{streams} streams of {_num(a.get('stream_length'), ',')}"
            f"{f' (asked for {asked})' if asked != streams else ''}, burn-in {a.get('burn_in', '?')}: "
            f"deviation from the exact pass: h max {_num(a.get('streams_deviation_h_max'), '.2e')}, "
            f"mean {_num(a.get('streams_deviation_h_mean'), '.2e')}; "
            f"c max {_num(a.get('streams_deviation_c_max'), '.2e')}; "
            f"top-1 agreement {_num(a.get('streams_deviation_top1_agree'), '.2%')} "
            f"({a.get('streams_deviation_sample', 'not measured')})")))
    else:
        lines.append(("streams", "1 (exact: one continuous pass)"))
    lines.append(("device", f"{a.get('device', '?')}; took {_num(a.get('elapsed_s'), '.1f')} s "
                            f"({_num(a.get('chars_per_s'), ',.0f')} characters/s)"))
    lines.append(("summaries", _summaries(s)))
    return lines


def _summaries(s) -> str:
    """Which per-unit summaries the file holds; a damaged one is reported, not fatal: info describes."""
    if not s.names:
        return "per unit: []"
    cell = next((n for n in s.names if parse_name(n)[1] == "c"), None)
    try:
        summaries = json.dumps(sorted(s.summary(s.names[0])))
        ranks = s.rank_histogram(s.names[0])
        horizons = s.horizon(cell) if cell is not None else None
    except StoreError as e:
        return f"cannot be read: {str(e).removeprefix(f'{s.path}: ')}"
    if ranks is not None:  # read by cell search only; files before format 1.2 lack them
        summaries += f"; for cell search: {', '.join(sorted(ranks))} ({ranks['rank_hist'].shape[-1]} bins)"
    if horizons is not None:  # format 1.3, with --gates or `lstmviz profile --horizon`
        summaries += (f"; of c, memory horizons within {int(horizons['horizon_window'][0]):,} characters "
                      "(`lstmviz search --horizon`)")
    return f"per unit: {summaries}"


@click.command()
@click.argument("states", type=click.Path(exists=True, dir_okay=False))
def validate(states: str) -> None:
    """Check an extraction file and list every problem found (exit status 1 if any).

    \b
    Example:
        lstmviz validate cache/model__wiki_val.h5
    """
    problems = validate_file(states)
    if not problems:
        click.echo(f"{states}: valid")
        return
    click.echo(f"{states}: {len(problems)} problem(s)")
    for problem in problems:
        click.echo(f"  - {problem}")
    sys.exit(1)
