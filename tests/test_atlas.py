"""The cell atlas: planted cells come first, a random network is said to have none, the page is inert.

The planted model (tests/search_models.py) has a quote cell (unit 0), a paren-depth counter
(unit 2) and a column counter (unit 3), run by the real extractor over real text; a random
network of the same shape has no cell that clears its baseline.
"""

import re
import shutil

import pytest
from click.testing import CliRunner
from dash.html import Button, Div, Iframe
from search_models import COLUMN, PAREN, QUOTE, shared_file
from test_export import HOSTILE, assert_self_contained, build_states, parse

from app import ids
from app.callbacks.atlas import atlas_reply, download_reply, opened
from app.catalog import Catalog
from app.state import View, from_query
from lstmviz.cli import cli
from lstmviz.errors import LstmvizError
from lstmviz.render.atlas import atlas_command, page
from lstmviz.search.atlas import MARGIN, build_atlas, rankings
from lstmviz.store.reader import open_states

PLANTED = {"quote": QUOTE, "depth_paren": PAREN, "column": COLUMN}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = tmp_path_factory.mktemp("planted") / "planted.h5"  # a copy: its rankings are cached beside it
    shutil.copy(shared_file("planted", "python"), path)
    return path


@pytest.fixture(scope="module")
def random_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("random") / "random.h5"
    shutil.copy(shared_file("random", "python"), path)
    return path


def units(neurons) -> list[tuple[int, int]]:
    return [(int(n.split(".")[0][5:]), int(n.rsplit(".", 1)[1])) for n in neurons]


def cards_by_hypothesis(html: str) -> dict[str, list[str]]:
    """The neurons of each hypothesis' cards, in page order, read from the page itself."""
    tree = parse(html)
    out, current = {}, None
    for node in tree.root.iter():
        if node.tag == "h2":
            current = None
        if node.tag == "h3" and node.children and isinstance(node.children[0], str):
            current = node.children[0].strip()
        if "card" in node.attrs.get("class", "").split() and current is not None:
            out.setdefault(current, []).append(node.attrs["data-neuron"])
    return out


def test_the_atlas_lists_the_planted_cells_first(planted):
    with open_states(planted) as states:
        atlas = build_atlas(states)
        html = page(states, atlas, command=atlas_command(str(planted)))
    for hypothesis, unit in PLANTED.items():
        first = atlas.tracked[hypothesis][0]
        assert units([first.neuron]) == [(0, unit)]
        assert first.margin > 0.25
        assert first.contexts and 0 <= first.contexts[0] < atlas.n_positions
    # hypotheses in order of their best margin: the planted cells' lead the page (with "depth",
    # which the paren counter tracks too)
    assert set(list(atlas.tracked)[:4]) == {"depth_paren", "depth", "column", "quote"}
    shown = cards_by_hypothesis(html)
    for hypothesis, unit in PLANTED.items():
        assert units(shown[hypothesis][:1]) == [(0, unit)]
        assert len(set(units(shown[hypothesis]))) == len(shown[hypothesis])  # h and c of a unit count once
    clear, total = atlas.cells
    assert clear >= 3 and total == 8 and atlas.message() is None
    assert f"{clear} of 8 cells ({clear / 8:.1%})" in html


def test_unexplained_units_clear_no_hypothesis_and_say_why(planted):
    with open_states(planted) as states:
        tables = rankings(states)
        atlas = build_atlas(states, tables)
    assert atlas.unexplained
    for card in atlas.unexplained:
        best = max(t.loc[t.neuron == card.neuron, "score"].iloc[0] - t.attrs["baseline"]
                   for t in tables.values())
        assert best < MARGIN and card.margin == pytest.approx(best)
        assert card.interest >= 0.1 and any(f.startswith("persists") for f in card.facts)
        assert 1 <= len(card.contexts) <= 3
    assert len(set(units(c.neuron for c in atlas.unexplained))) == len(atlas.unexplained)


