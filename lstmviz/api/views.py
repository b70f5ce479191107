"""Lazy views of an extraction: its text, one activation, one neuron, each read a window at a time.

``ex.text[a:b]``, ``ex["layer1.c"][a:b, units]`` and ``ex["layer1.c.117"][a:b]`` read positions
[a, b) as one contiguous slice of the file (:meth:`~lstmviz.store.reader.States.window`) and pick
units in numpy, so no view ever reads more rows than it returns. Positions are strict, unlike a
list's: a slice past the end, running backwards or with a step is an error, not a shorter answer,
since a quietly shortened window would be read as the whole one. Negative positions count from the
end, as in numpy.

The reader's errors become the builtin ones Python code expects of an index (see
:func:`python_errors`), with the reader's own words, which are the command line's.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from lstmviz.errors import (
    BadIndex,
    PositionOutOfRange,
    SpanError,
    UnitOutOfRange,
    UnknownActivation,
    UnknownKey,
)
from lstmviz.names import Neuron, parse_name
from lstmviz.store.reader import States

Opened = Callable[[], States]  # the open file, or ExtractionClosed once it is closed


@contextlib.contextmanager
def python_errors() -> Iterator[None]:
    """Raise the reader's span and name errors as ``IndexError`` and ``KeyError`` subclasses.

    The message stays the reader's; errors that already are such a subclass pass unchanged.
    """
    try:
        yield
    except (PositionOutOfRange, UnknownKey, UnitOutOfRange):
        raise
    except SpanError as e:
        raise PositionOutOfRange(str(e)) from None
    except UnknownActivation as e:
        raise UnknownKey(str(e)) from None


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _counted(value: Any, default: int, n: int, what: str) -> int:
    """A slice bound: None is ``default``, a negative one counts from ``n``."""
    if value is None:
        return default
    if not _whole(value):
        raise BadIndex(f"{what} must be whole numbers, not {value!r}")
    value = int(value)
    return value + n if -n <= value < 0 else value


def _written(key: slice) -> str:
    """A slice as it was typed: ``9:2``, ``0:100:2``, ``::-1``."""
    bounds = (key.start, key.stop) if key.step is None else (key.start, key.stop, key.step)
    return ":".join("" if v is None else str(v) for v in bounds)


def positions(states: States, key: Any) -> tuple[int, int, bool]:
    """``(start, stop, one)`` for a position index: a slice, or one position (``one``).

    Raises:
        PositionOutOfRange: outside the text, backwards, or with a step.
        BadIndex: neither a slice nor a whole number.
    """
    n = states.n_tokens
    if isinstance(key, slice):
        if key.step is not None and key.step != 1:
            a, b = ("" if v is None else v for v in (key.start, key.stop))
            raise PositionOutOfRange(
                f"[{_written(key)}] has a step; positions are read as one contiguous slice: read "
                f"[{a}:{b}] and step through the array in numpy, [{a}:{b}][::{key.step}]")
        start = _counted(key.start, 0, n, "positions")
        stop = _counted(key.stop, n, n, "positions")
        with python_errors():
            states.span(start, stop, empty=True)
        return start, stop, False
    if _whole(key):
        at = _counted(key, 0, n, "positions")
        with python_errors():
            states.span(at, at + 1)
        return at, at + 1, True
    raise BadIndex(f"positions are indexed by a slice [start:stop] or one position, not "
                   f"{type(key).__name__}; read a slice and index the array in numpy")


def units(states: States, name: str, key: Any) -> list[int] | int:
    """Unit numbers of ``name`` for a unit index: one (an int), a slice, or a sequence of them.

    Raises:
        UnitOutOfRange: a unit past the activation's units, or a slice reaching past them.
        BadIndex: not whole numbers.
    """
    H = states.n_hidden
    layer, kind = parse_name(name)

    def unit(value: Any) -> int:
        try:
            return states.neuron(Neuron(layer, kind, _counted(value, 0, H, "units"))).unit
        except UnknownActivation as e:
            raise UnitOutOfRange(str(e)) from None

    if isinstance(key, slice):
        start, stop = _counted(key.start, 0, H, "units"), _counted(key.stop, H, H, "units")
        step = _counted(key.step, 1, 0, "units")
        if not 0 <= start <= stop <= H:
            unit(stop if stop > H else start)  # names the first unit that is not there
            raise UnitOutOfRange(f"[{_written(key)}] runs backwards; {name} has units 0..{H - 1}")
        if step < 1:
            raise UnitOutOfRange(f"[{_written(key)}] has a step of {step}; give a positive one")
        return list(range(start, stop, step))
    if _whole(key):
        return unit(key)
    if isinstance(key, Sequence | np.ndarray) and not isinstance(key, str):
        return [unit(u) for u in (key.tolist() if isinstance(key, np.ndarray) else key)]
    raise BadIndex(f"units are indexed by a number, a slice or a list of numbers, not {type(key).__name__}")


class TextView:
    """The text of an extraction by position: ``ex.text[a:b]`` is a str (one symbol per position).

    In byte mode a position is a byte, and a slice is decoded as UTF-8 (a character cut by the
    slice's ends shows as U+FFFD).
    """

    def __init__(self, opened: Opened):
        self._opened = opened

    def __len__(self) -> int:
        return self._opened().n_tokens

    def __getitem__(self, key: int | slice) -> str:
        states = self._opened()
        start, stop, _ = positions(states, key)
        return states.text(start, stop)

    def __repr__(self) -> str:
        return f"<text of {len(self):,} positions>"


class ActivationView:
    """One activation, (T, H), read by window: ``[a:b]``, ``[a:b, unit]`` or ``[a:b, units]``.

    Attributes:
        name: the activation, e.g. ``layer1.c``.
    """

    def __init__(self, opened: Opened, name: str):
        self._opened = opened
        self.name = name

    @property
    def shape(self) -> tuple[int, int]:
        """(positions, units), as an array of the whole activation would have."""
        states = self._opened()
        return states.n_tokens, states.n_hidden

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        """Positions [a, b) (or one position) of every unit, one unit or a list of units, float32."""
        rows, cols = key if isinstance(key, tuple) and len(key) == 2 else (key, None)
        if isinstance(key, tuple) and len(key) != 2:
            raise BadIndex(f"{self.name} has two axes (positions, units); got {len(key)} indices")
        states = self._opened()
        start, stop, one = positions(states, rows)
        picked = None if cols is None else units(states, self.name, cols)
        with python_errors():
            block = states.window(self.name, start, stop, picked)
        return block[0] if one else block

    def __repr__(self) -> str:
        T, H = self.shape
        return f"<{self.name}: {T:,} positions x {H} units, read by window>"


class NeuronView:
    """One unit of one activation, (T,), read by window: ``ex["layer1.c.117"][a:b]``.

    Attributes:
        neuron: the unit, a :class:`~lstmviz.names.Neuron`.
    """

    def __init__(self, opened: Opened, neuron: Neuron):
        self._opened = opened
        self.neuron = neuron

    @property
    def shape(self) -> tuple[int]:
        """(positions,)."""
        return (self._opened().n_tokens,)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """Positions [a, b) (or one position) of the unit, float32."""
        states = self._opened()
        start, stop, one = positions(states, key)
        with python_errors():
            column = states.window(self.neuron.name, start, stop, self.neuron.unit)
        return column[0] if one else column

    def __repr__(self) -> str:
        return f"<{self.neuron}: {len(self):,} positions, read by window>"
