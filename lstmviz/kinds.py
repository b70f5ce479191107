"""The kinds of activation an extraction file holds: one row each, and every fact about a kind.

A kind is what follows the layer in an activation name (``layer1.gates.f`` is of kind ``gates.f``;
see :mod:`lstmviz.names`). Storage, summaries, validation, colours, legends, menus and the CLI all
read the facts below, so a new kind (a GRU's r, z and n gates) is a new row here, not an edit in
every module that names one. Rows are in file order: h, c, then the gates in ``torch.nn.LSTM``'s
order i, f, g, o (``c_t = f*c_{t-1} + i*g``, ``h_t = o*tanh(c_t)``).

Saturation follows Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent
Networks", section 4.2: a sigmoid gate is saturated below 0.1 or from 0.9 up, a tanh-shaped value
(h, g and tanh(c)) below -0.9 or from 0.9 up.

Torch- and numpy-free, so that any part of lstmviz (and the dashboard) can import it.
"""

from __future__ import annotations

from dataclasses import dataclass

TANH_RANGE = (-1.0, 1.0)
SIGMOID_RANGE = (0.0, 1.0)
DISPLAY_RANGES = {"tanh": TANH_RANGE}  # what each display function maps every real number into


@dataclass(frozen=True)
class Kind:
    """One kind of activation.

    >>> KINDS["gates.f"].label, KINDS["gates.f"].value_range, KINDS["c"].value_range
    ('forget gate', (0.0, 1.0), None)

    Attributes:
        key: the kind's part of an activation name: ``h``, ``c``, ``gates.i``, ...
        symbol: its letter in the LSTM's equations: ``h``, ``c``, ``i``, ...
        label: what people read for it, in menus, legends and lists: ``h``, ``forget gate``.
        gloss: a word that menus add to a one-letter label (``h (hidden)``); empty for the rest.
        value_range: the values an LSTM can give it; None where they are unbounded (c).
        display: the function shown and coloured instead of the value (``tanh`` for c, whose
            raw values grow without bound), or None to show the value itself.
        saturation: (low, high) on the shown value: below low, or at high and above, the unit
            counts as saturated.
        dtype: how extraction stores it: ``float16`` kinds follow ``lstmviz extract --dtype``
            (float16 by default), ``float32`` ones (c, which outgrows float16's precision) never
            go lower.
        colour: its colour where a plot shows several kinds side by side (gate saturation), or
            None for kinds no such plot shows.
    """

    key: str
    symbol: str
    label: str
    gloss: str
    value_range: tuple[float, float] | None
    display: str | None
    saturation: tuple[float, float]
    dtype: str
    colour: str | None

    @property
    def is_gate(self) -> bool:
        """Whether this is one of the layer's gates (stored only with ``lstmviz extract --gates``)."""
        return self.key.startswith("gates.")

    @property
    def display_range(self) -> tuple[float, float]:
        """The range of the shown value, over which it is coloured.

        >>> KINDS["c"].display_range, KINDS["gates.f"].display_range
        ((-1.0, 1.0), (0.0, 1.0))
        """
        if self.display is not None:
            return DISPLAY_RANGES[self.display]
        if self.value_range is None:
            raise ValueError(f"kind {self.key} is unbounded, so it needs a display function to be coloured")
        return self.value_range

    @property
    def symmetric(self) -> bool:
        """Whether its shown values lie on both sides of 0, so either sign can mean "on".

        >>> [k.key for k in KINDS.values() if k.symmetric]
        ['h', 'c', 'gates.g']
        """
        lo, hi = self.display_range
        return lo == -hi

    @property
    def switch(self) -> bool:
        """Whether it is a gate that opens and closes (a sigmoid), as the gate saturation plot shows.

        >>> [k.key for k in KINDS.values() if k.switch]
        ['gates.i', 'gates.f', 'gates.o']
        """
        return self.is_gate and not self.symmetric

    @property
    def menu_label(self) -> str:
        """The label with its gloss, for menus where a lone letter would not say enough.

        >>> KINDS["h"].menu_label, KINDS["gates.g"].menu_label
        ('h (hidden)', 'cell input g')
        """
        return f"{self.label} ({self.gloss})" if self.gloss else self.label

    def shown(self, raw: bool = False) -> str:
        """What a colour of this kind shows, for legends: the label, inside its display function.

        ``raw`` asks for the value itself even where a display function exists (raw c).

        >>> KINDS["c"].shown(), KINDS["c"].shown(raw=True), KINDS["gates.f"].shown()
        ('tanh(c)', 'c', 'forget gate')
        """
        return f"{self.display}({self.label})" if self.display and not raw else self.label

    def storage_dtype(self, requested: str = "float16") -> str:
        """The dtype an extraction asked for ``requested`` (``--dtype``) stores this kind in.

        >>> KINDS["h"].storage_dtype(), KINDS["c"].storage_dtype(), KINDS["h"].storage_dtype("float32")
        ('float16', 'float32', 'float32')
        """
        return "float32" if self.dtype == "float32" else requested


_TANH_SAT = (-0.9, 0.9)
_SIGMOID_SAT = (0.1, 0.9)

KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("h", "h", "h", "hidden", TANH_RANGE, None, _TANH_SAT, "float16", None),
    Kind("c", "c", "c", "cell", None, "tanh", _TANH_SAT, "float32", None),
    Kind("gates.i", "i", "input gate", "", SIGMOID_RANGE, None, _SIGMOID_SAT, "float16", "#1f77b4"),
    Kind("gates.f", "f", "forget gate", "", SIGMOID_RANGE, None, _SIGMOID_SAT, "float16", "#2ca02c"),
    Kind("gates.g", "g", "cell input g", "", TANH_RANGE, None, _TANH_SAT, "float16", None),
    Kind("gates.o", "o", "output gate", "", SIGMOID_RANGE, None, _SIGMOID_SAT, "float16", "#d62728"),
)}
GATES = tuple(k for k, kind in KINDS.items() if kind.is_gate)  # in torch.nn.LSTM's order
CELL_GATES = GATES[:3]  # i, f, g: what c_t = f_t * c_{t-1} + i_t * g_t is made of (o only reads c)
CHOICES = (*(k for k in KINDS if k not in GATES), "gates", *GATES)  # what a --kind option accepts


def kinds_named(choice: str) -> tuple[str, ...]:
    """The kinds one of :data:`CHOICES` stands for: itself, or every gate for ``gates``.

    >>> kinds_named("gates"), kinds_named("c")
    (('gates.i', 'gates.f', 'gates.g', 'gates.o'), ('c',))
    """
    return GATES if choice == "gates" else (choice,)
