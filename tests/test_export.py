import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import FrozenInstanceError, dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import click
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lstmviz import __version__
from lstmviz.cli import cli
from lstmviz.errors import OptionError, SpanError, UnknownActivation
from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.charlstm import CharLSTM
from lstmviz.model.config import LSTMConfig
from lstmviz.model.loading import LoadedModel
from lstmviz.model.vocab import Vocab
from lstmviz.names import Neuron
from lstmviz.render.export import export_command, render, shell_quote, write_snippet
from lstmviz.render.palette import PALETTES, colours, strip_colours
from lstmviz.render.spec import DEFAULTS, ExportSpec
from lstmviz.render.style import CHAR_PX, COL_PX, PAD_PX, VIEW_PX
from lstmviz.store.distribution import quantiles
from lstmviz.store.reader import open_states

# Validation text that tries every way of breaking out of the markup or the provenance comment.
HOSTILE = (
    '<p>He said "<script>alert(1)</script>" &amp; </div> &quot; --> <!-- --!> x</p>\n'
    "\tdef f(a, b):\n        return a < b && b > 'c'\n\n"
) * 3
ATTRS = {"model_sha256": "a" * 64, "text_sha256": "b" * 64, "text_path": "/home/someone/val--.txt"}
NEURONS = ["layer1.c.3", "layer0.gates.f.2", "layer0.h.5"]
FLOW_MARKS = {"\n": "↵", "\r": "␍"}  # how a text cell shows these; a tab stays a tab
GRID_MARKS = {"\n": "↵", "\r": "␍", "\t": "⇥"}  # with strips every cell has a fixed width


def build_states(path: Path, text: str, *, byte_level: bool = False) -> Path:
    vocab = Vocab.from_text(text, byte_level=byte_level)
    torch.manual_seed(0)
    model = CharLSTM(LSTMConfig(vocab_size=len(vocab), n_layer=2, n_hidden=16, n_embd=8)).eval()
    with torch.no_grad():  # larger weights spread the activations over the whole colour scale
        for p in model.lstm.parameters():
            p.mul_(6.0)
    loaded = LoadedModel(model, vocab, "lstmviz", Path("model.pt"), "sha")
    return extract(loaded, vocab.encode(text), path, Options(gates=True), attrs=ATTRS)


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    return build_states(tmp_path_factory.mktemp("states") / "hostile.h5", HOSTILE)


@pytest.fixture()
def states(h5):
    with open_states(h5) as s:
        yield s


# --- a small DOM over html.parser ---------------------------------------------------------------

VOID = {"meta", "br", "link", "img", "input", "hr", "source", "base"}


@dataclass
class Node:
    tag: str
    attrs: dict
    parent: "Node | None" = None
    children: list = field(default_factory=list)
    colours: dict = field(default_factory=dict)  # on the root: colour class -> background

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, cls: str) -> list["Node"]:
        return [n for n in self.iter() if cls in n.attrs.get("class", "").split()]

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def cells(self) -> list["Node"]:
        """The characters of a band, or the guesses of a strip: its spans but the label."""
        return [c for c in self.children if isinstance(c, Node) and c.tag == "span"
                and "lv-label" not in c.classes()]

    def bg(self) -> str:
        """The background its colour class gives it in the figure's own stylesheet."""
        root = self
        while root.parent is not None:
            root = root.parent
        [colour] = [root.colours[c] for c in self.classes() if c in root.colours]
        return colour


def positions(cells: list[Node]) -> list[int]:
    """The file positions of a band's characters: the band's data-start, then one per cell."""
    out = []
    for cell in cells:
        band = cell.parent
        out.append(int(band.attrs["data-start"]) + next(k for k, c in enumerate(band.cells()) if c is cell))
    return out


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {})
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        assert self.cur.tag == tag, f"</{tag}> closes <{self.cur.tag}>"
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


def parse(html: str) -> TreeBuilder:
    tree = TreeBuilder()
    tree.feed(html)
    tree.close()
    assert tree.cur is tree.root, f"<{tree.cur.tag}> never closed"
    css = "".join(n.text() for n in tree.root.iter() if n.tag == "style")
    tree.root.colours = dict(re.findall(r"\.([kp]\w+)\{background:(#[0-9a-f]{6})", css))
    return tree


FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "base", "image", "use", "form"}
FORBIDDEN_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "background", "xlink:href"}


