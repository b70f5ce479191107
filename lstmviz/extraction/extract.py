"""Run a char-LSTM over a whole text and stream every activation and prediction into HDF5.

By default the text is read as one continuous stream, exactly as the model would read it: blocks of
:data:`~lstmviz.store.spec.CHUNK_ROWS` rows pass their state on, so memory stays bounded while the result
equals a single pass of ``nn.LSTM`` over the whole text. With ``streams=N`` the text is cut into N
pieces read side by side (the batch dimension), each started ``burn_in`` characters early from a
zero state; the deviation this causes is measured on a sample and stored with the file.

The token ids themselves go to the output file first and are read back block by block, so not even
the text needs to fit in memory. See ``docs/extraction.md``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmviz import __version__
from lstmviz.devices import resolve_device
from lstmviz.errors import OptionError, StoreError, TextError
from lstmviz.extraction.options import Options
from lstmviz.extraction.parallel_streams import burn_in, measure_deviation, plan_streams, token_rows
from lstmviz.extraction.summarize import UnitSummary
from lstmviz.extraction.two_stage import run_ahead, thread_split
from lstmviz.files import check_output
from lstmviz.intervene.horizon import Horizons
from lstmviz.kinds import CELL_GATES, KINDS, Kind
from lstmviz.model.config import LSTMConfig
from lstmviz.model.encoding import (
    MIN_TOKENS,
    Encoder,
    TextScan,
    UnknownPolicy,
    encode_pieces,
    scan_text,
)
from lstmviz.model.loading import LoadedModel, load_model
from lstmviz.model.runner import Hidden, State, UnrolledLSTM
from lstmviz.names import act_name, parse_name
from lstmviz.progress import progress_bar
from lstmviz.store.spec import CHUNK_ROWS, PREDICTION_KEYS, SEGMENT, Predictions, top_k
from lstmviz.store.writer import BackgroundWrites, StatesWriter

log = logging.getLogger(__name__)

# The cell-state solve runs in float64, which Apple's MPS lacks; other accelerators are untested.
EXTRACT_DEVICES = ("cpu", "cuda")
F16_ERROR_BOUND = 2.0**-12  # half a float16 step just below 1: the worst rounding of |x| <= 1
_CPU_BLOCK_BUDGET = 256 << 20  # bytes of float32 activations per block; a quarter of a GPU's memory
_CPU_C_KEEP = 64 << 20  # c kept for its histograms' second pass; beyond, c is read back from the file


def activation_names(n_layer: int, gates: bool) -> list[str]:
    """Names stored for a model, in file order: per layer h, c, then the gates.

    >>> activation_names(1, True)
    ['layer0.h', 'layer0.c', 'layer0.gates.i', 'layer0.gates.f', 'layer0.gates.g', 'layer0.gates.o']
    """
    return [act_name(layer, key) for layer in range(n_layer) for key, kind in KINDS.items()
            if gates or not kind.is_gate]


def default_output(model_path: str | Path, text_path: str | Path) -> Path:
    """``cache/<model stem>__<text stem>.h5``, relative to the current folder.

    >>> default_output("runs/austen.pt", "data/persuasion.txt").as_posix()
    'cache/austen__persuasion.h5'
    """
    return Path("cache") / f"{Path(model_path).stem}__{Path(text_path).stem}.h5"


def predictions_of(logits: torch.Tensor, next_tokens: torch.Tensor) -> Predictions:
    """Top-5 and true-next-symbol statistics for logits (T, V); ``next_tokens`` (T,) uses -1 at the end.

    A vocabulary of fewer than 5 symbols has all of them ranked.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (T, V)
    top_logp, top_ids = logp.topk(top_k(logp.shape[-1]), dim=-1)
    has_next = next_tokens >= 0
    nll = -logp.gather(1, next_tokens.clamp(min=0)[:, None])[:, 0]  # (T,)
    nll = torch.where(has_next, nll, torch.full_like(nll, math.nan))
    return Predictions(
        top_ids=top_ids.int().cpu().numpy(),
        top_probs=top_logp.exp().cpu().numpy(),
        p_next=torch.exp(-nll).cpu().numpy(),
        loss_nats=nll.cpu().numpy(),
        loss_bits=(nll / math.log(2)).cpu().numpy(),
    )


