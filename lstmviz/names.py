"""Canonical activation names and their HDF5 paths; the only place either is spelled out.

Grammar (``L`` is 0-based like torch's ``weight_ih_l0``; gate order is torch.nn.LSTM's)::

    layer{L}.h   layer{L}.c              [T, H]
    layer{L}.gates.{i,f,g,o}             [T, H]  after the nonlinearity

A *neuron* is a name plus a unit: ``layer1.c.117``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lstmviz.errors import UnknownActivation

GATES = ("i", "f", "g", "o")
KINDS = ("h", "c", *(f"gates.{g}" for g in GATES))

_NAME = re.compile(r"^layer(?P<layer>\d+)\.(?P<kind>h|c|gates\.[ifgo])$")
_NEURON = re.compile(r"^(?P<name>layer\d+\.(?:h|c|gates\.[ifgo]))\.(?P<unit>\d+)$")


def act_name(kind: str, layer: int, gate: str | None = None) -> str:
    """Build the dotted activation name.

    >>> act_name("c", 1)
    'layer1.c'
    >>> act_name("gates", 0, "f")
    'layer0.gates.f'
    """
    if kind == "gates":
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, not {gate!r}")
        return f"layer{layer}.gates.{gate}"
    if kind not in ("h", "c"):
        raise ValueError(f"kind must be 'h', 'c' or 'gates', not {kind!r}")
    return f"layer{layer}.{kind}"


def parse_name(name: str) -> tuple[int, str]:
    """Split an activation name into (layer, kind), kind being ``h``, ``c`` or ``gates.f`` etc.

    >>> parse_name("layer2.gates.o")
    (2, 'gates.o')
    """
    m = _NAME.match(name)
    if not m:
        raise UnknownActivation(
            f"{name!r} is not an activation name; use e.g. 'layer0.h', 'layer1.c' or 'layer0.gates.f'"
        )
    return int(m["layer"]), m["kind"]


def h5_path(name: str) -> str:
    """The HDF5 path of an activation: the dotted name with ``.`` replaced by ``/``.

    >>> h5_path("layer0.gates.f")
    '/layer0/gates/f'
    """
    return "/" + name.replace(".", "/")


@dataclass(frozen=True)
class Neuron:
    """One unit of one activation, written ``layer1.c.117``."""

    name: str
    unit: int

    @property
    def layer(self) -> int:
        """The 0-based layer the unit lives in."""
        return parse_name(self.name)[0]

    @property
    def kind(self) -> str:
        """``h``, ``c`` or ``gates.i`` / ``gates.f`` / ``gates.g`` / ``gates.o``."""
        return parse_name(self.name)[1]

    def __str__(self) -> str:
        return f"{self.name}.{self.unit}"

    @classmethod
    def parse(cls, text: str) -> Neuron:
        """Read ``layer1.c.117`` (or ``layer0.gates.f.3``).

        >>> Neuron.parse("layer1.c.117")
        Neuron(name='layer1.c', unit=117)
        """
        m = _NEURON.match(text.strip())
        if not m:
            raise UnknownActivation(
                f"{text!r} is not a neuron; write layer.kind.unit, e.g. 'layer1.c.117' or "
                "'layer0.gates.f.3'"
            )
        return cls(m["name"], int(m["unit"]))