def assert_self_contained(tree: TreeBuilder) -> None:
    for node in tree.root.iter():
        assert node.tag not in FORBIDDEN_TAGS
        for name, value in node.attrs.items():
            assert name not in FORBIDDEN_ATTRS and not name.startswith("on"), name
            assert "url(" not in (value or "").lower() and "javascript:" not in (value or "").lower()
        if node.tag == "style":
            css = node.text().lower()
            assert "url(" not in css and "@import" not in css and "@font-face" not in css


# --- what the file holds, read with h5py directly ------------------------------------------------


def expected_colours(h5: Path, neuron: str, start: int, stop: int, palette: str, raw_c=False):
    """The colours the dashboard shows: h and tanh(c) over [-1, 1], gates over [0, 1]."""
    name, unit = neuron.rsplit(".", 1)
    kind = name.split(".", 1)[1]
    with h5py.File(h5) as f:
        ds = f["/" + name.replace(".", "/")]
        values = ds[start:stop, int(unit)].astype(np.float32)
        if kind == "c" and raw_c:  # ± the larger of the 1st and 99th percentiles, from the stored histogram
            ranks = f["summaries/" + name.replace(".", "/")]
            u = int(unit)
            edges = ranks["rank_lo"][u] + ranks["rank_width"][u] * np.arange(ranks["rank_hist"].shape[1] + 1)
            m = max(abs(q) for q in quantiles(ranks["rank_hist"][u], edges, (0.01, 0.99)))
            return colours(values, palette, -m, m)
    if kind == "c":
        return colours(np.tanh(values), palette, -1.0, 1.0)
    return colours(values, palette, *((0.0, 1.0) if kind.startswith("gates") else (-1.0, 1.0)))


def band_cells(tree: TreeBuilder) -> dict[str, list[Node]]:
    """Character cells of each neuron's band, in reading order."""
    cells: dict[str, list[Node]] = {}
    for band in tree.root.find_all("lv-band"):
        cells.setdefault(band.attrs["data-neuron"], []).extend(band.cells())
    return cells


def shown(text: str, marks: dict) -> list[str]:
    return [marks.get(ch, ch) for ch in text]


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("palette", list(PALETTES))
def test_each_character_has_the_colour_of_its_stored_activation(states, h5, palette):
    start, length = 40, 150
    tree = parse(render(states, ExportSpec(NEURONS, start, length, palette=palette)))
    assert_self_contained(tree)
    cells = band_cells(tree)
    assert list(cells) == NEURONS
    for neuron in NEURONS:
        got = cells[neuron]
        assert positions(got) == list(range(start, start + length))
        assert [c.bg() for c in got] == expected_colours(h5, neuron, start, start + length, palette)
    assert len(set(cells["layer1.c.3"][i].bg() for i in range(length))) > 20  # a real spread


def test_hostile_text_renders_as_characters_and_injects_nothing(states):
    n = states.n_tokens
    title = 'Title --> <script>alert("t")</script> --!> <!-- &amp;'
    caption = "</div></div><script>x</script>\n\n-->&quot; second line"
    html = render(states, ExportSpec(["layer1.c.3"], 0, n, title=title, caption=caption))
    tree = parse(html)
    assert_self_contained(tree)
    assert "<script" not in html.lower()
    cells = band_cells(tree)["layer1.c.3"]
    assert [c.text() for c in cells] == shown(HOSTILE, FLOW_MARKS)
    # newlines end display lines, so the snippet reads like the source
    bands = tree.root.find_all("lv-band")
    assert "".join(b.text().replace("↵", "\n") for b in bands) == HOSTILE
    assert len(bands) == HOSTILE.count("\n")
    [t] = tree.root.find_all("lv-title")
    assert t.text() == title
    [c] = tree.root.find_all("lv-caption")
    assert c.text() == caption.replace("\n\n", "\n").replace("\n", "")  # lines joined by <br>
    assert "\n\n" not in html  # a blank line would end a Markdown HTML block
    # the one comment is the provenance, and nothing in it closed it early
    assert len(tree.comments) == 1
    comment = tree.comments[0]
    assert "<" not in comment and ">" not in comment
    assert "hostile.h5" in comment


