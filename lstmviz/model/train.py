"""Training a :class:`~lstmviz.model.charlstm.CharLSTM` on a text file, the char-rnn way.

Defaults follow Karpathy's char-rnn (2 layers of 256 units, 100-step truncated backpropagation,
50 parallel streams, gradient clipping), with Adam in place of RMSprop. Batches are contiguous:
the text is cut into B streams and each step takes the next T symbols of every stream, carrying
``(h, c)`` from one step to the next. The model thus learns to run over long text with its state
carried along, which is exactly how extraction and sampling later run it.

The best weights by validation loss go to the output checkpoint (:func:`save_checkpoint`); the
latest weights, Adam state and step go to a sidecar ``<output>.resume`` so a run can continue.
With ``snapshots`` set, checkpoints spread logarithmically over the run go to a folder beside the
output (:mod:`lstmviz.evolution.snapshots`), for ``lstmviz evolve``.

References: https://github.com/karpathy/char-rnn (``train.lua``, ``CharSplitLMMinibatchLoader``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lstmviz import __version__
from lstmviz.devices import resolve_device
from lstmviz.errors import CheckpointError, OptionError, TextError, VocabError
from lstmviz.evolution import snapshots
from lstmviz.files import check_output
from lstmviz.model.batches import StreamBatches, evaluate, split_validation
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.checkpoint import DiskFull, save_atomic, save_checkpoint
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import load_model
from lstmviz.model.vocab import Vocab, describe_missing
from lstmviz.progress import progress_bar
from lstmviz.textio import read_text, sha256_file

log = logging.getLogger(__name__)

STATE_FORMAT = "lstmviz-train-state"
STATE_SUFFIX = ".resume"
_LN2 = math.log(2.0)


@dataclass
class TrainConfig:
    """Every knob of a training run; stored in the checkpoint as ``training["hyperparameters"]``.

    >>> TrainConfig().n_hidden, TrainConfig().seq_len
    (256, 100)
    """

    n_layer: int = 2
    n_hidden: int = 256
    n_embd: int = 64  # 0: one-hot input, as in char-rnn
    dropout: float = 0.0
    byte_level: bool = False
    min_count: int = 1
    seq_len: int = 100
    batch_size: int = 50
    lr: float = 2e-3
    clip: float = 5.0  # max global gradient norm; 0 disables clipping
    steps: int | None = None  # total optimizer steps; None: ``epochs`` passes over the text
    epochs: float = 20.0
    eval_every: int = 200
    val_fraction: float = 0.1
    val_chars: int = 100_000
    time_limit: float | None = None  # minutes
    device: str = "auto"
    seed: int = 0
    snapshots: int = 0  # checkpoints kept over the run for `lstmviz evolve` (plus the best); 0: none


@dataclass
class TrainResult:
    """What a run did; the checkpoint at ``output`` holds the weights of ``best_step``."""

    output: Path
    steps: int
    epochs: float
    best_val_bpc: float
    best_step: int
    seconds: float
    stopped: str  # "steps", "epochs", "time limit" or "interrupted"
    chars_per_second: float  # symbols per second: bytes for a byte-level model
    history: list[list] = field(default_factory=list)  # [step, train bpc or None, val bpc]
    symbol: str = "char"  # what the losses and speed count: "char", or "byte" for a byte-level model
    snapshots: list[Path] = field(default_factory=list)  # the snapshots written by this run, in order


def check_config(config: TrainConfig) -> None:
    """Refuse values that cannot train, naming the option to change."""
    problems = [
        (config.n_layer < 1 or config.n_hidden < 1, "--layers and --hidden must be at least 1"),
        (config.n_embd < 0, "--embed must be 0 (one-hot) or more"),
        (not 0 <= config.dropout < 1, "--dropout must be at least 0 and below 1"),
        (config.seq_len < 1 or config.batch_size < 1,
         "--seq-len and --batch-size must be at least 1"),
        (not 0 < config.lr < math.inf, "--lr must be above 0 and finite, e.g. 0.002"),
        (not 0 <= config.clip < math.inf, "--clip must be 0 (off) or more"),
        (config.steps is not None and config.steps < 1, "--steps must be at least 1"),
        (not 0 < config.epochs < math.inf, "--epochs must be above 0 and finite"),
        (config.time_limit is not None and not 0 <= config.time_limit < math.inf,
         "--time-limit must be a number of minutes, 0 or more"),
        (not 0 <= config.seed < 2**63, "--seed must be between 0 and 2**63 - 1"),
        (config.eval_every < 1, "--eval-every must be at least 1"),
        (config.val_chars < 2, "--val-chars must be at least 2"),
        (config.snapshots < 0, "--snapshots must be 0 (none) or more"),
    ]
    for bad, message in problems:
        if bad:
            raise OptionError(message)


def build_vocab(text: str, config: TrainConfig) -> Vocab:
    """Sorted unique characters, rare ones folded into U+FFFD, or all 256 bytes in byte mode.

    Byte mode keeps every byte value, not just those seen, so any later text can be encoded.
    """
    if config.byte_level:
        if config.min_count > 1:
            raise OptionError("--min-count applies to characters; drop it with --byte-level")
        return Vocab(tuple(chr(b) for b in range(256)), byte_level=True)
    if config.min_count < 1:
        raise OptionError(f"--min-count must be at least 1 (got {config.min_count})")
    vocab = Vocab.from_text(text, min_count=config.min_count)
    if len(vocab) < 2:
        raise OptionError(f"--min-count {config.min_count} folds every character of the text into one "
                          "symbol, which leaves nothing to predict; use a smaller --min-count")
    return vocab


def _encode(vocab: Vocab, text: str, name: str) -> torch.Tensor:
    lacking = vocab.missing(text)
    if lacking:
        raise VocabError(describe_missing(
            lacking, name, "resume only on text with the model's characters, or train a new model"))
    return torch.from_numpy(vocab.encode(text))  # (N,) int64


def state_path(output: str | Path) -> Path:
    """The sidecar holding the latest weights, Adam state and step: ``<output>.resume``."""
    output = Path(output)
    return output.with_name(output.name + STATE_SUFFIX)


def _use_available_cores() -> None:
    # torch starts one thread per physical core it sees, which can exceed what a container or
    # `taskset` grants; oversubscribed threads make every LSTM step slower.
    granted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), granted or 1)))


@dataclass
class _Resume:
    model: CharLSTM
    vocab: Vocab
    training: dict[str, Any]
    state: dict[str, Any] | None  # the sidecar, when there is one


def _load_resume(path: Path, config: TrainConfig, vocab: str | Path | None) -> _Resume:
    loaded = load_model(path, vocab=vocab)
    cfg = loaded.model.config
    asked = (config.n_layer, config.n_hidden, config.n_embd or None)
    have = (cfg.n_layer, cfg.n_hidden, cfg.n_embd)
    if asked != have:
        raise OptionError(
            f"{path} has {have[0]} layer(s) of {have[1]} units, input "
            f"{'embedding ' + str(have[2]) if have[2] else 'one-hot'}; resume with "
            f"--layers {have[0]} --hidden {have[1]} --embed {have[2] or 0} or train a new model")
    sidecar = state_path(path)
    state = None
    if sidecar.exists():
        try:
            state = torch.load(sidecar, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a damaged file
            raise CheckpointError(f"{sidecar}: unreadable ({type(e).__name__}); delete it to "
                                  "resume from the best weights with a fresh optimizer") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"{sidecar}: not an lstmviz training state; delete it")
    else:
        log.warning("no %s: resuming from the best weights with a fresh Adam state", sidecar.name)
    return _Resume(loaded.model, loaded.vocab, loaded.training, state)


def _restore(target: nn.Module | torch.optim.Optimizer, state: dict, resume: str | Path) -> None:
    """Load a saved state; one from another model (a sidecar copied from elsewhere) is a clear error."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as e:
        sidecar = state_path(resume)
        reason = str(e).splitlines()[0]
        raise CheckpointError(f"{sidecar} does not match {resume} ({reason}); delete it to resume "
                              "from the best weights with a fresh optimizer") from None


