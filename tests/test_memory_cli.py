"""``lstmviz provenance``, ``profile`` and ``search --horizon`` on a real extraction of planted cells."""

import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from extraction_files import make_model, write_checkpoint
from memory_models import COUNTER, PARITY, columns, extract_memory
from memory_models import TEXT as MEMORY_TEXT

from lstmviz.cli import cli
from lstmviz.store.reader import open_states
from lstmviz.store.validate import validate


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return extract_memory(tmp_path_factory.mktemp("cli"))


def test_provenance_of_the_counter(plain):
    t = next(k for k in range(300, 400) if MEMORY_TEXT[k] != "\n" and columns(MEMORY_TEXT)[k] > 12)
    col = int(columns(MEMORY_TEXT)[t])
    result = run("provenance", plain, "-n", f"layer0.c.{COUNTER}", "--at", t, "--back", 50, "--top", 3, "-q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"layer0.c.0 at position {t} ") and lines[0].endswith(f"c = {col}")
    assert lines[1] == f"  +{col}  written by the 50 characters {t - 49}..{t}"
    assert lines[2].startswith("  +") and "remainder: the stored c at" in lines[2]
    assert lines[5] == "  gates: recomputed in float32 by memory.pt on cpu"
    assert lines[7] == "strongest 3 contributions:"
    assert [row.split()[:3] for row in lines[9:]] == [[f"{t - k}", f"{k + 1}", "+1"] for k in range(3)]


def test_json_gives_value_remainder_and_every_contribution(plain):
    result = run("provenance", plain, "-n", f"layer0.h.{PARITY}", "--at", 1000, "--back", 300, "--json", "-q")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    with open_states(plain) as s:
        stored = float(s.window("layer0.c", 1000, 1001, PARITY)[0])
    assert (out["neuron"], out["cell"], out["value"]) == ("layer0.h.1", "layer0.c.1", stored)
    assert [c["position"] for c in out["contributions"]] == list(range(701, 1001))
    total = sum(c["contribution"] for c in out["contributions"]) + out["remainder"]
    assert total == pytest.approx(stored, abs=1e-9) and out["start"] == 701
    assert set(out["look_back"]) == {"50%", "90%"}


def test_an_h_unit_shows_its_cell(plain):
    result = run("provenance", plain, "-n", "layer0.h.4", "--at", 20, "-q")
    first = result.output.splitlines()[0]
    assert first == "layer0.h.4 is o*tanh(c) of its cell: this is where layer0.c.4 comes from."
    assert "written by the 21 characters 0..20" in result.output  # the window stops at the text's start
    assert "remainder: the LSTM's initial state, 0" in result.output


@pytest.mark.parametrize("suffix", ["html", "svg"])
def test_figure_is_self_contained_and_escaped(plain, tmp_path, suffix):
    quote = MEMORY_TEXT.index('"')
    closing = MEMORY_TEXT.index('"', quote + 1)
    out = tmp_path / f"where.{suffix}"
    result = run("provenance", plain, "-n", f"layer0.c.{PARITY}", "--at", closing + 2, "--back", 80,
                 "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"wrote {out}"
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert f"lstmviz provenance {plain.name} --neuron layer0.c.1 --at {closing + 2} --back 80" in text
    assert f"Where layer0.c.1 at position {closing + 2} comes from" in text
    assert "contribution to c at" in text and 'data-neuron="layer0.c.1"' in text
    assert "&quot;" in text or "&#x27;" in text  # the text's own quotes, escaped
    if suffix == "html":
        starts = [int(a) for a in re.findall(r'<div class="lv-band" data-neuron="[^"]+" data-start="(\d+)"',
                                             text)]
        bands = re.findall(r'<div class="lv-band"[^>]*>(.*?)</div>', text)
        assert starts[0] == closing + 2 - 79  # the 80 positions up to the one asked for
        assert sum(band.count("<span") for band in bands) == 80


def test_bad_input_is_one_line(plain, tmp_path):
    n = len(MEMORY_TEXT)
    other = write_checkpoint(tmp_path / "other.pt", make_model(1, 8, None, seed=1))
    cases = [
        (["-n", "layer3.c.0", "--at", 5],
         f"{plain.name} has no activation 'layer3.c'; available: layer0.h, layer0.c"),
        (["-n", "layer0.c.99", "--at", 5], "layer0.c has units 0..7; there is no unit 99"),
        (["-n", "layer0.gates.f.2", "--at", 5],
         "layer0.gates.f.2 is a gate; provenance takes apart a cell state: give layer0.c.2 "
         "(or its h, layer0.h.2)"),
        (["-n", "layer0.c.0", "--at", n], f"position {n} is not in the text of {plain.name} (0..{n - 1}); "
                                          f"give --at between 0 and {n - 1}"),
        (["-n", "layer0.c.0", "--at", -1], f"position -1 is not in the text of {plain.name} (0..{n - 1}); "
                                           f"give --at between 0 and {n - 1}"),
        (["-n", "layer0.c.0", "--at", 5, "--back", 0],
         "--back 0: look back at least 1 character (the position's own)"),
        (["-n", "layer0.c.0", "--at", 5, "-o", tmp_path / "x.png"],
         f"-o {tmp_path / 'x.png'}: name the figure .html or .svg"),
    ]
    for args, message in cases:
        result = run("provenance", plain, *args)
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n"), args
    result = run("provenance", plain, "-n", "layer0.c.0", "--at", 5, "--model", other)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    said = (rf"Error: {re.escape(str(other))}: its sha256 \w+… differs from \w+…, the model {plain.name} was "
            r"extracted with; give that model with --model PATH\n")
    assert re.fullmatch(said, result.output)


def test_a_moved_model_is_asked_for(plain, tmp_path):
    copy = shutil.copy(plain, tmp_path / "copy.h5")
    checkpoint = plain.parent / "memory.pt"
    away = checkpoint.rename(tmp_path / "elsewhere.pt")
    try:
        result = run("provenance", copy, "-n", "layer0.c.0", "--at", 5)
        assert result.exit_code == 1 and result.output.count("\n") == 1
        assert result.output.startswith("Error: copy.h5 was extracted with 'memory.pt', which is not at ")
        assert result.output.endswith("; give it with --model PATH\n")
        assert run("provenance", copy, "-n", "layer0.c.0", "--at", 5, "--model", away, "-q").exit_code == 0
    finally:
        away.rename(checkpoint)


def test_profile_adds_horizons_that_search_ranks(plain, tmp_path):
    path = shutil.copy(plain, tmp_path / "plain.h5")
    said = run("profile", path)
    assert said.output == f"{path}: no memory horizons; measure them with `lstmviz profile {path} " \
                          "--horizon`\n"
    missing = run("search", path, "--horizon")
    assert missing.exit_code == 1
    assert missing.output == ("Error: plain.h5 holds no memory horizons; measure them with `lstmviz profile "
                              "plain.h5 --horizon` (or extract with --gates)\n")
    result = run("profile", path, "--horizon", "--window", 2048, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (f"{path}: memory horizons (characters back holding 90 % of each "
                                             "cell's contributions)")
    assert validate(path) == []
    assert run("profile", path).output == result.output  # stored now
    table = run("search", path, "--horizon", "--top", 3)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.output.splitlines()[4:]]
    assert [row[1] for row in rows[:2]] == [f"layer0.c.{PARITY}", f"layer0.c.{COUNTER}"]  # longest memories
    out = json.loads(run("search", path, "--horizon", "--json", "--top", 8).stdout)
    units = {u["neuron"]: u for u in out["units"]}
    assert units["layer0.c.2"]["median"] == units["layer0.c.2"]["p90"] == 1  # forgets at once
    assert all(u["window"] == 2048 for u in units.values())
    counter = np.ceil(0.9 * columns(MEMORY_TEXT)[np.array(list(MEMORY_TEXT)) != "\n"])
    assert abs(units["layer0.c.0"]["median"] - np.median(counter)) <= 2


def test_search_horizon_options(plain):
    result = run("search", plain, "--horizon", "--kind", "c")
    assert result.exit_code == 2 and "--horizon ranks cells" in result.output
    result = run("search", plain, "--horizon", "--hypothesis", "quote")
    assert result.exit_code == 2
    assert "exactly one of --hypothesis, --pattern, --span, --all or --horizon" in result.output