def extract_file(
    model: str | Path | LoadedModel,
    text_path: str | Path,
    out_path: str | Path | None = None,
    options: Options | None = None,
    *,
    unknown: str = "auto",
    force: bool = False,
    vocab: str | Path | None = None,
    trust_pickle: bool = False,
) -> Path:
    """Extract a checkpoint's activations over a text file: what ``lstmviz extract`` runs.

    ``model`` is a checkpoint's path, or a model already loaded (:func:`load_model`; ``vocab`` and
    ``trust_pickle`` then do nothing). Everything that could stop the run (model, text, vocabulary,
    output) is checked before the first character is processed. Returns the output path once the
    file is complete.
    """
    options = options or Options()
    resolve_device(options.device, supported=EXTRACT_DEVICES)
    model_path = model.path if isinstance(model, LoadedModel) else model
    default = default_output(model_path, text_path)
    inputs = tuple(p for p in (model_path, text_path, vocab) if p is not None)
    out = check_output(default if out_path is None else out_path, inputs, example=default.name, force=force)
    loaded = _loaded(model, vocab, trust_pickle)
    encoder = Encoder(loaded.vocab, UnknownPolicy.parse(unknown))
    scan = scan_text(text_path, encoder)
    attrs = _text_attrs(scan, encoder, Path(text_path).name)
    return _extract(loaded, scan.n_tokens, encode_pieces(text_path, encoder), out, options, attrs)


def extract_string(
    model: str | Path | LoadedModel,
    text: str,
    out_path: str | Path,
    options: Options | None = None,
    *,
    unknown: str = "auto",
    force: bool = False,
    vocab: str | Path | None = None,
    trust_pickle: bool = False,
) -> Path:
    """Extract over a text held in memory, as :func:`extract_file` does over a file holding it.

    For a notebook's strings: the same checks, unknown-character policy and attributes, except
    that the file records no text name (``lstmviz info`` shows ``(tokens)``).

    Raises:
        TextError: the text has fewer than two usable characters, or a lone surrogate.
    """
    options = options or Options()
    resolve_device(options.device, supported=EXTRACT_DEVICES)
    model_path = model.path if isinstance(model, LoadedModel) else model
    inputs = tuple(p for p in (model_path, vocab) if p is not None)
    out = check_output(out_path, inputs, example=default_output(model_path, "text").name, force=force)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise TextError(f"the text holds a lone surrogate U+{ord(text[e.start]):04X} at index {e.start}, "
                        "which is not a character; remove it or decode the text with errors='replace'"
                        ) from None
    loaded = _loaded(model, vocab, trust_pickle)
    encoder = Encoder(loaded.vocab, UnknownPolicy.parse(unknown))
    ids, lacking = encoder.encode(text)
    if len(ids) < MIN_TOKENS:
        raise TextError(f"the text has {len(ids)} usable character(s); at least {MIN_TOKENS} are needed "
                        "(each position is scored on the character after it)")
    scan = TextScan(len(data), len(text), len(ids), sum(lacking.values()), hashlib.sha256(data).hexdigest())
    return _extract(loaded, len(ids), iter([ids]), out, options, _text_attrs(scan, encoder))


def _loaded(model: str | Path | LoadedModel, vocab: str | Path | None, trust_pickle: bool) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    return load_model(model, vocab=vocab, trust_pickle=trust_pickle)


