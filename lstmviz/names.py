"""Canonical activation names and their HDF5 paths; the only place either is spelled out.

Grammar (``L`` is 0-based like torch's ``weight_ih_l0``; the kinds are the rows of
:data:`lstmviz.kinds.KINDS`, gate order torch.nn.LSTM's)::

    layer{L}.h   layer{L}.c              [T, H]
    layer{L}.gates.{i,f,g,o}             [T, H]  after the nonlinearity

:func:`act_name` and :func:`parse_name` are each other's inverse: ``act_name(*parse_name(n)) == n``.
A *neuron* is a name plus a unit, ``layer1.c.117``: a :class:`Neuron` is the only thing that
writes or reads one.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

from lstmviz.errors import UnknownActivation
from lstmviz.kinds import KINDS

_KIND = "|".join(re.escape(k) for k in KINDS)
_NAME = re.compile(rf"^layer(?P<layer>\d+)\.(?P<kind>{_KIND})$")
_NEURON = re.compile(rf"^layer(?P<layer>\d+)\.(?P<kind>{_KIND})\.(?P<unit>\d+)$")


def act_name(layer: int, kind: str) -> str:
    """Build the dotted activation name of one kind (a key of ``KINDS``) in one layer.

    >>> act_name(1, "c")
    'layer1.c'
    >>> act_name(0, "gates.f")
    'layer0.gates.f'
    """
    if kind not in KINDS:
        raise UnknownActivation(f"{kind!r} is not a kind of activation; use one of {', '.join(KINDS)}")
    if _whole(layer) is None:
        raise UnknownActivation(f"layer {layer!r} is not a layer number; layers count 0, 1, 2, ...")
    return f"layer{layer}.{kind}"


def _whole(value: object) -> int | None:
    """A count (a layer or unit number) as an int, numpy's integers included; None for anything else."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None


def parse_name(name: str) -> tuple[int, str]:
    """Split an activation name into (layer, kind), kind being a key of ``KINDS``.

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
    """One unit of one activation, written ``layer1.c.117``.

    >>> n = Neuron(1, "c", 117)
    >>> str(n), n.name
    ('layer1.c.117', 'layer1.c')
    >>> Neuron(*parse_name("layer0.gates.f"), 3)
    Neuron(layer=0, kind='gates.f', unit=3)
    """

    layer: int
    kind: str
    unit: int

    def __post_init__(self) -> None:
        if _whole(self.unit) is None:
            raise UnknownActivation(f"unit {self.unit!r} is not a unit number; units count 0, 1, 2, ...")
        object.__setattr__(self, "unit", _whole(self.unit))  # numpy's integers become int: JSON-ready
        object.__setattr__(self, "layer", _whole(self.layer))
        act_name(self.layer, self.kind)  # refuses a kind or layer that does not exist

    @property
    def name(self) -> str:
        """The activation the unit belongs to, e.g. ``layer1.c``."""
        return act_name(self.layer, self.kind)

    def __str__(self) -> str:
        return f"{self.name}.{self.unit}"

    @classmethod
    def parse(cls, text: str) -> Neuron:
        """Read ``layer1.c.117`` (or ``layer0.gates.f.3``).

        >>> Neuron.parse("layer1.c.117")
        Neuron(layer=1, kind='c', unit=117)
        """
        m = _NEURON.match(text.strip())
        if not m:
            raise UnknownActivation(
                f"{text!r} is not a neuron; write layer.kind.unit, e.g. 'layer1.c.117' or "
                "'layer0.gates.f.3'"
            )
        return cls(int(m["layer"]), m["kind"], int(m["unit"]))