def _read_corpus(text: Path, val: str | Path | None, config: TrainConfig,
                 prior: _Resume | None) -> tuple[Vocab, torch.Tensor, torch.Tensor, dict]:
    """Vocabulary, train and validation token ids, and the corpus part of the metadata."""
    train_text = read_text(text)
    meta: dict[str, Any] = {"corpus": text.name, "corpus_sha256": sha256_file(text)}
    if val is not None:
        val_text = read_text(val)
        meta |= {"val_corpus": Path(val).name, "val_corpus_sha256": sha256_file(val),
                 "val_split": None}
    else:
        train_text, val_text = split_validation(train_text, config.val_fraction)
        meta |= {"val_corpus": text.name, "val_corpus_sha256": meta["corpus_sha256"],
                 "val_split": {"fraction": config.val_fraction, "start_char": len(train_text)}}
    if len(val_text) < 2:
        raise TextError("the validation text needs at least 2 characters; give a longer --val "
                        "or a larger --val-fraction")
    vocab = prior.vocab if prior else build_vocab(train_text + val_text, config)
    train_ids = _encode(vocab, train_text, text.name)
    val_ids = _encode(vocab, val_text, f"the validation text ({meta['val_corpus']})")
    meta |= {"corpus_chars": len(train_ids), "val_chars": len(val_ids)}
    return vocab, train_ids, val_ids, meta


