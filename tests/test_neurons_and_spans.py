"""One check for "is this neuron in the file" and one for "is this span in the text", worded once.

The reader, snippets and exports, the dashboard's view, cell search and search by example all ask
the file (States.neuron, States.span), so each refuses in the same words.
"""

import pytest
from extraction_files import TEXT, VOCAB, make_model

from app.state import View, fit
from lstmviz.errors import SpanError, UnknownActivation
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel
from lstmviz.names import Neuron
from lstmviz.render.export import render
from lstmviz.render.spec import ExportSpec
from lstmviz.search.by_example import search_by_example
from lstmviz.search.hypotheses import span_hypothesis, symbol_string
from lstmviz.search.rank import rank_units
from lstmviz.store.reader import open_states

T, H = 2000, 16


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    loaded = LoadedModel(make_model(2, H, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
    path = extract(loaded, VOCAB.encode(TEXT[:T]), tmp_path_factory.mktemp("checks") / "tiny.h5",
                   Options(gates=True))
    with open_states(path) as s:
        yield s


def test_a_neuron_resolves_against_the_file(states):
    assert states.neuron("layer1.c.015") == Neuron(1, "c", 15)
    assert states.neuron(Neuron(0, "gates.f", 0)) == Neuron(0, "gates.f", 0)
    with pytest.raises(UnknownActivation, match="'layer1.q.1' is not a neuron"):
        states.neuron("layer1.q.1")


MISSING = ("tiny.h5 has no activation 'layer2.h'; available: layer0.h, layer0.c, layer0.gates.i, "
           "layer0.gates.f, layer0.gates.g, layer0.gates.o, layer1.h, layer1.c, layer1.gates.i, "
           "layer1.gates.f, layer1.gates.g, layer1.gates.o")


@pytest.mark.parametrize(("neuron", "said"), [
    ("layer2.h.1", MISSING),
    (f"layer0.h.{H}", f"layer0.h has units 0..{H - 1}; there is no unit {H}"),
])
def test_a_neuron_the_file_lacks_is_refused_in_the_same_words_everywhere(states, neuron, said):
    n = Neuron.parse(neuron)
    for ask in (lambda: states.neuron(neuron),
                lambda: states.window(n.name, 0, 5, n.unit),
                lambda: render(states, ExportSpec((neuron,), 0, 10))):
        with pytest.raises(UnknownActivation) as refused:
            ask()
        assert str(refused.value) == said
    _, notes = fit(View("tiny", neuron), states)
    assert notes == [f"neuron {neuron!r} cannot be shown: {said}; showing layer1.c.0"]


def test_cell_search_refuses_an_activation_the_file_lacks_in_the_same_words(states):
    with pytest.raises(UnknownActivation) as refused:
        rank_units(states, "quote", names=["layer2.h"], cache=False)
    assert str(refused.value) == MISSING


def test_a_span_outside_the_text_is_refused_in_the_same_words_everywhere(states):
    said = f"span {T - 5}:{T + 5} is not within the text of tiny.h5 (0:{T}); give START:END with " \
           f"0 <= START < END <= {T}"
    for ask in (lambda: states.span(T - 5, T + 5),
                lambda: states.window("layer0.h", T - 5, T + 5),
                lambda: states.predictions(T - 5, T + 5),
                lambda: render(states, ExportSpec(("layer0.h.1",), T - 5, 10)),
                lambda: search_by_example(states, T - 5, T + 5)):
        with pytest.raises(SpanError) as refused:
            ask()
        assert str(refused.value) == said
    with pytest.raises(SpanError) as refused:  # a hypothesis knows the text, not the file
        span_hypothesis([(T - 5, T + 5)]).values(symbol_string(states))
    assert str(refused.value) == said.replace("the text of tiny.h5", "the text")


def test_only_reads_may_be_empty(states):
    assert states.window("layer0.h", 7, 7).shape == (0, H) and states.span(3, 9) == (3, 9)
    for start, stop in ((7, 7), (9, 3), (-1, 4)):
        with pytest.raises(SpanError, match=f"span {start}:{stop} is not within the text of tiny.h5"):
            states.span(start, stop)
    with pytest.raises(SpanError, match="span 9:3 is not within"):
        states.tokens(9, 3)
