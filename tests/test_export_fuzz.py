"""Exports of generated hostile text, titles and captions: every figure is self-contained and exact.

A few hundred generated cases per run (hypothesis): any span of a text made of characters that
break markup, reorder text or are invisible, any neurons, options, title and caption. Each HTML
figure must parse into the expected cells with nothing active in it; each SVG must be well-formed
XML with the same glyphs.
"""

import random
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_export import assert_self_contained, band_cells, build_states, parse, svg_cells

from lstmviz.render.export import render
from lstmviz.render.palette import PALETTES
from lstmviz.render.spec import ExportSpec
from lstmviz.render.style import CHAR_PX, COL_PX, cell_text
from lstmviz.store.reader import open_states

ALPHABET = list("<>&\"'`=/;:-!?[]{}()#%$\\ \t\n\rabcxyzé日😀") + [
    "\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f", "\u202e", "\u202d", "\u2066", "\u200f", "\u2028",
    "\u2029", "\ufeff", "\u0301", "\u200b", "\ufffe"]
TEXT = "".join(random.Random(0).choice(ALPHABET) for _ in range(3000))
NEURONS = ["layer0.h.1", "layer1.c.3", "layer0.gates.f.2", "layer1.gates.g.5"]
SVG = "{http://www.w3.org/2000/svg}"
# Titles and captions: any text a shell can pass (no NUL, no lone surrogates)
WORDS = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    with open_states(build_states(tmp_path_factory.mktemp("fuzz") / "fuzz.h5", TEXT)) as s:
        yield s


specs = st.builds(
    lambda start, length, neurons, strips, palette, fmt, fragment, title, caption, width: ExportSpec(
        tuple(neurons), start, min(length, len(TEXT) - start), strips=strips, palette=palette, format=fmt,
        fragment=fragment, title=title, caption=caption, width=width),
    start=st.integers(0, len(TEXT) - 1), length=st.integers(1, 160),
    neurons=st.lists(st.sampled_from(NEURONS), min_size=1, max_size=3, unique=True),
    strips=st.booleans(), palette=st.sampled_from(list(PALETTES)), fmt=st.sampled_from(["html", "svg"]),
    fragment=st.booleans(), title=st.none() | WORDS, caption=st.none() | WORDS,
    width=st.none() | st.just(0) | st.integers(10, 120),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs)
def test_any_export_is_self_contained_and_shows_the_text_in_order(states, spec):
    out = render(states, spec, source_name="fuzz.h5")
    text = TEXT[spec.start:spec.start + spec.length]
    glyphs = [cell_text(ch, spec.strips)[0] for ch in text]
    if spec.format == "svg":
        root = ET.fromstring(out)  # well-formed XML, whatever the text, title or caption
        tags = {el.tag.removeprefix(SVG) for el in root.iter()}
        assert not tags & {"script", "foreignObject", "image", "use", "a", "iframe"}
        assert not any(k.startswith("on") or "href" in k for el in root.iter() for k in el.attrib)
        col = COL_PX if spec.strips else CHAR_PX
        for neuron in spec.neurons:
            bands = [g for g in root.iter(SVG + "g") if g.get("data-neuron") == str(neuron)]
            cells = [cell for g in bands for cell in svg_cells(root, g, col)]
            shown = [t.text for g in bands for t in g.iter(SVG + "text") if t.get("class") != "lv-label"]
            assert len(cells) == spec.length
            assert shown == [g for g in glyphs if g.strip()]  # blank cells carry no text element
        return
    tree = parse(out)
    assert_self_contained(tree)
    assert len(tree.comments) == 1 and "<" not in tree.comments[0] and ">" not in tree.comments[0]
    cells = band_cells(tree)
    assert list(cells) == [str(n) for n in spec.neurons]
    for band in cells.values():
        assert [c.text() for c in band] == glyphs
