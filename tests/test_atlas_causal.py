"""``lstmviz atlas --causal``: the cards of units that track a hypothesis show their causal scores.

The planted model's decoder reads the quote cell alone (tests/search_models.py), so silencing that
cell costs bits where a quotation closes and silencing any other unit costs none: its card must
show the top percentile, the others' cards less.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from search_models import AUSTEN, QUOTE, VOCAB, quote_reading_model
from test_export import parse

from lstmviz.cli import cli
from lstmviz.errors import CheckpointError
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.model_source import model_for
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.search.atlas import build_atlas, rankings, with_causal
from lstmviz.store.reader import open_states

CHARS = 1500  # characters silenced: 4 quotations close in them


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("atlas-causal")
    save_checkpoint(d / "quote.pt", quote_reading_model(40, 4.0), VOCAB)
    (d / "austen.txt").write_text(AUSTEN, encoding="utf-8")
    return extract_file(d / "quote.pt", d / "austen.txt", d / "austen.h5")


def stats(card) -> dict[str, str]:
    """A card's table of numbers, header -> value, read from the page."""
    cells = [n.text().strip() for n in card.find_all("stats")[0].iter() if n.tag in ("th", "td")]
    return dict(zip(cells[::2], cells[1::2], strict=True))


def test_the_cell_the_model_reads_shows_the_top_percentile_on_the_page(made, tmp_path):
    out = tmp_path / "atlas.html"
    result = CliRunner().invoke(cli, ["atlas", str(made), "--causal", "--causal-chars", str(CHARS),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{out}\n"
    assert "causal" in result.stderr  # the progress bar of the silenced run
    tree = parse(out.read_text(encoding="utf-8"))
    cards = {n.attrs["data-neuron"]: stats(n) for n in tree.root.find_all("card")}
    quote = cards[f"layer0.c.{QUOTE}"]
    assert quote["causal"] == "100" and float(quote["Δbits"]) > 0.5
    others = [s for n, s in cards.items() if "Δbits" in s and n != f"layer0.c.{QUOTE}"]
    assert others and all(float(s["causal"]) < 100 and abs(float(s["Δbits"])) < 0.01 for s in others)
    [note] = tree.root.find_all("causal-note")
    assert f"over the first {CHARS:,} characters" in note.text()
    assert "30 or more random units of its layer and kind" in note.text()
    [comment] = tree.comments
    assert f"command: lstmviz atlas austen.h5 --causal --causal-chars {CHARS}\n" in comment + "\n"


def test_scores_join_the_cards_shown_and_no_unexplained_one(made):
    with open_states(made) as states:
        tables = rankings(states)
        plain = build_atlas(states, tables)
        joined = with_causal(states, tables, model_for(states).model, n_random=5, chars=CHARS)
        atlas = build_atlas(states, joined)
    assert plain.causal is None and atlas.causal["chars"] == CHARS and atlas.n_random == 5
    shown = {(c.hypothesis, c.neuron) for c in atlas.shown()}
    assert shown == {(c.hypothesis, c.neuron) for c in plain.shown()}
    assert all(c.causal is None and c.causal_bits is None for c in atlas.unexplained) and atlas.unexplained
    best = atlas.tracked["quote"][0]
    assert (best.neuron, best.causal) == (f"layer0.c.{QUOTE}", 100.0) and best.causal_bits > 0.5
    # one join: a ranking's rows beyond the cards keep no score
    quote = joined["quote"]
    assert quote["causal_percentile"].notna().sum() == len(atlas.tracked["quote"])


def test_without_its_model_the_atlas_says_so_in_one_line_and_writes_nothing(made, tmp_path):
    shutil.copy(made, tmp_path / "austen.h5")
    moved = tmp_path / "moved.pt"
    shutil.copy(made.parent / "quote.pt", moved)
    (made.parent / "quote.pt").rename(tmp_path / "gone.pt")
    try:
        with open_states(tmp_path / "austen.h5") as states, pytest.raises(CheckpointError) as e:
            model_for(states)
        out = tmp_path / "atlas.html"
        result = CliRunner().invoke(cli, ["atlas", str(tmp_path / "austen.h5"), "--causal", "-o", str(out)])
        assert result.exit_code == 1
        assert result.output == f"Error: {e.value}\n"
        assert result.output.endswith("give it with --model PATH\n")
        assert not out.exists()
        given = CliRunner().invoke(cli, ["atlas", str(tmp_path / "austen.h5"), "--causal", "--causal-chars",
                                         "300", "--model", str(moved), "-o", str(out)])
        assert given.exit_code == 0, given.output
        assert "--causal-chars 300 --model moved.pt" in out.read_text(encoding="utf-8")
    finally:
        (tmp_path / "gone.pt").rename(made.parent / "quote.pt")


def test_causal_options_without_causal_are_refused(made):
    result = CliRunner().invoke(cli, ["atlas", str(made), "--causal-chars", "300"])
    assert result.exit_code == 2
    assert "--causal-chars, --model and --trust-pickle go with --causal" in result.output
