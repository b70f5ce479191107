"""What an exported figure shows, as one frozen record: neurons, span and every display option.

``lstmviz export`` and the dashboard's Export button build an :class:`ExportSpec`; the renderers
(:func:`lstmviz.render.export.render`, :func:`lstmviz.render.snippet.gather`) and the command
recorded in each snippet (:func:`lstmviz.render.export.export_command`) read it. An option is added
here once: its field's default is the CLI's default, and the recorded command writes it as
``--field-name`` whenever it differs from that default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields

from lstmviz.errors import OptionError
from lstmviz.names import Neuron
from lstmviz.render.palette import PALETTES
from lstmviz.render.style import MIN_COLUMNS, label_columns, screen_columns

FORMATS = ("html", "svg")


def as_neuron(neuron: Neuron | str) -> Neuron:
    """Accept ``Neuron`` objects and ``"layer1.c.117"`` strings alike.

    >>> as_neuron("layer1.c.117")
    Neuron(layer=1, kind='c', unit=117)
    """
    return neuron if isinstance(neuron, Neuron) else Neuron.parse(str(neuron))


@dataclass(frozen=True)
class ExportSpec:
    """One figure: positions [start, start + length) coloured by each neuron, and how it looks.

    Checked when made, so every renderer can trust it: neurons are parsed (strings are accepted)
    into a tuple, and no neuron, an empty span, an unknown palette or format, or a width under
    ``MIN_COLUMNS`` (but 0) is refused. A width equal to the dashboard's (74 columns with strips,
    159 without, less the room of the labels of several neurons:
    :func:`~lstmviz.render.style.screen_columns`) is stored as the default, None, so two specs of
    the same figure are equal and record the same command. Whether the neurons and the span exist
    depends on the file, and is checked when the figure is rendered.

    Attributes:
        neurons: one band per neuron, e.g. ``("layer1.c.117",)``.
        start: first position shown.
        length: number of positions shown.
        palette: ``"blog"``, ``"diverging"`` or ``"colorblind"``, as in the dashboard.
        strips: show the top-5 predictions beneath each character.
        fragment: HTML: only the ``<div>`` (styles scoped under a unique class), not a whole page;
            SVG: no XML declaration, for an ``<svg>`` inlined into HTML.
        title: a heading above the text.
        caption: text below the legend; newlines are kept.
        width: characters per line before wrapping; None (the default) wraps where the dashboard's
            view does at its widest, so a figure is as wide as the screen; 0 wraps only at newlines.
        raw_c: colour the cell state c itself, not tanh(c), over ± the larger magnitude of
            the unit's 1st and 99th percentiles in the whole file (beyond it, clipped).
        format: ``"html"`` or ``"svg"``.

    Raises:
        UnknownActivation: a neuron that is not written ``layer.kind.unit``.
        OptionError: no neuron, an empty span, an unknown palette or format, or a width of 1 to 9 or
            below 0.

    >>> spec = ExportSpec(["layer1.c.117"], 1200, 400, strips=True)
    >>> spec.neurons, spec.palette
    ((Neuron(layer=1, kind='c', unit=117),), 'blog')
    """

    neurons: Sequence[Neuron | str]
    start: int
    length: int
    palette: str = "blog"
    strips: bool = False
    fragment: bool = False
    title: str | None = None
    caption: str | None = None
    width: int | None = None
    raw_c: bool = False
    format: str = "html"

    def __post_init__(self) -> None:
        object.__setattr__(self, "neurons", tuple(as_neuron(n) for n in self.neurons))
        if not self.neurons:
            raise OptionError("no neuron given; name one, e.g. --neuron layer0.c.3")
        if self.length < 1:
            raise OptionError(f"the span is empty (length {self.length}); give a length of 1 or more")
        if self.palette not in PALETTES:
            raise OptionError(f"unknown palette {self.palette!r}; choose one of {', '.join(PALETTES)}")
        if self.width is not None and (self.width < 0 or 0 < self.width < MIN_COLUMNS):
            raise OptionError(f"the line width is {self.width}; give {MIN_COLUMNS} or more characters per "
                              "line, or 0 to break lines only at newlines")
        if self.width == self._screen_columns():
            object.__setattr__(self, "width", None)
        if self.format not in FORMATS:
            raise OptionError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")

    @property
    def columns(self) -> int:
        """Characters per line: the width given, or the dashboard's (0: break only at newlines)."""
        return self._screen_columns() if self.width is None else self.width

    def _screen_columns(self) -> int:
        return screen_columns(self.strips, label_columns([str(n) for n in self.neurons]))

    @property
    def stop(self) -> int:
        """One past the last position shown."""
        return self.start + self.length


# The options, in the order the recorded command lists them, with their defaults (the CLI's too).
DEFAULTS = {f.name: f.default for f in fields(ExportSpec) if f.default is not MISSING}
