"""What an edit did, as a figure: the text, the model's guesses before and after, and the change of loss.

An :class:`~lstmviz.intervene.intervention.Intervention` is laid out as an export with strips is
(:mod:`lstmviz.render.snippet`): the characters from the span's start to where the effect died out,
coloured by the edited unit as the edited run had it (the span underlined); under them the
unedited run's top-5 guesses, then the edited run's, each first guess the edit changed outlined;
and last a row coloured by the change of the true next character's loss, on a diverging scale of
± the largest change (blue where the edit helped, red where it hurt). The totals are the caption.
It is written by the export's renderers (:mod:`lstmviz.render.html`, :mod:`lstmviz.render.svg`):
self-contained, every text escaped, no scripts, and a comment (HTML) or ``<metadata>`` (SVG) that
says what it shows and the ``lstmviz intervene`` command that recreates it.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmviz import __version__
from lstmviz.intervene.edits import EditSpec
from lstmviz.intervene.intervention import AFTER, SETTLE, TOLERANCE, Intervention
from lstmviz.names import Neuron
from lstmviz.render import html, svg
from lstmviz.render.export import _plain, shell_quote, source_lines
from lstmviz.render.palette import display_values, lut_index
from lstmviz.render.snippet import Band, Guess, Snippet, colour_range, display_chars, wrap
from lstmviz.render.spec import DEFAULTS, FORMATS
from lstmviz.render.style import COL_PX, LEGEND_FONT_PX, quantity, screen_columns, strip_text
from lstmviz.render.svg import LABEL_ADVANCE
from lstmviz.store.reader import States

SMALLEST = 1e-3  # bits: the Δ scale spans at least ± this, so rounding noise stays pale
CAPTION_MIN = 60  # characters a caption's line may always hold, however narrow the figure


def intervention_command(source_name: str, edits: Sequence[EditSpec | str], start: int, stop: int, *,
                         settle: int = SETTLE, after: int = AFTER, tolerance: float = TOLERANCE,
                         output: str | None = None) -> str:
    """The ``lstmviz intervene`` command that recreates a figure (only the file's name, never its folder).

    Options at their defaults are left out.

    >>> intervention_command("runs/val.h5", ["layer2.c.89=zero"], 1200, 1260, output="out/fig.svg")
    'lstmviz intervene val.h5 --edit layer2.c.89=zero --span 1200:1260 -o fig.svg'
    """
    words = ["lstmviz", "intervene", shell_quote(Path(source_name).name)]
    for edit in edits:
        words += ["--edit", shell_quote(str(edit))]
    words += ["--span", f"{start}:{stop}"]
    for option, value, default in (("--settle", settle, SETTLE), ("--after", after, AFTER),
                                   ("--tolerance", tolerance, TOLERANCE)):
        if value != default:
            words += [option, f"{value:g}"]
    if output is not None:
        words += ["-o", shell_quote(Path(output).name)]
    return " ".join(words)


def totals_line(result: Intervention) -> str:
    """The totals in one line, as the figure's caption and the dashboard's panel say them."""
    t = result.totals()
    changed = len(t["top1_changed"])
    return (f"Δloss {t['delta_bits_span']:+.4f} bits over the span ({t['span_chars']:,} chars, "
            f"{t['bits_per_char_span']:+.4f} bits/char), {t['delta_bits_after']:+.4f} bits over the "
            f"{t['after_chars']:,} after it; first guess changed at {changed:,} position(s)")


def caption(result: Intervention, width: int = 0) -> str:
    """What the figure shows, in three lines: the edits, the totals, where the effect ended.

    Lines longer than ``width`` characters (0: any length) are wrapped, so that a narrow figure is
    not widened, and so shrunk, by its caption.
    """
    ended = ("the effect died out there" if result.settled
             else "the effect was still alive there")
    lines = [f"{', '.join(result.edits)} over positions {result.start} to {result.stop - 1}",
             totals_line(result),
             f"shown up to position {result.end - 1}: {ended}; every Δ is edited - unedited rerun"]
    return "\n".join(textwrap.fill(line, width) if width else line for line in lines)


def comment(states: States, result: Intervention, unit: Neuron, command: str) -> str:
    """The figure's provenance lines, safe inside ``<!-- -->`` as those of :mod:`lstmviz.render.export`."""
    return "\n".join([
        f"lstmviz {__version__} intervene",
        *source_lines(states, states.path.name),
        f"edits: {_plain('; '.join(result.edits))}",
        f"span: positions {result.start} to {result.stop - 1}, shown to {result.end - 1}",
        f"colour: {unit} as the edited run had it",
        f"command: {command}",
    ])


def _guesses(ids: np.ndarray, probs: np.ndarray, nxt: list[str], symbols: Sequence[str], byte_level: bool,
             changed: np.ndarray | None = None) -> list[list[Guess]]:
    shades = lut_index(probs, 0.0, 1.0)  # (n, k)
    return [[Guess(strip_text(symbols[t], byte_level), int(shades[i, r]), symbols[t] == nxt[i],
                   changed is not None and r == 0 and bool(changed[i]))
             for r, t in enumerate(map(int, row))] for i, row in enumerate(ids)]


def before_after(states: States, result: Intervention, unit: Neuron | str | None = None, *,
                 command: str, fmt: str = "html", palette: str = DEFAULTS["palette"],
                 raw_c: bool = False, width: int | None = None, fragment: bool = False) -> str:
    """The intervention as a whole HTML page (or one ``<div>``) or a standalone SVG.

    Args:
        states: the extraction the intervention was made on.
        result: what :func:`~lstmviz.intervene.intervention.intervene` returned.
        unit: the edited unit that colours the text (default: the first).
        command: the command recorded in the figure (:func:`intervention_command`).
        fmt: ``"html"`` or ``"svg"``.
        palette: the colour scale of the text.
        raw_c: colour c itself rather than tanh(c).
        width: characters per line; None wraps where the dashboard's text with strips does.
        fragment: HTML: only the ``<div>``; SVG: no XML declaration.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    neuron = Neuron.parse(str(unit)) if unit is not None else Neuron.parse(next(iter(result.units)))
    edited, _ = result.units[str(neuron)]
    vocab = states.vocab
    chars = display_chars(result.symbols, vocab.byte_level)
    lo, hi = colour_range(states, neuron, raw_c)
    band = Band(neuron, lut_index(display_values(neuron.kind, edited, raw_c), lo, hi), lo, hi,
                shows=f"{quantity(neuron.kind, raw_c)}, edited run")
    symbols = list(vocab.symbols)
    nxt = result.next_symbols
    base_ids, ids = result.base_top_ids, result.top_ids
    strips = _guesses(base_ids, result.base_top_probs, nxt, symbols, vocab.byte_level)
    changed = ids[:, 0] != base_ids[:, 0]
    after = _guesses(ids, result.top_probs, nxt, symbols, vocab.byte_level, changed)
    misses = [None if not n or n in (symbols[t] for t in row) else strip_text(n, vocab.byte_level)
              for n, row in zip(nxt, base_ids, strict=True)]
    delta = result.delta_bits
    finite = np.abs(delta[np.isfinite(delta)])
    largest = max(SMALLEST, float(finite.max()) if finite.size else 0.0)
    columns = screen_columns(True) if width is None else width
    snippet = Snippet(result.start, chars, [band], strips, misses, wrap(chars, columns), palette, raw_c,
                      edited=after, delta=delta, delta_max=largest, span=(0, result.stop - result.start))
    text = comment(states, result, neuron, command)
    fits = int(columns * COL_PX / (LEGEND_FONT_PX * LABEL_ADVANCE))  # a caption's characters per line
    words = caption(result, max(CAPTION_MIN, fits) if columns else 0)
    title = f"What if {', '.join(result.edits)} over {result.start}:{result.stop}"
    scope = "lv-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    if fmt == "svg":
        return svg.document(snippet, scope=scope, metadata=text, title=title, caption=words,
                            fragment=fragment)
    body = html.fragment(snippet, scope=scope, comment=text, title=title, caption=caption(result))
    return body if fragment else html.page(body, title=f"{title} (lstmviz)")