def test_provenance_records_version_hashes_span_and_the_command(states):
    html = render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 10, 50, palette="colorblind",
                                     strips=True, width=30, title="Quote cell"))
    [comment] = parse(html).comments
    assert f"lstmviz {__version__}" in comment
    assert "a" * 64 in comment and "b" * 64 in comment
    assert "val-\u2010.txt" in comment and "/home/someone" not in comment  # file name only, no --
    assert "layer1.c.3 (tanh(c)" in comment and "layer0.h.5 (h" in comment
    assert "positions 10 to 59 (50 characters)" in comment
    assert "palette: colorblind" in comment
    [command] = [line[len("command: "):] for line in comment.splitlines() if line.startswith("command: ")]
    assert shlex.split(command) == [
        "lstmviz", "export", "hostile.h5", "--neuron", "layer1.c.3", "--neuron", "layer0.h.5",
        "--start", "10", "--length", "50", "--palette", "colorblind", "--strips",
        "--title", "Quote cell", "--width", "30"]


def test_command_quoting_survives_bash_and_never_holds_a_double_dash_inside_a_value():
    title = "a --> b --!> <!-- 'q' \\ $HOME `x` \t\u00e9\U0001f600 -"
    caption = "line one\n\nline two"
    command = export_command("x--y.h5", ExportSpec(["layer1.c.3"], 0, 5, title=title, caption=caption))
    assert "-->" not in command and "--!>" not in command and "<!--" not in command
    assert "\n" not in command
    words = command.split(" --title ")[1], command.split(" --caption ")[1]
    for word in (w.split(" --")[0] for w in words):
        assert "--" not in word
    out = subprocess.run(["bash", "-c", "printf '%s\\0' " + command], capture_output=True,
                         check=True).stdout.decode("utf-8").split("\0")[:-1]
    assert out[2] == "x--y.h5"
    assert out[out.index("--title") + 1] == title
    assert out[out.index("--caption") + 1] == caption


def test_same_options_give_byte_identical_output(states, h5):
    spec = ExportSpec(["layer1.c.3"], 5, 80)
    strips, fragment = replace(spec, strips=True), replace(spec, fragment=True)
    assert render(states, strips) == render(states, strips)
    with open_states(h5) as again:  # a second handle, as the dashboard would hold
        assert render(again, fragment) == render(states, fragment)
    assert export_command("/abs/path/hostile.h5", spec) == export_command("hostile.h5", spec)
    renamed = render(states, spec, source_name="other.h5")
    assert "lstmviz export other.h5" in renamed and "hostile.h5" not in renamed


def test_the_spec_is_the_one_list_of_options_the_cli_and_the_command_share(h5):
    export = cli.get_command(click.Context(cli), "export")
    names = {opt: param.name for param in export.params for opt in param.opts}
    given = export.make_context("export", [str(h5), "-n", "layer0.h.1", "--start", "0", "--length", "5"])
    for name, default in DEFAULTS.items():
        value = given.params[names["--" + name.replace("_", "-")]]
        assert value == default or (name, value) == ("format", None)  # --format: from the -o suffix
    spec = ExportSpec(["layer0.h.1"], 0, 5, format="svg", raw_c=True, width=17, fragment=True)
    assert export_command("f.h5", spec) == (
        "lstmviz export f.h5 --neuron layer0.h.1 --start 0 --length 5 --fragment --width 17 --raw-c "
        "--format svg")
    assert spec.neurons == (Neuron(0, "h", 1),)
    with pytest.raises(FrozenInstanceError):
        spec.width = 9


def test_spans_at_the_very_start_and_end_of_the_file(states, h5):
    n = states.n_tokens
    for start, length in [(0, 1), (0, 7), (n - 7, 7), (n - 1, 1)]:
        tree = parse(render(states, ExportSpec(["layer0.gates.f.2"], start, length, strips=True)))
        cells = band_cells(tree)["layer0.gates.f.2"]
        assert positions(cells) == list(range(start, start + length))
        assert [c.bg() for c in cells] == expected_colours(h5, "layer0.gates.f.2", start,
                                                           start + length, "blog")
        assert [c.text() for c in cells] == shown(HOSTILE[start:start + length], GRID_MARKS)
        strips = [s for s in tree.root.find_all("lv-strip") if "data-rank" in s.attrs]
        assert sum(len(s.cells()) for s in strips) == 5 * length