def test_a_network_with_no_cell_above_its_baseline_is_told_so_with_the_closest(random_file, tmp_path):
    with open_states(random_file) as states:
        atlas = build_atlas(states)
    assert atlas.none_clear and atlas.closest is not None
    message = atlas.message()
    assert message.startswith("no unit of random.h5 clears its baseline by 0.05: the closest is "
                              f"{atlas.closest.neuron} for {atlas.closest.hypothesis} (")
    assert "\n" not in message
    out = tmp_path / "atlas.html"
    result = CliRunner().invoke(cli, ["atlas", str(random_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"
    assert result.stderr.splitlines()[-1] == f"Note: {message}"
    html = out.read_text(encoding="utf-8")
    tree = parse(html)
    [alert] = tree.root.find_all("alert")
    assert alert.text() == message
    assert cards_by_hypothesis(html)["The closest"] == [atlas.closest.neuron]
    tab = atlas_reply(Catalog.scan([random_file]), View("random", "layer0.c.0").to_dict())
    assert tab[0].children == message  # the tab says it above the page, in the same words


def test_the_page_is_self_contained_deterministic_and_records_its_command(planted):
    with open_states(planted) as states:
        atlas = build_atlas(states, margin=0.1, per_hypothesis=2)
        command = atlas_command(str(planted), margin=0.1, top=2)
        one = page(states, atlas, command=command)
        two = page(states, build_atlas(states, margin=0.1, per_hypothesis=2), command=command)
    assert one == two
    tree = parse(one)
    assert_self_contained(tree)
    assert "<script" not in one.lower() and "href" not in one.lower() and "url(" not in one.lower()
    [comment] = tree.comments
    assert "lstmviz" in comment and "command: lstmviz atlas planted.h5 --margin 0.1 --top 2" in comment
    assert "<" not in comment and ">" not in comment
    # every context is coloured by classes the page's one stylesheet defines
    css = "".join(n.text() for n in tree.root.iter() if n.tag == "style")
    used = {c for n in tree.root.find_all("lv-band") for s in n.cells() for c in s.classes() if c[0] == "k"}
    assert used and all(re.search(rf"\.{c}\{{background:#[0-9a-f]{{6}}", css) for c in used)
    assert all(len(card.find_all("hist")) == 1 for card in tree.root.find_all("card"))


def test_a_ranking_with_causal_scores_shows_them_on_its_cards(planted):
    with open_states(planted) as states:
        tables = rankings(states)
        quote = tables["quote"].copy()
        quote["causal_percentile"] = [99.5] + [50.0] * (len(quote) - 1)
        quote.attrs = tables["quote"].attrs
        atlas = build_atlas(states, {**tables, "quote": quote})
        html = page(states, atlas, command="lstmviz atlas planted.h5")
    assert atlas.tracked["quote"][0].causal == 99.5
    assert atlas.tracked["column"][0].causal is None
    cards = {n.attrs["data-neuron"]: n for n in parse(html).root.find_all("card")}
    stats = cards[atlas.tracked["quote"][0].neuron].find_all("stats")[0].text()
    assert "causal99.5" in stats.replace(" ", "")
    assert "causal—" in cards[atlas.tracked["column"][0].neuron].find_all("stats")[0].text().replace(" ", "")


def test_cli_writes_the_default_name_and_keeps_the_output_rules(planted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["atlas", str(planted)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "planted_atlas.html\n"
    written = (tmp_path / "planted_atlas.html").read_text(encoding="utf-8")
    assert written.startswith("<!DOCTYPE html>") and "command: lstmviz atlas planted.h5\n" in written
    again = runner.invoke(cli, ["atlas", str(planted)])
    assert again.exit_code == 1
    assert again.output == ("Error: planted_atlas.html already exists; pass --force to replace it, "
                            "or choose -o OTHER.html\n")
    refused = runner.invoke(cli, ["atlas", str(planted), "-o", str(planted), "--force"])
    assert refused.exit_code == 1
    assert refused.output.endswith(": -o names an input of this run; choose another output file\n")
    assert runner.invoke(cli, ["atlas", str(planted), "--force", "--top", "1"]).exit_code == 0
    assert (tmp_path / "planted_atlas.html").read_text(encoding="utf-8") != written
    bad = runner.invoke(cli, ["atlas", str(planted), "--margin", "2"])
    assert bad.exit_code == 2 and "--margin" in bad.output


# --- the dashboard's Atlas tab, as plain functions ------------------------------------------------


def test_the_tab_shows_the_page_the_cli_writes_and_opens_each_card(planted, tmp_path):
    catalog = Catalog.scan([planted])
    view = View("planted", "layer0.h.5", pos=0, length=200)
    shown = atlas_reply(catalog, view.to_dict())
    [frame] = [c for c in shown if isinstance(c, Iframe)]
    out = tmp_path / "cli.html"
    assert CliRunner().invoke(cli, ["atlas", str(planted), "-o", str(out)]).exit_code == 0
    assert frame.srcDoc == out.read_text(encoding="utf-8")  # the tab and the CLI show one page
    download = download_reply(catalog, view.to_dict())
    assert download["filename"] == "planted_atlas.html" and download["content"] == frame.srcDoc
    buttons = [b.id for c in shown if isinstance(c, Div) for b in c.children
               if isinstance(b, Button) and b.id["type"] == ids.ATLAS_OPEN]
    with open_states(planted) as states:
        atlas = build_atlas(states)
    first = atlas.tracked["column"][0]
    button = next(b for b in buttons if b["neuron"] == first.neuron and b["pos"] == first.contexts[0])
    reopened, notes = from_query(opened(view.to_dict(), button), "planted")
    assert notes == [] and reopened.neuron == first.neuron and reopened.why == "column"  # for its caption
    assert reopened.mark == first.contexts[0] and reopened.pos <= reopened.mark < reopened.pos + 200
    forgeries = ({"type": ids.ATLAS_OPEN, "neuron": 3, "pos": 1}, {"neuron": "layer0.c.1", "pos": -4}, None)
    for forged in forgeries:
        with pytest.raises(LstmvizError, match="could not have shown"):
            opened(view.to_dict(), forged)
    missing = atlas_reply(catalog, {**view.to_dict(), "file": "nope"})
    assert "Cannot build the atlas: file 'nope' is not on this server" in missing[0].children


def test_an_atlas_of_hostile_text_and_a_hostile_file_name_is_inert(tmp_path):
    path = build_states(tmp_path / "a<b>&'--.h5", HOSTILE)
    with open_states(path) as states:
        text = page(states, build_atlas(states, margin=0.0), command=atlas_command(str(path)))
    tree = parse(text)
    assert_self_contained(tree)
    assert "<script" not in text.lower() and "href" not in text.lower()
    [comment] = tree.comments
    assert "<" not in comment and ">" not in comment and "-->" not in comment
    assert tree.root.find_all("card")
    assert "Cell atlas of a<b>&'--.h5" in "".join(n.text() for n in tree.root.iter() if n.tag == "h1")
