"""Edits as people write them (``layer2.c.89=zero``), and the numbers they stand for in a file.

Grammar of one edit, ``NEURON=OP``:

=====================  ====================================================================
``zero``               hold the unit at 0
``set:V`` or ``V``     hold it at the number V
``scale:K``            multiply its value by K at every step (``scale:0`` is ``zero``)
``mean``               hold it at its mean over the extraction (the file's summaries)
``patch:POS``          hold it at the value it had at position POS of this extraction
``patch:FILE@POS``     ... at position POS of another extraction of the same model
=====================  ====================================================================

An edit names a unit of h, c or a gate (``layer0.gates.f.3``); ``mean`` and ``patch`` of a gate need
an extraction made with ``--gates``. A patched h is read as stored (float16 by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lstmviz.errors import OptionError, SpanError, UnknownActivation
from lstmviz.intervene.edited_run import EDITABLE, Edit
from lstmviz.intervene.model_source import ModelMismatch
from lstmviz.names import Neuron
from lstmviz.store.reader import States, open_states

OPS = ("zero", "set", "scale", "mean", "patch")
SYNTAX = "zero, set:V, scale:K, mean, patch:POS or patch:FILE@POS"


@dataclass(frozen=True)
class EditSpec:
    """One edit as written: a unit and what to do with it, before its value is looked up.

    >>> EditSpec.parse("layer2.c.89=zero")
    EditSpec(neuron=Neuron(layer=2, kind='c', unit=89), op='zero', number=None, position=None, source=None)
    >>> str(EditSpec.parse("layer0.h.12=0.5")), str(EditSpec.parse("layer0.h.12=patch:other.h5@40"))
    ('layer0.h.12=set:0.5', 'layer0.h.12=patch:other.h5@40')
    """

    neuron: Neuron
    op: str
    number: float | None = None  # set's value, scale's factor
    position: int | None = None  # patch: where the value is read
    source: str | None = None  # patch: another extraction file; None for the edited one

    def __str__(self) -> str:
        if self.op in ("set", "scale"):
            return f"{self.neuron}={self.op}:{self.number:g}"
        if self.op == "patch":
            where = f"{self.source}@{self.position}" if self.source else str(self.position)
            return f"{self.neuron}=patch:{where}"
        return f"{self.neuron}={self.op}"

    @classmethod
    def parse(cls, text: str) -> EditSpec:
        """Read ``NEURON=OP`` (see the module docstring); one clear line for anything else.

        Raises:
            OptionError: no ``=``, an unknown operation, a value that is not a number.
            UnknownActivation: the left side is not a neuron name, or names no h, c or gate unit.
        """
        name, eq, op = text.partition("=")
        if not eq:
            raise OptionError(f"{text!r} is not an edit; write NEURON=OP, e.g. layer2.c.89=zero "
                              f"(OP: {SYNTAX})")
        neuron = Neuron.parse(name)
        if neuron.kind not in EDITABLE:
            raise UnknownActivation(f"{neuron} cannot be edited; edit a unit of h, c or a gate")
        op = op.strip()
        word, colon, arg = op.partition(":")
        if word in ("zero", "mean") and not colon:
            return cls(neuron, word)
        if word in ("set", "scale") and colon:
            return cls(neuron, word, number=_number(arg, f"{word}:{arg}", f"{word}:0.5"))
        if word == "patch" and colon:
            source, at, pos = arg.rpartition("@")
            if at and not source:
                raise OptionError(f"patch:{arg}: no file before '@'; write patch:FILE@POS or patch:POS")
            return cls(neuron, "patch", position=_position(pos, f"patch:{arg}"), source=source or None)
        if word and not colon and _is_number(word):
            return cls(neuron, "set", number=_number(word, word, "0.5"))
        raise OptionError(f"{op!r} is not an edit operation; use {SYNTAX} (e.g. {neuron}=zero)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, written: str, example: str) -> float:
    """A finite number from ``text``, or an error naming what was written and an example."""
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{written}: {text!r} is not a number; write e.g. {example}") from None
    if not math.isfinite(value):
        raise OptionError(f"{written}: {text} is not a finite number; write e.g. {example}")
    return value


def _position(text: str, written: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"{written}: {text!r} is not a position; write patch:POS or patch:FILE@POS, "
                          "e.g. patch:12345") from None


def resolve(spec: EditSpec, states: States, *, start: int = 0, stop: int | None = None) -> Edit:
    """The numeric :class:`Edit` a spec stands for in an extraction, acting at steps [start, stop).

    Raises:
        UnknownActivation: the file lacks the unit (``mean`` or ``patch`` of a gate needs ``--gates``).
        SpanError: a patch position outside its text.
        ModelMismatch: a patch from an extraction of another model.
        StoreError: the other extraction cannot be opened.
    """
    neuron = spec.neuron
    if spec.op in ("mean", "patch") or neuron.kind in ("h", "c"):
        neuron = states.neuron(neuron)
    elif not (neuron.layer < states.n_layer and neuron.unit < states.n_hidden):
        states.neuron(Neuron(neuron.layer, "h", neuron.unit))  # the file's wording for a unit it lacks
    if spec.op == "zero":
        return Edit(neuron, 0.0, start=start, stop=stop)
    if spec.op == "set":
        return Edit(neuron, spec.number, start=start, stop=stop)
    if spec.op == "scale":
        return Edit(neuron, spec.number, scale=True, start=start, stop=stop)
    if spec.op == "mean":
        return Edit(neuron, float(states.summary(neuron.name)["mean"][neuron.unit]), start=start, stop=stop)
    if spec.source is None:
        return Edit(neuron, patch_value(states, neuron, spec.position), start=start, stop=stop)
    with open_states(spec.source) as other:
        check_same_model(states, other)
        return Edit(neuron, patch_value(other, other.neuron(neuron), spec.position), start=start, stop=stop)


def patch_value(states: States, neuron: Neuron, position: int) -> float:
    """The value ``neuron`` had at ``position`` of an extraction."""
    if not 0 <= position < states.n_tokens:
        raise SpanError(f"patch position {position} is not within the text of {states.path.name} "
                        f"(0:{states.n_tokens}); give a position from 0 to {states.n_tokens - 1}")
    return float(states.window(neuron.name, position, position + 1, neuron.unit)[0])


def check_same_model(states: States, other: States) -> None:
    """Refuse ``other`` unless it was extracted with the model ``states`` was.

    The recorded sha256 decides; files that do not record one must at least agree in shape and
    vocabulary.

    Raises:
        ModelMismatch: the two were made with different models.
    """
    mine, theirs = (s.attrs.get("model_sha256") for s in (states, other))
    if isinstance(mine, str) and isinstance(theirs, str) and mine and theirs:
        if mine != theirs:
            raise ModelMismatch(f"{other.path.name} was extracted with another model than "
                                f"{states.path.name} (sha256 {theirs[:12]}… vs {mine[:12]}…); patch from "
                                "an extraction of the same model")
    elif other.config != states.config or other.vocab != states.vocab:
        raise ModelMismatch(f"{other.path.name} holds another model's activations than "
                            f"{states.path.name} (another shape or vocabulary); patch from an extraction "
                            "of the same model")