def test_strips_show_the_top5_shaded_by_probability(states, h5):
    start, length = 100, 60
    tree = parse(render(states, ExportSpec(["layer1.c.3"], start, length, strips=True, width=25)))
    with h5py.File(h5) as f:
        ids = f["/predictions/top_ids"][start:start + length]
        probs = f["/predictions/top_probs"][start:start + length]
    symbols = states.vocab.symbols
    glyph = {" ": "␣", "\n": "↵", "\t": "⇥"}
    for group in tree.root.find_all("lv-group"):
        [band] = group.find_all("lv-band")
        shown = [p - start for p in positions(band.cells())]
        strips = [s for s in group.find_all("lv-strip") if "data-rank" in s.attrs]
        assert [s.attrs["data-rank"] for s in strips] == ["1", "2", "3", "4", "5"]
        for rank, strip in enumerate(strips):
            cells = strip.cells()
            assert [c.bg() for c in cells] == strip_colours(probs[shown, rank])
            assert [c.text() for c in cells] == [glyph.get(symbols[i], symbols[i])
                                                 for i in ids[shown, rank]]
    assert sum(len(g.find_all("lv-band")[0].cells()) for g in tree.root.find_all("lv-group")) == length


def test_several_neurons_give_one_band_each_over_the_same_text(states):
    tree = parse(render(states, ExportSpec(NEURONS, 0, 120, width=40)))
    groups = tree.root.find_all("lv-group")
    assert len(groups) > 1
    for group in groups:
        bands = group.find_all("lv-band")
        assert [b.attrs["data-neuron"] for b in bands] == NEURONS
        labels = [b.find_all("lv-label")[0].text().strip() for b in bands]
        assert labels == NEURONS
        texts = {tuple(c.text() for c in b.cells()) for b in bands}
        assert len(texts) == 1
    legend = tree.root.find_all("lv-scale")
    assert [s.text().split(":")[0] for s in legend] == NEURONS


def test_wrapping_keeps_lines_within_width_and_breaks_after_spaces(states):
    text = HOSTILE[:200]
    tree = parse(render(states, ExportSpec(["layer1.c.3"], 0, 200, width=12)))
    lines = ["".join(c.text() for c in b.cells()) for b in tree.root.find_all("lv-band")]
    assert "".join(lines).replace("↵", "\n") == text
    for line in lines:
        assert len(line) <= 13  # a trailing space or newline may sit just past the width
        assert len(line) <= 12 or line[-1] in " ↵"
    # with width 0 lines break only at newlines
    unwrapped = parse(render(states, ExportSpec(["layer1.c.3"], 0, 200, width=0)))
    assert len(unwrapped.root.find_all("lv-band")) == text.count("\n") + (not text.endswith("\n"))


LONG = "It was the best of times, it was the worst of times; " * 10  # one line of 530 characters


@pytest.fixture(scope="module")
def long_h5(tmp_path_factory) -> Path:
    return build_states(tmp_path_factory.mktemp("long") / "long.h5", LONG)


@pytest.mark.parametrize("strips", [False, True])
def test_by_default_a_figure_wraps_where_the_dashboards_view_does(long_h5, strips):
    with open_states(long_h5) as states:
        html = render(states, ExportSpec(["layer1.c.3"], 0, 500, strips=strips))
        svg = render(states, ExportSpec(["layer1.c.3"], 0, 500, strips=strips, format="svg"))
        narrow = render(states, ExportSpec(["layer1.c.3"], 0, 500, strips=strips, width=30, format="svg"))
    columns, col = (74, COL_PX) if strips else (159, CHAR_PX)
    lines = [len(b.cells()) for b in parse(html).root.find_all("lv-band")]
    assert columns - 8 < max(lines) <= columns + 1 and sum(lines) == 500  # lines break after a space
    root = ET.fromstring(svg)
    assert root.get("width") == "100%" and root.get("height") is None  # scales with what holds it
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    assert VIEW_PX - columns * col < col  # the screen's columns fill the screen's view
    assert width <= VIEW_PX + 2 * PAD_PX + col and height > 0
    narrow = ET.fromstring(narrow)
    rows = [svg_cells(narrow, g, col) for g in narrow.iter(SVG_NS + "g") if g.get("data-neuron")]
    assert max(map(len, rows)) <= 31 and sum(map(len, rows)) == 500
    assert ExportSpec(["layer1.c.3"], 0, 5, strips=strips, width=columns) == ExportSpec(
        ["layer1.c.3"], 0, 5, strips=strips)
    assert "--width" not in export_command("f.h5", ExportSpec(["layer1.c.3"], 0, 5, strips=strips,
                                                              width=columns))


