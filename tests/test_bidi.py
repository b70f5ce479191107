"""Characters that reorder text (U+202E and friends) show as a visible mark, in order, everywhere."""

import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from dashboard_files import build

from app import data
from lstmviz.cli import cli
from lstmviz.render.style import BIDI_CONTROLS, BIDI_MARK
from lstmviz.store.reader import open_states

# An invoice line whose right-to-left override would show "exe.txt" as "txt.exe" in a browser
TEXT = ("name: invoice\u202etxt.exe end \u2066isolated\u2069 \u200fmark\u200e \u061c!\n" * 40)


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bidi") / "bidi.h5", TEXT, n_layer=1, n_hidden=8)


def shown(text: str) -> str:
    return "".join(BIDI_MARK if ch in BIDI_CONTROLS else ch for ch in text)


@pytest.mark.parametrize("fmt", ["html", "svg"])
def test_exports_hold_no_reordering_character_and_keep_the_order(path, tmp_path, fmt):
    out = tmp_path / f"snippet.{fmt}"
    result = CliRunner().invoke(cli, ["export", str(path), "-n", "layer0.h.1", "--start", "0",
                                      "--length", "60", "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    body = out.read_text()
    assert not BIDI_CONTROLS & set(body)
    if fmt == "svg":
        glyphs = "".join(t.text or "" for t in ET.fromstring(body).iter("{http://www.w3.org/2000/svg}text"))
    else:
        glyphs = re.sub(r"<[^>]+>", "", body.split("<body>")[1])
    assert "invoice" + BIDI_MARK + "txt.exe" in glyphs


def test_the_dashboard_shows_the_mark_in_place(path):
    states = open_states(path)
    payload = data.window_payload(states, 0, 60, fixed=False)
    assert "".join(payload["labels"]) .startswith(shown(TEXT[:60]).replace("\n", "↵"))
    assert not BIDI_CONTROLS & set("".join(payload["labels"]))
    assert all(payload["faint"][i] == "1" for i, ch in enumerate(TEXT[:60]) if ch in BIDI_CONTROLS)
