"""Causal scores find the cell a model's predictions depend on, and nothing in the units that do not matter.

The hand-built model (tests/search_models.py, 40 units) has its quote cell in unit 0; its decoder reads
that cell alone: the logit of '"' is W * h_0 and every other logit is 0. So the loss of any
next symbol is known by hand from h_0 = tanh(c_0) (o = 1), and silencing the cell (h_0 = tanh(mean)
or 0) changes it by an amount the test computes. No other unit reaches the decoder, and the
quote cell reads no unit but itself and the newline helper, so silencing a random unit changes
nothing.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from search_models import AUSTEN, QUOTE, VOCAB, extract_text, quote_reading_model

from lstmviz.cli import cli
from lstmviz.extraction.extract import extract_file
from lstmviz.intervene.causal import causal_scores, closing_positions, hypothesis_positions
from lstmviz.intervene.edits import EditSpec
from lstmviz.intervene.intervention import intervene
from lstmviz.model.checkpoint import save_checkpoint
from lstmviz.search.hypotheses import HYPOTHESES, hypothesis_values
from lstmviz.store.reader import open_states

H = 40
W = 4.0  # decoder weight from the quote cell to '"'
CHARS = 8000  # the stretch silenced: 32 quotations close in it
Q = VOCAB.symbols.index('"')


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("causal")
    model = quote_reading_model(H, W)
    return model, extract_text(model, AUSTEN, d / "austen.h5")


def bits_by_hand(h: np.ndarray, nxt: list[str]) -> np.ndarray:
    """-log2 p(next) when the logit of '"' is W * h and every other of the V logits is 0."""
    V = len(VOCAB)
    top = np.where(np.array(nxt) == '"', W * h, 0.0)
    return -(top - np.log(np.exp(W * h) + V - 1)) / math.log(2)


def test_closing_positions_are_where_the_closer_is_predicted():
    text = 'say "hi" and &quot;yes&quot; [[a|b]] x'
    quote = hypothesis_values(text, "quote")
    at = closing_positions(quote, text, HYPOTHESES["quote"].closers)
    assert [text[p + 1 :] [:6] for p in at] == ['" and ', "&quot;"]  # the closer follows each
    link = hypothesis_values(text, "wikilink")
    assert [text[p + 1 : p + 3] for p in closing_positions(link, text, HYPOTHESES["wikilink"].closers)] == \
        ["]]"]
    url = "see http://a.org/x now"
    assert [url[p + 1] for p in closing_positions(hypothesis_values(url, "url"), url)] == [" "]
    # the last position of each region, for a closer of one symbol or none, as with a pattern
    assert closing_positions(np.array([1, 1, 0, 1, 0, 1]), "abcdef").tolist() == [1, 3]


def test_positions_count_only_where_a_next_symbol_lies_in_the_stretch():
    text = 'a "b" c "d'
    p = hypothesis_positions(HYPOTHESES["quote"], text, 6)
    assert p.closing.tolist() == [False, False, False, True, False, False]
    assert p.inside.tolist() == [False, False, True, True, False, False]
    whole = hypothesis_positions(HYPOTHESES["quote"], text, len(text))
    assert not whole.inside[-1] and not whole.elsewhere[-1]  # nothing follows the last symbol
    assert whole.closing.sum() == 1  # the quote still open at the end is not closed


@pytest.mark.parametrize("ablation", ["mean", "zero"])
def test_silencing_the_quote_cell_costs_what_the_decoder_says(planted, ablation):
    model, path = planted
    with open_states(path) as s:
        df = causal_scores(s, model, [("quote", f"layer0.c.{QUOTE}")], ablation=ablation, n_random=30,
                           chars=CHARS)
        c = s.window("layer0.c", 0, s.n_tokens, QUOTE)
        mean = float(s.summary("layer0.c")["mean"][QUOTE])
        quote = hypothesis_values(s, "quote")
    row = df.iloc[0]
    # closing positions by hand: the last position of each quotation (every closer is one symbol)
    runs_end = np.flatnonzero((quote[:-1] > 0) & (quote[1:] == 0))
    runs_end = runs_end[runs_end < CHARS]
    nxt = [AUSTEN[t + 1] for t in runs_end]
    held = math.tanh(mean) if ablation == "mean" else 0.0
    silenced = bits_by_hand(np.full(len(runs_end), held), nxt)
    expected = np.mean(silenced - bits_by_hand(np.tanh(c[runs_end]), nxt))
    assert df.attrs["positions"]["quote"]["closing"] == len(runs_end) > 20
    assert row.causal_delta_bits == pytest.approx(expected, abs=1e-4)
    assert row.causal_delta_bits > 0.5  # the model cannot see the quotation end coming any more
    assert row.causal_percentile == 100 and row.n_random == 30
    randoms = np.array(df.attrs["random"]["layer0.c"]["delta_bits"]["quote"]["closing"])
    assert len(randoms) == 30 and f"layer0.c.{QUOTE}" not in df.attrs["random"]["layer0.c"]["units"]
    assert np.median(np.abs(randoms)) == 0  # units the decoder and the quote cell never read
    assert (np.abs(randoms) < 0.05 * row.causal_delta_bits).mean() >= 0.9


def test_random_units_are_drawn_by_seed(planted):
    model, path = planted
    with open_states(path) as s:
        a, b, c = (causal_scores(s, model, [("quote", "layer0.h.0")], n_random=5, seed=seed, chars=300)
                   for seed in (0, 0, 1))
    units = [x.attrs["random"]["layer0.h"]["units"] for x in (a, b, c)]
    assert units[0] == units[1] != units[2] and len(units[0]) == 5 and "layer0.h.0" not in units[0]


def test_holding_the_cell_inside_makes_the_closing_quote_the_first_guess(planted):
    model, path = planted
    quote = hypothesis_values(AUSTEN, "quote")
    start = next(t for t in range(AUSTEN.index('"'), len(AUSTEN)) if not quote[t : t + 40].any())
    with open_states(path) as s:  # 40 positions of narration, outside any quotation
        held = intervene(s, model, [EditSpec.parse(f"layer0.c.{QUOTE}=set:1")], start, start + 40)
    assert (held.top_ids[:40, 0] == Q).all() and (held.base_top_ids[:40, 0] != Q).all()
    # released, the cell keeps what it was held at (f = 1) until the next '"' toggles it
    changed = held.totals()["top1_changed"]
    assert changed[:40] == list(range(start, start + 40)) and len(changed) > 40


# --- lstmviz search --causal -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("causal-cli")
    save_checkpoint(d / "quote.pt", quote_reading_model(H, W), VOCAB)
    (d / "austen.txt").write_text(AUSTEN, encoding="utf-8")
    return extract_file(d / "quote.pt", d / "austen.txt", d / "austen.h5")


def test_search_adds_causal_columns(checkpoint_file):
    out = CliRunner().invoke(cli, ["search", str(checkpoint_file), "--hypothesis", "quote", "--top", "2",
                                   "--causal", "--causal-chars", str(CHARS), "--json", "--no-cache"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    best = data["units"][0]
    assert best["neuron"] in {"layer0.c.0", "layer0.h.0"} and best["causal_percentile"] == 100
    assert best["causal_delta_bits"] > 0.5 and "causal_inside_percentile" in best
    assert set(data["causal"]["random"]) == {"layer0.c", "layer0.h"}
    assert data["causal"]["ablation"] == "mean" and data["causal"]["chars"] == CHARS
    assert data["causal"]["positions"]["quote"]["closing"] == 32
    table = CliRunner().invoke(cli, ["search", str(checkpoint_file), "--hypothesis", "quote", "--top", "2",
                                     "--causal", "--random", "5", "--causal-chars", "2000"])
    assert table.exit_code == 0, table.output
    header = next(line for line in table.output.splitlines() if line.strip().startswith("rank"))
    assert header.split()[-2:] == ["causal_delta_bits", "causal_percentile"]
    assert "mean-ablated over the first 2,000 characters" in table.output


def test_search_all_adds_causal_columns_for_each_best_unit(checkpoint_file):
    out = CliRunner().invoke(cli, ["search", str(checkpoint_file), "--all", "--causal", "--random", "5",
                                   "--causal-chars", "3000", "--json"])
    assert out.exit_code == 0, out.output
    best = {r["hypothesis"]: r for r in json.loads(out.stdout)["best"]}
    assert {"causal_delta_bits", "causal_percentile"} <= set(best["quote"])


@pytest.mark.parametrize(("args", "message"), [
    (["--span", "10:40", "--causal"], "--causal works with --hypothesis, --pattern or --all"),
    (["--hypothesis", "quote", "--ablation", "zero"], "--ablation, --random, --causal-chars, --seed, --model "
                                                      "and --trust-pickle go with --causal"),
])
def test_search_causal_options_that_do_nothing_are_refused(checkpoint_file, args, message):
    out = CliRunner().invoke(cli, ["search", str(checkpoint_file), *args])
    assert out.exit_code == 2 and message in out.output