def test_several_neurons_leave_room_for_their_labels(long_h5):
    with open_states(long_h5) as states:
        html = render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 0, 500, strips=True))
    label = len("layer1.c.3") + 1
    lines = [len(b.cells()) for b in parse(html).root.find_all("lv-band")]
    assert max(lines) <= int((VIEW_PX - label * CHAR_PX) // COL_PX) + 1


def expected_marks(h5: Path, states, start: int, stop: int) -> tuple[list[list[int]], list[str | None]]:
    """For each position: the ranks of the guesses that were the true next symbol, and the missed one."""
    with h5py.File(h5) as f:
        tokens = f["/tokens"][:]
        ids = f["/predictions/top_ids"][start:stop]
    glyph = {" ": "␣", "\n": "↵", "\t": "⇥"}
    hits, misses = [], []
    for p in range(start, stop):
        nxt = int(tokens[p + 1]) if p + 1 < len(tokens) else None
        top = [int(t) for t in ids[p - start]]
        hits.append([r for r, t in enumerate(top) if t == nxt])
        symbol = None if nxt is None or nxt in top else states.vocab.symbols[nxt]
        misses.append(None if symbol is None else glyph.get(symbol, symbol))
    return hits, misses


def test_strips_mark_the_true_next_character_and_every_miss_as_the_dashboard_does(states, h5):
    n = states.n_tokens  # to the text's end, where no character comes next
    hits, misses = expected_marks(h5, states, 0, n)
    assert any(hits) and any(misses)  # the figure has both marks to show
    tree = parse(render(states, ExportSpec(["layer1.c.3"], 0, n, strips=True, width=40)))
    got_hits, got_misses = [], []
    for group in tree.root.find_all("lv-group"):
        [band] = group.find_all("lv-band")
        strips = [s.cells() for s in group.find_all("lv-strip") if "data-rank" in s.attrs]
        [missed] = group.find_all("lv-misses")
        for k, _ in enumerate(band.cells()):
            got_hits.append([r for r, cells in enumerate(strips) if "lv-hit" in cells[k].classes()])
            cell = missed.cells()[k]
            got_misses.append(cell.text() if "lv-miss" in cell.classes() else None)
            assert cell.text() == "" or "lv-miss" in cell.classes()
    assert got_hits == hits and got_misses == misses
    legend = " ".join(tree.root.find_all("lv-legend")[0].text().split())
    assert "the true next character" in legend and "was not among the top 5" in legend

    root = ET.fromstring(render(states, ExportSpec(["layer1.c.3"], 0, n, strips=True, width=40,
                                                   format="svg")))
    svg_hits, svg_misses = [[] for _ in range(n)], [None] * n
    groups = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "lv-group"]
    for group in groups:
        rows = list(group)
        first = int(rows[0].get("data-start"))
        for row in rows:
            if row.get("data-rank"):
                for path in row.findall(SVG_NS + "path[@class='lv-hit']"):
                    for x in re.findall(r"M([\d.]+) ", path.get("d")):
                        column = round((float(x) - 0.75) / COL_PX)
                        svg_hits[first + column].append(int(row.get("data-rank")) - 1)
            if row.get("class") == "lv-strip lv-misses":
                for t in row.iter(SVG_NS + "text"):
                    svg_misses[first + round((float(t.get("x")) - COL_PX / 2) / COL_PX)] = t.text
    assert svg_hits == hits and svg_misses == misses


def test_a_figure_with_strips_takes_at_most_half_the_bytes_of_one_inline_style_per_cell(long_h5):
    # With an inline style on every cell, 400 characters of the demo with strips took 198.6 KB as
    # HTML and 354.0 KB as SVG: about 500 and 885 bytes a character.
    with open_states(long_h5) as states:
        for fmt, before in [("html", 500), ("svg", 885)]:
            text = render(states, ExportSpec(["layer1.c.3"], 0, 400, strips=True, format=fmt))
            assert len(text.encode("utf-8")) <= 400 * before / 2, fmt
            assert text.count("style=") == (fmt == "svg")  # only an SVG's own max-width


def test_fragment_is_one_div_with_every_style_rule_scoped(states):
    frag = render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 0, 50, fragment=True, strips=True))
    tree = parse(frag)
    [root] = [c for c in tree.root.children if isinstance(c, Node)]
    assert root.tag == "div" and not frag.lower().startswith("<!doctype")
    scope = [c for c in root.attrs["class"].split() if c != "lv-snippet"][0]
    assert re.fullmatch(r"lv-[0-9a-f]{10}", scope)
    [style] = [n for n in root.iter() if n.tag == "style"]
    rules = [r for r in style.text().split("}") if r.strip()]
    assert rules
    for rule in rules:
        for selector in rule.split("{")[0].split(","):
            assert selector.strip().split()[0] == "." + scope, selector
    other = render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 1, 50, fragment=True, strips=True))
    assert f'class="lv-snippet {scope}"' not in other  # two figures on one page do not share styles
    page = render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 0, 50, strips=True))
    assert page.startswith("<!DOCTYPE html>")
    [body] = [n for n in parse(page).root.iter() if n.tag == "body"]
    [div] = [c for c in body.children if isinstance(c, Node)]
    assert "lv-snippet" in div.attrs["class"] and "--fragment" not in page