def train(text: str | Path, output: str | Path, config: TrainConfig | None = None, *,
          val: str | Path | None = None, resume: str | Path | None = None,
          vocab: str | Path | None = None, progress: bool = True) -> TrainResult:
    r"""Train (or continue training) a CharLSTM; the best checkpoint by validation loss is kept.

    Stops after ``config.steps`` steps (else ``config.epochs`` passes), at ``config.time_limit``
    minutes, or on Ctrl-C; in every case a final validation runs and the best weights are on disk.

    Args:
        text: training text file (UTF-8).
        output: checkpoint to write; ``<output>.resume`` receives the state to continue from.
        config: hyperparameters; defaults are char-rnn's.
        val: validation text; without it the last ``config.val_fraction`` of ``text`` is used.
        resume: a checkpoint to continue from (same shape required): this function's, or any
            layout :func:`~lstmviz.model.loading.load_model` reads.
        vocab: the vocabulary of a ``resume`` checkpoint that carries none (a file as ``--vocab``).
        progress: show a tqdm bar on stderr.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.txt")
    >>> _ = open(p, "w").write("abcd\n" * 200)
    >>> cfg = TrainConfig(n_layer=1, n_hidden=16, seq_len=10, batch_size=4, steps=5)
    >>> train(p, os.path.join(d, "m.pt"), cfg, progress=False).steps
    5
    """
    config = config or TrainConfig()
    check_config(config)
    device = resolve_device(config.device)
    if device.type == "cpu":
        _use_available_cores()
    output = check_output(output, tuple(p for p in (text, val) if p is not None), example="model.pt")
    torch.manual_seed(config.seed)
    prior = _load_resume(Path(resume), config, vocab) if resume is not None else None
    vocab, train_ids, val_ids, meta = _read_corpus(Path(text), val, config, prior)
    batches = StreamBatches(train_ids, config.batch_size, config.seq_len, config.seed)
    if batches.batch_size < config.batch_size:
        log.warning("text is short: using %d stream(s) instead of --batch-size %d",
                    batches.batch_size, config.batch_size)
    model = CharLSTM(LSTMConfig(len(vocab), config.n_layer, config.n_hidden,
                                config.n_embd or None, config.dropout))
    step, best, best_step, history, seconds_before = 0, math.inf, 0, [], 0.0
    if prior is not None:
        _restore(model, prior.state["model"] if prior.state else prior.model.state_dict(), resume)
    model.to(device).train()  # before Adam loads its state, so that state lands on the device
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    if prior is not None:
        if prior.state:
            _restore(opt, prior.state["optimizer"], resume)
            for group in opt.param_groups:
                group["lr"] = config.lr
        info = prior.state or prior.training
        step, seconds_before = int(info.get("steps", 0)), float(info.get("seconds", 0.0))
        history = [list(h) for h in info.get("history", [])]
        if prior.training.get("val_corpus_sha256") == meta["val_corpus_sha256"]:
            best = float(prior.training.get("best_val_bpc", math.inf))
            best_step = int(prior.training.get("best_step", prior.training.get("steps", 0)))
        else:
            log.warning("validation text differs from the checkpoint's: the best loss starts over")
    total = config.steps if config.steps is not None else math.ceil(
        config.epochs * batches.steps_per_epoch)
    if total <= step:
        raise OptionError(f"the model has already trained {step} steps; ask for more with "
                          f"--steps (e.g. {step + 1000}) or --epochs")
    folder = snapshots.prepare_folder(output, resuming=prior is not None) if config.snapshots else None
    due = {s for s in snapshots.snapshot_steps(total, config.snapshots) if s > step}
    written: list[Path] = []
    if prior is not None and output.resolve() != Path(resume).resolve():
        save_checkpoint(output, prior.model, vocab, prior.training)  # the best until beaten
    n_params = sum(p.numel() for p in model.parameters())
    hyper = asdict(config) | {"batch_size": batches.batch_size}
    if prior is not None:  # the vocabulary is the checkpoint's: record how it was made, not the flags
        if config.byte_level != vocab.byte_level or config.min_count != 1:
            log.warning("--byte-level and --min-count do nothing with --resume: the vocabulary is "
                        "the checkpoint's (%d symbols%s)", len(vocab), ", bytes" if vocab.byte_level else "")
        before = prior.training.get("hyperparameters")
        hyper |= {"byte_level": vocab.byte_level,
                  "min_count": before.get("min_count", 1) if isinstance(before, dict) else 1}
    start = time.monotonic()
    limit = config.time_limit * 60 if config.time_limit is not None else math.inf
    ema, last_val, evaluated_at, chars, stopped = math.nan, math.nan, -1, 0, "steps"
    symbol = "byte" if vocab.byte_level else "char"
    hidden = None
    last_info: dict[str, Any] = {}

    def checkpoint_now() -> None:
        # What the run reports (best, the step validated) changes only once both files are
        # written: a Ctrl-C while they are saved then repeats this, and file and message agree.
        nonlocal best, best_step, last_val, evaluated_at, history, last_info
        val_bpc = evaluate(model, val_ids, max_chars=config.val_chars, device=device)
        train_bpc = None if math.isnan(ema) else round(ema, 4)
        seen = [*history, [step, train_bpc, round(val_bpc, 4)]]
        seconds = round(seconds_before + time.monotonic() - start, 1)
        improved = val_bpc < best
        info = meta | {
            "steps": step, "epochs": round(step / batches.steps_per_epoch, 3),
            "best_val_bpc": round(val_bpc, 4), "best_step": step, "train_bpc": train_bpc,
            "hyperparameters": hyper, "device": str(device), "seconds": seconds,
            "torch_version": str(torch.__version__), "lstmviz_version": __version__, "history": seen}
        try:
            if improved:
                save_checkpoint(output, model, vocab, info)
            if folder is not None and step in due:
                written.append(snapshots.write_snapshot(folder, step, model, vocab, info, train_bpc=train_bpc,
                                                        val_bpc=val_bpc, device=device))
            save_atomic({
                "format": STATE_FORMAT, "version": 1, "steps": step, "seconds": seconds,
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(), "history": seen}, state_path(output))
        except DiskFull as e:
            kept = (f"{output} holds the best checkpoint so far (step {best_step}, validation {best:.4f} "
                    f"bits/{symbol}); free some space, then continue with --resume {output}"
                    if math.isfinite(best) and output.exists() else
                    "no checkpoint was written; free some space or write elsewhere with -o")
            raise OptionError(f"no space left on the device while writing {e.path.name} at step {step}; "
                              f"{kept}") from None
        history, last_val, evaluated_at, last_info = seen, val_bpc, step, info
        if improved:
            best, best_step = val_bpc, step

    try:  # from the first message on, Ctrl-C ends in a final validation and a saved checkpoint
        log.info("training %s parameters on %s: %d streams x %d steps, %d steps per epoch, "
                 "vocabulary %d", f"{n_params:,}", device, batches.batch_size, config.seq_len,
                 batches.steps_per_epoch, len(vocab))
        with progress_bar(total=total, initial=step, desc="train", unit="step",
                          enabled=progress) as bar:
            while step < total:
                if time.monotonic() - start > limit:
                    stopped = "time limit"
                    break
                x, y, fresh = batches.batch(step)
                if fresh:
                    hidden = None
                logits, hidden = model(x.to(device), hidden)  # (B, T, V)
                hidden = tuple(h.detach() for h in hidden)  # truncated backpropagation through time
                loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                                   y.to(device).view(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if config.clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                opt.step()
                step += 1
                chars += y.numel()
                bpc = loss.item() / _LN2
                ema = bpc if math.isnan(ema) else 0.95 * ema + 0.05 * bpc
                if step % config.eval_every == 0 or step in due:
                    checkpoint_now()
                speed = chars / (time.monotonic() - start)
                val_shown = "-" if math.isnan(last_val) else f"{last_val:.3f}"
                bar.set_postfix_str(f"train {ema:.3f}, val {val_shown} bits/{symbol}, "
                                    f"{speed:,.0f} {symbol}/s", refresh=False)
                bar.update()
            else:
                stopped = "steps" if config.steps is not None else "epochs"
    except KeyboardInterrupt:
        stopped = "interrupted"
    if evaluated_at != step:
        checkpoint_now()
    if not math.isfinite(best):
        raise OptionError(f"training diverged: the validation loss is {last_val} at step {step}, so "
                          f"no checkpoint was written to {output}; lower --lr or --clip")
    if folder is not None:
        written += snapshots.finish(folder, output, step, model, vocab, last_info, last_val, device)
        missed = sorted(s for s in due if s > step)
        if missed:
            log.warning("stopped at step %d, before the snapshots planned at step(s) %s; give --steps "
                        "that the run can reach to spread them over it", step, ", ".join(map(str, missed)))
    elapsed = time.monotonic() - start
    return TrainResult(output, step, step / batches.steps_per_epoch, best, best_step,
                       seconds_before + elapsed, stopped, chars / max(elapsed, 1e-9), history, symbol,
                       written)

