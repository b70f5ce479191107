"""Steering: generating text with units held at values, as Radford et al. (2017) did with a sentiment unit.

A clamp holds one unit at a value at every step, the prime's included, with the semantics of an
edit (:mod:`lstmviz.intervene.edited_run`): the held value is what the next step and the layers
above see. The value is a number (``layer2.c.89=-3``) or the value the unit had at a position of an
extraction made with the same model (``FILE.h5:layer2.c.89@12345``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lstmviz.errors import OptionError
from lstmviz.intervene.edited_run import Edit, EditedRunner
from lstmviz.intervene.edits import EditSpec, patch_value
from lstmviz.intervene.model_source import check_model
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.loading import LoadedModel
from lstmviz.model.sample import Step
from lstmviz.names import Neuron
from lstmviz.store.reader import open_states

_CLAMP_FROM = "write FILE.h5:NEURON@POS, e.g. cache/m__val.h5:layer2.c.89@12345"


def parse_clamp(text: str) -> Edit:
    """``NEURON=V``: hold the unit at the number V.

    >>> parse_clamp("layer2.c.89=-3")
    Edit(neuron=Neuron(layer=2, kind='c', unit=89), value=-3.0, scale=False, start=0, stop=None)

    Raises:
        OptionError: not ``NEURON=V`` with V a number.
        UnknownActivation: not a neuron of h, c or a gate.
    """
    spec = EditSpec.parse(text)
    if spec.op not in ("set", "zero"):
        raise OptionError(f"--clamp {text}: a clamp holds a number; write NEURON=V, e.g. "
                          f"{spec.neuron}=-3, or take the value from an extraction with --clamp-from")
    return Edit(spec.neuron, spec.number or 0.0)


def clamp_from(text: str, loaded: LoadedModel) -> Edit:
    """``FILE.h5:NEURON@POS``: hold the unit at the value it had at position POS of that extraction.

    Raises:
        OptionError: not written so.
        ModelMismatch: the extraction was made with another model than ``loaded``.
        UnknownActivation, SpanError: the file lacks the unit, or the position.
    """
    where, at, pos = text.rpartition("@")
    path, colon, name = where.rpartition(":")
    if not (at and colon and path):
        raise OptionError(f"--clamp-from {text!r}: {_CLAMP_FROM}")
    try:
        position = int(pos)
    except ValueError:
        raise OptionError(f"--clamp-from {text!r}: {pos!r} is not a position; {_CLAMP_FROM}") from None
    neuron = Neuron.parse(name)
    with open_states(path) as states:
        check_model(states, loaded, fix="sample from the model the extraction was made with")
        return Edit(neuron, patch_value(states, states.neuron(neuron), position))


def clamped(model: CharLSTM, clamps: Sequence[Edit], device: str | torch.device = "cpu") -> Step:
    """A step for :func:`lstmviz.model.sample.generate` that holds ``clamps`` at every step.

    >>> from lstmviz.model.config import LSTMConfig
    >>> from lstmviz.model.sample import sample
    >>> from lstmviz.model.vocab import Vocab
    >>> m = CharLSTM(LSTMConfig(vocab_size=2, n_layer=1, n_hidden=4))
    >>> len(sample(m, Vocab(("a", "b")), 8, step=clamped(m, [parse_clamp("layer0.h.1=0.5")])))
    8
    """
    EditedRunner(model, [list(clamps)])  # refuses a unit the model lacks now, not at the first step

    def step(tokens: torch.Tensor, runner: EditedRunner | None) -> tuple[torch.Tensor, EditedRunner]:
        runner = runner or EditedRunner(model, [list(clamps)], device=device)
        return runner.run(tokens.reshape(-1), record=False).logits, runner

    return step