def test_raw_c_colours_over_the_units_robust_whole_file_range(states, h5):
    tree = parse(render(states, ExportSpec(["layer1.c.3"], 30, 90, raw_c=True, palette="diverging")))
    got = [c.bg() for c in band_cells(tree)["layer1.c.3"]]
    assert got == expected_colours(h5, "layer1.c.3", 30, 120, "diverging", raw_c=True)
    assert got != expected_colours(h5, "layer1.c.3", 30, 120, "diverging")


SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_cells(root: ET.Element, row: ET.Element, col: float = COL_PX) -> list[str]:
    """The fill of each cell of an SVG row, in order: its paths' boxes, coloured by the figure's classes.

    A row draws each colour as one path of boxes (``M18 0h36v21h-36z``: two cells from x = 18), so
    the boxes are cut back into cells ``col`` wide (18 px with strips, else 8.4) and read back in
    order of x.
    """
    css = "".join(el.text or "" for el in root.iter(SVG_NS + "style"))
    fills = dict(re.findall(r"\.([kp]\w+)\{fill:(#[0-9a-f]{6})\}", css))
    boxes = [(float(x), float(w), fills[path.get("class")]) for path in row.findall(SVG_NS + "path")
             if path.get("class") in fills
             for x, w in re.findall(r"M([\d.]+) 0h([\d.]+)v", path.get("d"))]
    cells = {round(x / col) + k: fill for x, w, fill in boxes for k in range(round(w / col))}
    assert sorted(cells) == list(range(len(cells)))  # no gap, no overlap
    return [cells[k] for k in range(len(cells))]


def test_svg_parses_as_xml_with_the_same_cells_and_colours(states, h5):
    text = render(states, ExportSpec(["layer1.c.3", "layer0.gates.f.2"], 20, 70, strips=True, width=30,
                                     title="T --> <x>", caption="a\nb", format="svg"))
    assert text.startswith("<?xml")
    root = ET.fromstring(text)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert "<script" not in text and "href" not in text and "url(" not in text
    for neuron in ("layer1.c.3", "layer0.gates.f.2"):
        cells = [(int(band.get("data-start")) + k, colour) for band in root.iter(f"{ns}g")
                 if band.get("data-neuron") == neuron for k, colour in enumerate(svg_cells(root, band))]
        assert [i for i, _ in cells] == list(range(20, 90))
        assert [colour for _, colour in cells] == expected_colours(h5, neuron, 20, 90, "blog")
    strips = [g for g in root.iter(f"{ns}g") if g.get("data-rank")]
    assert sum(len(svg_cells(root, strip)) for strip in strips) == 5 * 70
    [meta] = root.iter(f"{ns}metadata")
    assert "--format svg" in meta.text and "--title $'T \\x2d\\x2d\\x3e \\x3cx\\x3e'" in meta.text
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "T --> <x>" in texts and "a" in texts and "b" in texts
    fragment = render(states, ExportSpec(["layer1.c.3"], 0, 10, fragment=True, format="svg"))
    assert fragment.startswith("<svg") and ET.fromstring(fragment) is not None


def test_byte_level_file_shows_multibyte_characters_once(tmp_path):
    text = "café — naïve €5\n" * 4
    path = build_states(tmp_path / "bytes.h5", text, byte_level=True)
    with open_states(path) as states:
        n = states.n_tokens
        tree = parse(render(states, ExportSpec(["layer0.c.1"], 0, n)))
        svg = ET.fromstring(render(states, ExportSpec(["layer0.c.1"], 0, n, strips=True, format="svg")))
    cells = band_cells(tree)["layer0.c.1"]
    assert len(cells) == len(text.encode("utf-8"))
    assert "".join(c.text() for c in cells).replace("↵", "\n") == text
    assert [c.bg() for c in cells] == expected_colours(path, "layer0.c.1", 0, n, "blog")
    assert svg is not None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (dict(neurons=["layer5.c.1"]), UnknownActivation, "has no activation 'layer5.c'"),
        (dict(neurons=["layer1.c.99"]), UnknownActivation, "there is no unit 99"),
        (dict(neurons=["layer1.q.1"]), UnknownActivation, "is not a neuron"),
        (dict(neurons=[]), OptionError, "no neuron given"),
        (dict(length=0), OptionError, "the span is empty"),
        (dict(start=-1), SpanError, "span -1:9 is not within the text of"),
        (dict(start=10_000), SpanError, "span 10000:10010 is not within the text of"),
        (dict(start=300, length=100), SpanError, "span 300:400 is not within the text of"),
        (dict(palette="rainbow"), OptionError, "unknown palette 'rainbow'"),
        (dict(width=-1), OptionError, "line width is -1"),
        (dict(width=9), OptionError, "the line width is 9; give 10 or more characters per line, or 0"),
    ],
)
def test_bad_requests_raise_typed_errors(states, call, error, message):
    args = dict(neurons=["layer1.c.3"], start=0, length=10) | call
    with pytest.raises(error, match=re.escape(message)):
        render(states, ExportSpec(args.pop("neurons"), args.pop("start"), args.pop("length"), **args))