def _text_attrs(scan: TextScan, encoder: Encoder, name: str | None = None) -> dict[str, Any]:
    """What the file records of its text (its name only when it came from a file)."""
    attrs = {} if name is None else {"text_path": name}
    return {**attrs, "text_sha256": scan.sha256, "text_bytes": scan.n_bytes, "text_chars": scan.n_chars,
            "unknown": str(encoder.policy), "unknown_count": scan.n_unknown}


def extract(
    loaded: LoadedModel,
    tokens: np.ndarray,
    out_path: str | Path,
    options: Options | None = None,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Extract over token ids (T,) already in memory; returns the path once the file is complete.

    >>> # extract(load_model("austen.pt"), vocab.encode(text), "cache/a.h5", Options(gates=True))
    """
    tokens = np.asarray(tokens)
    if len(tokens) < 2:
        raise OptionError(f"need at least 2 tokens to extract, got {len(tokens)}")
    return _extract(loaded, len(tokens), iter([tokens]), Path(out_path), options or Options(), attrs)


def _extract(loaded, n_tokens, pieces, out, options, attrs) -> Path:
    """Write tokens, then activations, predictions and summaries; atomic, tidy on any failure."""
    started = time.perf_counter()
    device = str(resolve_device(options.device, supported=EXTRACT_DEVICES))
    if options.streams < 1 or options.burn_in < 0:
        raise OptionError("--streams must be at least 1 and --burn-in at least 0")
    cfg = loaded.model.config
    names = activation_names(cfg.n_layer, options.gates)
    meta = {
        "lstmviz_version": __version__,
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_path": Path(loaded.path).name,
        "model_source": str(Path(loaded.path).resolve()),  # where interventions look for it again
        "model_sha256": loaded.sha256,
        "model_layout": loaded.layout,
        "device": f"{device} ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else device,
        "gates": options.gates,
        **(attrs or {}),
    }
    writer = None
    try:
        writer = StatesWriter(out, n_tokens=n_tokens, config=cfg, vocab=loaded.vocab, names=names,
                              dtype=options.dtype, attrs=meta)
        at = 0
        for ids in pieces:
            writer.write_tokens(at, ids.astype(np.int32))
            at += len(ids)
        decoder = loaded.model.decoder
        writer.write_decoder(decoder.weight.detach().cpu().numpy(),
                             None if decoder.bias is None else decoder.bias.detach().cpu().numpy())
        run = UnrolledLSTM(loaded.model, device)
        result = _Pass(run, writer, n_tokens, names, options).execute()
        result["elapsed_s"] = round(time.perf_counter() - started, 3)
        result["chars_per_s"] = round(n_tokens / max(result["elapsed_s"], 1e-9), 1)
        return writer.finish(result)
    except OSError as e:
        if writer is not None:
            writer.abort()
        if e.errno == errno.ENOSPC or "No space left" in str(e) or "errno = 28" in str(e):
            raise StoreError(
                f"no space left on the device while writing {out}; nothing was kept. Free some space "
                "or write elsewhere with -o, and note the file needs about "
                f"{_size_estimate(n_tokens, cfg.n_hidden, names, options.dtype) / 1e6:,.0f} MB"
            ) from None
        raise
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _block_budget(device: torch.device) -> int:
    """Bytes of float32 activations one block may take on ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 4
    return _CPU_BLOCK_BUDGET


def block_rows(config: LSTMConfig, n_names: int, streams: int, device: torch.device) -> int:
    """Positions per block of the extraction pass: :data:`CHUNK_ROWS`, fewer where a block would not fit.

    Replaying an extraction (:mod:`lstmviz.intervene.replay`) cuts the text at the same places, so
    that it computes what the extraction computed, bit for bit.
    """
    per_row = streams * (config.n_hidden * (n_names + 3) + 4 * config.vocab_size) * 4
    budget = _block_budget(device)
    rows = CHUNK_ROWS if per_row * CHUNK_ROWS <= budget else budget // per_row // SEGMENT * SEGMENT
    return max(SEGMENT, rows)


def _size_estimate(n_tokens: int, n_hidden: int, names: list[str], dtype: str) -> int:
    """Bytes the activations of a file take (uncompressed)."""
    return sum(n_tokens * n_hidden * np.dtype(_kind(n).storage_dtype(dtype)).itemsize for n in names)


def _kind(name: str) -> Kind:
    return KINDS[parse_name(name)[1]]


def _unbounded(names: list[str]) -> list[str]:
    """The activations with no fixed range (c), whose histograms need a second pass over them."""
    return [n for n in names if _kind(n).value_range is None]


class _Pass:
    """One extraction pass: the block loop, summaries, and (with streams) the deviation sample."""

    def __init__(self, run: UnrolledLSTM, writer: StatesWriter, n_tokens: int, names: list[str],
                 options: Options):
        self.run, self.writer, self.T, self.names, self.opt = run, writer, n_tokens, names, options
        self.H = run.model.config.n_hidden
        self.device = run.device
        self.B, self.L = plan_streams(n_tokens, options.streams)
        if self.B != options.streams:
            log.info("reading %d streams of %d characters (asked for %d): streams are whole chunks",
                     self.B, self.L, options.streams)
        self.rows = block_rows(run.model.config, len(names), self.B, self.device)
        budget = _block_budget(self.device)
        self.summaries = {n: UnitSummary(parse_name(n)[1], self.H, self.device, self._stored(n))
                          for n in names}
        # c's histograms need a second pass over c; keep it in memory when it fits the budget
        c_names = _unbounded(names)
        fits = n_tokens * self.H * 4 * len(c_names) <= (budget if self.device.type == "cuda" else _CPU_C_KEEP)
        self.c_kept: dict[str, list[torch.Tensor]] | None = {n: [] for n in c_names} if fits else None
        log.debug("blocks of %d rows; c %s for its histograms", self.rows,
                  "kept in memory" if fits else "read back from the file")
        self.writes: BackgroundWrites | None = None
        self.f16_error = torch.zeros((), device=self.device)
        # Memory horizons follow each unit's gates in text order: one stream only (several start
        # from burn-in states, whose older contributions are unknown); else `lstmviz profile`.
        self.horizons = [Horizons(self.H, device=self.device) for _ in range(run.model.config.n_layer)] \
            if options.gates and self.B == 1 else None

    def _stored(self, name: str) -> torch.dtype:
        """The dtype an activation is written in (c stays float32)."""
        return getattr(torch, _kind(name).storage_dtype(self.opt.dtype))

    def execute(self) -> dict[str, Any]:
        """Process every block, then the second pass over c; returns attributes for the file."""
        starts = [s * self.L for s in range(self.B)]
        state = None
        if self.B > 1:
            state = burn_in(self.run, self.writer.read_tokens, self.T, starts, self.opt.burn_in, self.rows)
        bar = progress_bar(total=self.T, unit="char", unit_scale=True, desc="extract",
                           enabled=self.opt.progress)
        self.writes = BackgroundWrites(self.writer)
        blocks = [[(s + j, min(s + j + self.rows, s + self.L, self.T)) for s in starts]
                  for j in range(0, self.L, self.rows)]
        try:
            ahead = run_ahead(self._hidden, blocks, state, thread_split(self.device, self.H))
            with bar, contextlib.closing(ahead):
                for spans, (hidden, nxt) in zip(blocks, ahead, strict=True):
                    self._complete(spans, hidden, nxt)
                    bar.update(sum(max(0, b - a) for a, b in spans))
            self.writes.drain()
        except BaseException:
            self.writes.close(cancel=True)
            raise
        self.writes.close()
        self._second_pass()
        for name, summary in self.summaries.items():
            layer, kind = parse_name(name)
            extra = self.horizons[layer].result() if self.horizons and kind == "c" else {}
            self.writer.write_summary(name, summary.result() | extra)
        attrs: dict[str, Any] = {
            "streams": self.B,
            "streams_requested": self.opt.streams,
            "stream_length": self.L,
            "burn_in": self.opt.burn_in if self.B > 1 else 0,
            "f16_error_bound": F16_ERROR_BOUND if self.opt.dtype == "float16" else 0.0,
        }
        if self.opt.dtype == "float16":
            attrs["f16_error_h_max"] = float(self.f16_error)
        if self.B > 1:
            attrs.update(measure_deviation(self.run, self.writer, n_tokens=self.T, stream_length=self.L,
                                           K=self.opt.burn_in, rows=self.rows, dtype=self.opt.dtype))
        return attrs

    def _hidden(self, spans: list[tuple[int, int]], state: State | None
                ) -> tuple[tuple[Hidden, torch.Tensor], State]:
        """The recurrence over one block of every stream, and the true next tokens (-1: none)."""
        width = max(b - a for a, b in spans)
        ids = torch.from_numpy(token_rows(self.writer.read_tokens, self.T, spans, width))
        nxt = torch.from_numpy(token_rows(self.writer.read_tokens, self.T, spans, width, shift=1))
        hidden = self.run.hidden(ids.clamp(min=0), state)
        return (hidden, nxt), hidden.final

    def _complete(self, spans: list[tuple[int, int]], hidden: Hidden, nxt: torch.Tensor) -> None:
        """Finish one block: c, gates and predictions; summarise on the device, queue the rows."""
        width = max(b - a for a, b in spans)
        out = self.run.complete(hidden, gates=self.opt.gates)
        for layer, horizons in enumerate(self.horizons or ()):
            (a, b), = spans
            horizons.update(*(out.acts[act_name(layer, gate)][0, : b - a] for gate in CELL_GATES))
        preds = predictions_of(out.logits.reshape(-1, out.logits.shape[-1]), nxt.reshape(-1).to(self.device))
        full = all(b - a == width for a, b in spans) and (len(spans) == 1 or width % SEGMENT == 0)
        stored = {}
        for name in self.names:
            x = out.acts[name]  # (B, width, H) float32
            kind = parse_name(name)[1]
            stored[name] = x.to(self._stored(name))
            if kind == "h" and stored[name] is not x:
                err = (stored[name][0, :SEGMENT].float() - x[0, :SEGMENT]).abs().max()
                self.f16_error = torch.maximum(self.f16_error, err)
            if full:
                self.summaries[name].update(x, [a for a, _ in spans])
            for s, (a, b) in enumerate(spans):
                if b > a and not full:
                    self.summaries[name].update(x[s, : b - a], a)
                if b > a and self.c_kept is not None and name in self.c_kept:
                    self.c_kept[name].append(x[s, : b - a])
        for s, (a, b) in enumerate(spans):
            if b > a:
                rows = slice(s * width, s * width + b - a)
                self.writes.rows(a, {n: v[s, : b - a].cpu().numpy() for n, v in stored.items()},
                                 Predictions(*(getattr(preds, k)[rows] for k in PREDICTION_KEYS)))

    def _second_pass(self) -> None:
        """Histogram c over each unit's own [min, max], now that the first pass has found them."""
        c_names = _unbounded(self.names)
        bar = progress_bar(total=self.T * len(c_names), unit="char", unit_scale=True,
                           desc="c histograms", enabled=self.opt.progress, leave=False)
        with bar:
            for name in c_names:
                if self.c_kept is not None:
                    for x in self.c_kept.pop(name):
                        self.summaries[name].update_hist(x)
                        bar.update(len(x))
                    continue
                step = 4 * CHUNK_ROWS
                for a in range(0, self.T, step):
                    rows = self.writer.read_rows(name, a, min(a + step, self.T))
                    self.summaries[name].update_hist(torch.from_numpy(rows))
                    bar.update(len(rows))
