"""The activation-name grammar: names and neurons are built and read by one pair of inverses."""

import numpy as np
import pytest

from lstmviz.errors import UnknownActivation
from lstmviz.kinds import KINDS
from lstmviz.names import Neuron, act_name, h5_path, parse_name

LAYERS = (0, 1, 2, 11)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_act_name_and_parse_name_are_inverses(layer, kind):
    name = act_name(layer, kind)
    assert parse_name(name) == (layer, kind)
    assert act_name(*parse_name(name)) == name
    assert h5_path(name) == "/" + name.replace(".", "/")


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_neuron_reads_back_what_it_writes(layer, kind):
    neuron = Neuron(layer, kind, 117)
    text = str(neuron)
    assert text == f"{act_name(layer, kind)}.117"
    assert Neuron.parse(text) == neuron
    assert (neuron.layer, neuron.kind, neuron.unit, neuron.name) == (layer, kind, 117, act_name(layer, kind))
    assert Neuron(*parse_name(neuron.name), neuron.unit) == neuron


def test_the_golden_spellings():
    assert act_name(1, "c") == "layer1.c"
    assert act_name(0, "gates.f") == "layer0.gates.f"
    assert str(Neuron.parse("layer0.gates.f.3")) == "layer0.gates.f.3"
    assert str(Neuron.parse(" layer1.h.03 ")) == "layer1.h.3"  # one spelling per neuron


def test_numpy_counts_make_plain_neurons():
    neuron = Neuron(np.int64(1), "h", np.int64(5))
    assert neuron == Neuron(1, "h", 5) and type(neuron.unit) is int and type(neuron.layer) is int


@pytest.mark.parametrize(("build", "message"), [
    (lambda: act_name(0, "gates"), "'gates' is not a kind of activation; use one of h, c, gates.i, "
                                   "gates.f, gates.g, gates.o"),
    (lambda: act_name(0, "x"), "'x' is not a kind of activation; use one of h, c, gates.i, gates.f, "
                               "gates.g, gates.o"),
    (lambda: act_name(-1, "h"), "layer -1 is not a layer number; layers count 0, 1, 2, ..."),
    (lambda: act_name("h", 0), "0 is not a kind of activation; use one of h, c, gates.i, gates.f, "
                               "gates.g, gates.o"),
    (lambda: Neuron(0, "h", -2), "unit -2 is not a unit number; units count 0, 1, 2, ..."),
    (lambda: Neuron(0, "h", 1.5), "unit 1.5 is not a unit number; units count 0, 1, 2, ..."),
    (lambda: parse_name("layer0.gates.x"), "'layer0.gates.x' is not an activation name; use e.g. "
                                           "'layer0.h', 'layer1.c' or 'layer0.gates.f'"),
    (lambda: Neuron.parse("layer1.c"), "'layer1.c' is not a neuron; write layer.kind.unit, e.g. "
                                       "'layer1.c.117' or 'layer0.gates.f.3'"),
])
def test_what_is_not_a_name_says_how_to_write_one(build, message):
    with pytest.raises(UnknownActivation) as e:
        build()
    assert str(e.value) == message