def test_cli_writes_the_default_name_and_its_command_recreates_the_file(h5, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(h5), "-n", "layer1.c.3", "-n", "layer0.h.5",
                                 "--start", "12", "--length", "40", "--strips", "--title", "a --> b"])
    assert result.exit_code == 0, result.output
    assert result.output == "layer1.c.3+1_12.html\n"
    written = (tmp_path / "layer1.c.3+1_12.html").read_text(encoding="utf-8")
    with open_states(h5) as states:  # the dashboard calls the library: the same bytes
        assert written == render(states, ExportSpec(["layer1.c.3", "layer0.h.5"], 12, 40, strips=True,
                                                    title="a --> b"))
    [comment] = parse(written).comments
    command = next(line for line in comment.splitlines() if line.startswith("command: "))
    argv = shlex.split(command[len("command: "):].replace("$'a \\x2d\\x2d\\x3e b'", "'a --> b'"))
    again = tmp_path / "again"
    again.mkdir()
    monkeypatch.chdir(again)
    (again / "hostile.h5").symlink_to(h5)
    result = runner.invoke(cli, argv[1:])
    assert result.exit_code == 0, result.output
    assert (again / "layer1.c.3+1_12.html").read_text(encoding="utf-8") == written


def test_cli_svg_from_the_output_suffix_and_fragment(h5, tmp_path):
    out = tmp_path / "cell.svg"
    result = CliRunner().invoke(cli, ["export", str(h5), "--neuron", "layer0.gates.o.4", "--start", "0",
                                      "--length", "30", "--fragment", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{out}\n"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<svg") and "--fragment --format svg" in text
    ET.fromstring(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "layer9.h.1"], "Error: hostile.h5 has no activation 'layer9.h'"),
        (["-n", "layer0.h.400"], "Error: layer0.h has units 0..15; there is no unit 400"),
        (["--start", "5000"], "Error: span 5000:5010 is not within the text of hostile.h5"),
        (["--length", "0"], "Error: the span is empty (length 0)"),
        (["--width", "-3"], "Error: the line width is -3"),
        (["--width", "5"], "Error: the line width is 5; give 10 or more characters per line, or 0 to break "
                           "lines only at newlines\n"),
        (["-o", "."], "Error: .: is a folder; give a file name for -o, e.g. layer1.c.3_0.html"),
        (["-o", ""], "Error: -o is empty; give a file name, or leave -o out"),
        (["-o", "x.svg", "--format", "html"], "Error: --format html but -o x.svg ends in .svg"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(h5, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    base = ["export", str(h5), "-n", "layer1.c.3", "--start", "0", "--length", "10"]
    # later options win in click, so the argument under test overrides the base one
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 1
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["html", "svg"])
@pytest.mark.parametrize("spelling", ["same", "dot", "detour", "absolute", "symlink", "hard link"])
def test_cli_never_writes_over_its_input(h5, tmp_path, monkeypatch, fmt, spelling):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    states = tmp_path / "v.h5"
    states.write_bytes(h5.read_bytes())
    (tmp_path / "link.h5").symlink_to(states)
    (tmp_path / "hard.h5").hardlink_to(states)
    output = {"same": "v.h5", "dot": "./v.h5", "detour": "sub/../v.h5", "absolute": str(states),
              "symlink": "link.h5", "hard link": "hard.h5"}[spelling]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for force in ([], ["--force"]):
        result = CliRunner().invoke(cli, ["export", "v.h5", "-n", "layer0.h.1", "--start", "0", "--length",
                                          "10", "--format", fmt, "-o", output, *force])
        assert result.exit_code == 1
        assert result.output.endswith(": -o names an input of this run; choose another output file\n")
        assert result.output.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    with open_states(states) as s:
        assert s.n_tokens == len(HOSTILE)


def test_cli_replaces_an_existing_file_only_with_force_and_whole(h5, tmp_path):
    out = tmp_path / "fig.html"
    out.write_text("precious", encoding="utf-8")
    args = ["export", str(h5), "-n", "layer1.c.3", "--start", "0", "--length", "10", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output == (f"Error: {out} already exists; pass --force to replace it, "
                             "or choose -o OTHER.html\n")
    assert out.read_text(encoding="utf-8") == "precious"
    kept = tmp_path / "kept.html"
    kept.hardlink_to(out)  # a file written in place would change under this name too
    result = CliRunner().invoke(cli, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert kept.read_text(encoding="utf-8") == "precious"  # replaced by a rename, never rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.html", "kept.html"]


def test_cli_creates_a_missing_output_folder(h5, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["export", str(h5), "-n", "layer1.c.3", "--start", "0", "--length", "10",
                                      "-o", "figures/2024/x.svg"])
    assert result.exit_code == 0, result.output
    assert result.output == "figures/2024/x.svg\n"
    ET.fromstring((tmp_path / "figures" / "2024" / "x.svg").read_text(encoding="utf-8"))


def test_cli_refuses_a_file_where_the_folder_should_be(h5, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", str(h5), "-n", "layer1.c.3", "--start", "0", "--length", "10",
                                      "-o", "notes/x.html"])
    assert result.exit_code == 1
    assert result.output == "Error: notes/x.html: notes is a file, not a folder; choose another -o path\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]


# Every code point up to U+00FF but NUL (no command line can hold one), and some beyond: line and
# paragraph separators, a zero-width space and joiner, a byte-order mark, private use, an emoji,
# the last code point, and U+DC85, which is how Python reads the undecodable byte 0x85 of argv.
CODE_POINTS = [*range(1, 0x100), 0x2028, 0x2029, 0x200B, 0x200D, 0xFEFF, 0xE000, 0x1F600, 0x10FFFF, 0xDC85]


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_bash_reads_every_quoted_value_back_exactly(locale):
    values = [f"{chr(c)}5f" for c in CODE_POINTS] + [f"a--{chr(c)}<b>" for c in CODE_POINTS]
    quoted = [shell_quote(v) for v in values]
    assert all(q.isprintable() for q in quoted)  # one line, every control character spelled out
    env = {**os.environ, "LC_ALL": locale}
    out = subprocess.run(["bash", "-c", "printf '%s\\0' " + " ".join(quoted)], capture_output=True,
                         check=True, env=env).stdout
    back = [word.decode("utf-8", "surrogateescape") for word in out.split(b"\0")[:-1]]
    assert [ascii(v) for v in back] == [ascii(v) for v in values]


def test_write_is_all_or_nothing(tmp_path):
    target = tmp_path / "fig.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_snippet(target, "new \udc80 text")  # fails half-way through writing
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.html"]
    with pytest.raises(OptionError, match=f"the folder {target} is a file, not a folder; choose another -o"):
        write_snippet(target / "inner.html", "x")
    with pytest.raises(OptionError, match="does not exist; create it or choose another -o"):
        write_snippet(tmp_path / "missing" / "inner.html", "x")
    with pytest.raises(OptionError, match="File name too long; choose another -o"):
        write_snippet(tmp_path / ("a" * 300 + ".html"), "x")
    assert write_snippet(target, "new") == target and target.read_text(encoding="utf-8") == "new"


def test_write_goes_through_links_and_never_over_special_files(tmp_path):
    real = tmp_path / "real.html"
    real.write_text("old", encoding="utf-8")
    (tmp_path / "link.html").symlink_to(real)
    write_snippet(tmp_path / "link.html", "new")
    assert (tmp_path / "link.html").is_symlink() and real.read_text(encoding="utf-8") == "new"
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OptionError, match="pipe is not a regular file .* give the path of a file"):
        write_snippet(tmp_path / "pipe", "x")
    assert (tmp_path / "pipe").is_fifo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "pipe", "real.html"]


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == 0
    assert "lstmviz export val.h5 --neuron layer1.c.117 --start 1200 --length 400" in result.output
    flat = " ".join(result.output.split())
    assert "[default: blog]" in flat
    assert "[default: as wide as the dashboard: 74 with --strips, 159 without]" in flat


