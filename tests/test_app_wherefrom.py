"""The dashboard's "where from" colouring: what the page receives is lstmviz's provenance, exactly.

Real extractions of a real checkpoint with planted memory cells (tests/memory_models.py): one with
float32 gates (no model needed), one without gates (the model is replayed). Each origin goes
through the controller as a click does (:func:`app.control.reply`).
"""

import shutil
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from memory_models import COUNTER, PARITY, VOCAB, extract_memory, memory_model
from memory_models import TEXT as MEMORY_TEXT

from app.callbacks.exporting import export_text
from app.catalog import Catalog, cached_states
from app.control import jump_event, reply
from app.models import Models
from app.state import LOOK_BACK, View, from_query, to_query
from lstmviz.cli import cli
from lstmviz.intervene.provenance import DEFAULT_BACK, provenance
from lstmviz.kinds import KINDS
from lstmviz.model.checkpoint import save_checkpoint

TEXT = MEMORY_TEXT[:6000]
QUOTES = [k for k, ch in enumerate(TEXT) if ch == '"']
# a quotation and the position 2 after its closing quote, with no quote opened in between
OPEN, CLOSE = next((a, b) for a, b in zip(QUOTES[::2], QUOTES[1::2], strict=False)
                   if '"' not in TEXT[b + 1 : b + 3])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wherefrom")
    exact = extract_memory(folder, text=TEXT, gates=True, dtype="float32")
    plain = extract_memory(folder, text=TEXT)
    return folder, exact, plain


def catalog_of(path, models=None):
    return Catalog.scan([path], models)


def click(catalog, view: View, origin) -> dict:
    """The controller's reply to a click on a character in "where from" mode."""
    return reply(catalog, jump_event({"to": "origin", "pos": origin, "n": 1}), view.to_dict())


def lines(out) -> list[str]:
    return [p.children for p in out["message"]]


def view_of(catalog, neuron: str, pos: int = 0, length: int = 2000) -> View:
    return View(catalog.default().key, neuron, pos=pos, length=length)


@pytest.mark.parametrize("unit", [COUNTER, 3])
def test_the_shading_is_the_provenance_and_adds_up_to_the_stored_c(files, unit):
    _, exact, _ = files
    catalog = catalog_of(exact)
    neuron, origin = f"layer0.c.{unit}", 1500
    out = click(catalog, view_of(catalog, neuron), origin)
    vals = out["values"]
    assert lines(out) == [] and out["state"]["origin"] == origin and "from=1500" in out["search"]
    states = cached_states(exact)
    prov = provenance(states, neuron, origin, LOOK_BACK)
    shaded = np.array([np.nan if v is None else v for v in vals["values"]])
    assert np.isnan(shaded[origin + 1 :]).all()  # nothing after the origin
    np.testing.assert_allclose(shaded[: origin + 1], prov.contributions, rtol=1e-8, atol=1e-12)
    stored = float(states.window("layer0.c", origin, origin + 1, unit)[0])
    assert abs(np.nansum(shaded) + vals["remainder"] - stored) <= 1e-5 * max(abs(stored), 1e-6)
    assert vals["idx"][origin + 1 :] == [-1] * (len(shaded) - origin - 1)  # blank cells
    assert vals["lo"] == -vals["hi"] and vals["origin"] == origin
    assert vals["look_back"] == {"50": prov.look_back(0.5), "90": prov.look_back(0.9)}
    assert f"50 % in the last {prov.look_back(0.5):,}" in vals["note"]
    assert "the look-back of 2,000 is cut at the text's start: 1,501 characters" in vals["note"]


