"""Where a cell's value comes from, as a figure: the text before it shaded by each character's contribution.

The window of a :class:`~lstmviz.intervene.provenance.Provenance` is laid out as an export is
(:mod:`lstmviz.render.snippet`), one band coloured on a diverging palette over ``±`` the largest
contribution, and written by the same renderers (:mod:`lstmviz.render.html`,
:mod:`lstmviz.render.svg`): self-contained, every text escaped, no scripts, and a comment (HTML) or
``<metadata>`` (SVG) that says what it shows and the command that recreates it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from lstmviz import __version__
from lstmviz.intervene.provenance import Provenance
from lstmviz.render import html, svg
from lstmviz.render.export import _plain, shell_quote
from lstmviz.render.palette import lut_index
from lstmviz.render.snippet import Band, Snippet, display_chars, wrap
from lstmviz.render.spec import DEFAULTS
from lstmviz.render.style import screen_columns
from lstmviz.store.reader import States


def provenance_command(source_name: str, prov: Provenance, back: int, output: str | None = None) -> str:
    """The ``lstmviz provenance`` command that recreates a figure (only the file's name, never its folder).

    >>> from lstmviz.names import Neuron
    >>> p = Provenance(Neuron(2, "c", 89), Neuron(2, "h", 89), 12345, 10346, 0.5, np.zeros(2000), 0.5, "")
    >>> provenance_command("runs/val.h5", p, 2000, "out/fig.svg")
    'lstmviz provenance val.h5 --neuron layer2.h.89 --at 12345 --back 2000 -o fig.svg'
    """
    words = ["lstmviz", "provenance", shell_quote(Path(source_name).name), "--neuron", str(prov.asked),
             "--at", str(prov.position), "--back", str(back)]
    if output is not None:
        words += ["-o", shell_quote(Path(output).name)]
    return " ".join(words)


def caption(prov: Provenance) -> str:
    """What the figure shows, in two lines: the sum, and how far back its bulk lies."""
    n = prov.position - prov.start + 1
    held = prov.look_back(0.9)
    where = f"the last {held:,} characters" if held else f"older characters than these {n:,}"
    return (f"c = {prov.value:.4g} = {prov.contributions.sum():.4g} written by these {n:,} characters "
            f"+ {prov.remainder:.4g} kept from older ones\n"
            f"90 % of the absolute contribution comes from {where}")


def comment(states: States, prov: Provenance, command: str) -> str:
    """The figure's provenance lines, safe inside ``<!-- -->`` as those of :mod:`lstmviz.render.export`."""
    attrs = states.attrs

    def described(name: str, sha: str) -> str:
        return f"{_plain(str(attrs.get(name, '?')))} sha256 {_plain(str(attrs.get(sha, '?')))}"

    return "\n".join([
        f"lstmviz {__version__} provenance",
        f"file: {_plain(states.path.name)}",
        f"model: {described('model_path', 'model_sha256')}",
        f"text: {described('text_path', 'text_sha256')}",
        f"cell: {prov.neuron} at position {prov.position}, window {prov.start} to {prov.position}",
        f"gates: {_plain(prov.source)}",
        f"command: {command}",
    ])


def contribution_figure(states: States, prov: Provenance, *, fmt: str = "html",
                        palette: str = DEFAULTS["palette"], command: str, width: int | None = None,
                        fragment: bool = False) -> str:
    """The window of ``prov`` shaded by contribution, as a whole HTML page or a standalone SVG.

    ``width`` is characters per line; None wraps where the dashboard's text does. ``fragment``
    gives the ``<div>`` (or ``<svg>``) alone, for a notebook or a page of one's own.
    """
    chars = display_chars(states.symbols(prov.start, prov.position + 1), states.vocab.byte_level)
    values = prov.contributions.astype(np.float32)
    largest = float(np.abs(prov.contributions).max()) or 1.0
    band = Band(prov.neuron, lut_index(values, -largest, largest), -largest, largest,
                shows=f"contribution to c at {prov.position}")
    columns = screen_columns(False) if width is None else width
    snippet = Snippet(prov.start, chars, [band], None, None, wrap(chars, columns), palette, raw_c=False)
    text = comment(states, prov, command)
    title = f"Where {prov.neuron} at position {prov.position} comes from"
    scope = "lv-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    if fmt == "svg":
        return svg.document(snippet, scope=scope, metadata=text, title=title, caption=caption(prov),
                            fragment=fragment)
    body = html.fragment(snippet, scope=scope, comment=text, title=title, caption=caption(prov))
    return body if fragment else html.page(body, title=f"{title} (lstmviz)")