def test_the_counter_is_written_by_every_character_since_the_newline(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    origin = TEXT.index("\n", 3000) - 1
    start = TEXT.rindex("\n", 0, origin) + 1
    vals = click(catalog, view_of(catalog, f"layer0.c.{COUNTER}", pos=2000), origin)["values"]
    shaded = np.array([0.0 if v is None else v for v in vals["values"]])
    np.testing.assert_allclose(shaded[start - 2000 : origin - 2000 + 1], 1.0, rtol=1e-6)
    assert np.abs(shaded[: start - 2000]).max() < 1e-6


def test_after_a_closing_quote_the_quote_cell_is_written_by_the_quotes(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    vals = click(catalog, view_of(catalog, f"layer0.h.{PARITY}"), CLOSE + 2)["values"]
    shaded = np.array([0.0 if v is None else v for v in vals["values"]])
    assert shaded[OPEN] == pytest.approx(1.0, abs=1e-5) and shaded[CLOSE] == pytest.approx(-1.0, abs=1e-5)
    others = np.delete(shaded[: CLOSE + 3], [OPEN, CLOSE])
    assert np.abs(others).max() < 1e-5
    assert vals["idx"][OPEN] == 255 and vals["idx"][CLOSE] == 0  # both ends of the diverging scale
    assert f"layer0.h.{PARITY} is h = o·tanh(c): shown is the provenance of its c, layer0.c.{PARITY}" \
        in vals["note"]
    assert vals["neuron"] == f"layer0.h.{PARITY}"


def test_a_replayed_file_shades_as_its_float32_gates_do(files):
    folder, exact, plain = files
    origin = 4321
    got = []
    for path in (exact, plain):
        catalog = catalog_of(path)
        out = click(catalog, view_of(catalog, "layer0.c.4", pos=3000), origin)
        assert lines(out) == []
        got.append(out["values"])
    assert "recomputed in float32 by memory.pt" in got[1]["note"] and "stored float32" in got[0]["note"]
    a, b = (np.array([0.0 if v is None else v for v in g["values"]]) for g in got)
    np.testing.assert_allclose(a, b, atol=1e-6)
    stepped = reply(catalog, ("unit_step", 1), View.from_dict(out["state"]).to_dict())
    assert stepped["values"]["neuron"] == "layer0.c.5" and stepped["values"]["origin"] == origin


def test_paging_back_keeps_the_origin_while_its_look_back_shows(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    out = click(catalog, view_of(catalog, "layer0.c.3", pos=4000, length=500), 4100)
    view = View.from_dict(out["state"])
    back = reply(catalog, ("page", -1), view.to_dict())
    assert back["state"]["origin"] == 4100 and back["values"]["idx"][-1] != -1  # 3500..3999: look-back
    far = reply(catalog, ("goto", 1000), view.to_dict())
    assert far["state"]["origin"] == -1 and "origin" not in far["values"]  # none of it in view: ended
    ended = click(catalog, view, -1)
    assert ended["state"]["origin"] == -1 and "origin" not in ended["values"] and lines(ended) == []


def test_the_url_holds_the_origin(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    view = View(catalog.default().key, "layer0.c.1", pos=200, origin=250)
    assert to_query(view).endswith("&from=250")
    assert from_query(to_query(view), "x")[0] == view
    out = reply(catalog, ("url", to_query(view)), None)
    assert out["values"]["origin"] == 250
    far = reply(catalog, ("url", "?neuron=layer0.c.1&from=999999"), None)
    assert lines(far) == ["position 999,999 is not in the text (0 to 5,999); click a character to see where "
                          "its value comes from"]
    assert far["state"]["origin"] == -1


def test_a_gate_is_refused_in_one_line_and_keeps_its_colours(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    out = click(catalog, view_of(catalog, "layer0.gates.f.2"), 100)
    assert lines(out) == ["Where layer0.gates.f.2 at 100 comes from cannot be shown: layer0.gates.f.2 is a "
                          "gate; provenance takes apart a cell state: give layer0.c.2 (or its h, layer0.h.2)"]
    assert "origin" not in out["values"] and out["values"]["kind"] == "gates.f"  # the usual colours


def test_a_position_that_is_not_one_is_refused_in_one_line(files):
    _, exact, _ = files
    catalog = catalog_of(exact)
    out = click(catalog, view_of(catalog, "layer0.c.1"), "x")
    assert lines(out) == ["there is no position x: positions run from 0 to 5,999"]
    assert click(catalog, view_of(catalog, "layer0.c.1"), 6000)["state"]["origin"] == -1


def test_a_file_without_gates_or_its_model_says_how_to_serve_it(files, tmp_path):
    folder, _, plain = files
    copy = shutil.copy(plain, tmp_path / "moved.h5")
    (tmp_path / "away").mkdir()
    shutil.move(folder / "memory.pt", tmp_path / "away" / "memory.pt")
    try:
        catalog = catalog_of(copy)
        out = click(catalog, view_of(catalog, "layer0.c.1"), 100)
        (line,) = lines(out)
        assert line.startswith("Where layer0.c.1 at 100 comes from cannot be shown: ")
        assert line.endswith("(restart the dashboard as `lstmviz serve moved.h5 --model PATH`)")
        assert "origin" not in out["values"] and out["values"]["kind"] == "c"
        other = tmp_path / "other.pt"
        save_checkpoint(other, memory_model(seed=1), VOCAB)
        out = click(catalog_of(copy, Models([other])), view_of(catalog, "layer0.c.1"), 100)
        (line,) = lines(out)
        assert "other.pt: its sha256" in line and "differs" in line and "origin" not in out["values"]
    finally:
        shutil.move(tmp_path / "away" / "memory.pt", folder / "memory.pt")


def test_the_look_back_is_provenances_default():
    assert LOOK_BACK == DEFAULT_BACK


def test_the_profile_shows_the_cells_memory_horizon_among_its_layers(files):
    from app import figures
    from app.callbacks.panels import profile_view
    from app.profiles import profile

    _, exact, plain = files
    states = cached_states(exact)
    stored = states.horizon("layer0.c")
    for neuron in (f"layer0.c.{PARITY}", f"layer0.h.{PARITY}"):
        h = profile(states, neuron).horizon
        assert (h.cell, h.median, h.p90) == (f"layer0.c.{PARITY}", stored["horizon_median"][PARITY],
                                             stored["horizon_p90"][PARITY])
        assert sum(h.counts) == states.n_hidden and h.edges[h.bin] <= h.median < h.edges[h.bin + 1]
    panel = str(profile_view(states, f"layer0.c.{PARITY}"))
    assert f"Memory horizon of layer0.c.{PARITY}: median {h.median:,} characters" in panel
    assert "lv-hbar-this" in panel
    assert profile(states, "layer0.gates.f.1").horizon is None
    assert "Memory horizon" not in str(figures.profile_panel(profile(states, "layer0.gates.f.1")))
    missing = str(profile_view(cached_states(plain), "layer0.c.1"))
    assert ("memory_plain_float16.h5 holds no memory horizons: `lstmviz profile memory_plain_float16.h5 "
            "--horizon` adds them") in missing


def test_the_saturation_points_are_coloured_by_their_cells_median_horizon(files):
    import math

    from app import data, figures
    from app.callbacks.panels import saturation_view

    _, exact, _ = files
    states = cached_states(exact)
    df = data.saturation(states)
    medians = states.horizon("layer0.c")["horizon_median"]
    for kind in ("gates.i", "gates.f", "gates.o"):
        assert df[df["kind"] == kind]["horizon"].tolist() == medians.tolist()
    fig = figures.saturation(df, states.n_layer, by_horizon=True)
    assert saturation_view(states, "memory").__repr__().count("median horizon") == 1  # the panel's
    forget = next(t for t in fig.data if t.name == "forget gate")
    assert forget.marker.symbol == "diamond"
    assert list(forget.marker.color) == [math.log10(max(m, 1)) for m in medians]
    assert fig.data[0].marker.showscale and not any(t.marker.showscale for t in fig.data[1:])
    assert fig.data[0].marker.colorbar.ticktext[-1] == "> 4,096"
    assert list(forget.customdata) == [f"layer0.gates.f.{u}" for u in range(states.n_hidden)]  # clicks open
    plain = figures.saturation(df, states.n_layer)  # by gate, as without horizons
    assert plain.data[1].marker.color == KINDS["gates.f"].colour and plain.data[1].marker.symbol is None


def test_later_clicks_replay_from_the_block_before_their_look_back(tmp_path):
    from app import wherefrom
    from lstmviz.intervene.replay import extraction_rows

    plain = extract_memory(tmp_path, text=MEMORY_TEXT)  # 38,971 characters: several blocks
    catalog = catalog_of(plain)
    states = cached_states(plain)
    rows = extraction_rows(states)
    assert states.n_tokens > 4 * rows
    for origin in (3 * rows + 100, 2 * rows + 2500, states.n_tokens - 1001):  # back, then further on
        vals = click(catalog, view_of(catalog, "layer0.c.5", pos=origin - 1000), origin)["values"]
        fresh = provenance(states, "layer0.c.5", origin, LOOK_BACK)  # replayed from the text's start
        assert vals["values"][:1001] == [float(f"{v:.9g}") for v in fresh.contributions[-1001:]]
        assert vals["remainder"] == fresh.remainder
    handed = wherefrom._handed(catalog.models, states)
    assert sorted(handed)[:3] == [rows, 2 * rows, 3 * rows]


@pytest.mark.parametrize("fmt", ["html", "svg"])
def test_an_export_of_a_where_from_view_is_what_lstmviz_provenance_writes(files, tmp_path, fmt):
    _, exact, _ = files
    catalog = catalog_of(exact)
    view = replace(view_of(catalog, f"layer0.c.{COUNTER}", pos=1000, length=1000), origin=1500)
    name, text = export_text(catalog, view.to_dict(), None, fmt)
    assert name == f"layer0.c.{COUNTER}_from_1500.{fmt}"
    out = tmp_path / name
    cli_args = ["provenance", str(exact), "--neuron", f"layer0.c.{COUNTER}", "--at", "1500", "--back",
                str(LOOK_BACK), "-o", str(out)]
    assert CliRunner().invoke(cli, cli_args).exit_code == 0
    assert text == out.read_text(encoding="utf-8")  # the look-back shaded, with the command that writes it
    command = f"lstmviz provenance {exact.name} --neuron layer0.c.{COUNTER} --at 1500 --back 2000 -o {name}"
    assert command in text
