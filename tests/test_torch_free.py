"""Reading an extraction file needs no torch: the reader, validate, info, export and the dashboard's data.

Each check runs in a fresh Python, so what the test process itself imported does not count.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from extraction_files import TEXT, VOCAB, make_model

from lstmviz.extraction.extract import extract
from lstmviz.extraction.options import Options
from lstmviz.model.loading import LoadedModel

ROOT = Path(__file__).parent.parent
TORCH = "sorted(m for m in sys.modules if m.split('.')[0] == 'torch')"


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    loaded = LoadedModel(make_model(2, 8, 8), VOCAB, "lstmviz", "tiny.pt", "0" * 64)
    return extract(loaded, VOCAB.encode(TEXT[:2000]), tmp_path_factory.mktemp("torchless") / "tiny.h5",
                   Options(gates=True))


def fresh_python(code: str) -> str:
    """What ``code`` prints last, run in a new interpreter on this source tree."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_opening_and_reading_a_file_imports_no_torch(h5):
    code = f"""
import sys
from lstmviz.store.reader import open_states
from lstmviz.store.validate import validate
with open_states({str(h5)!r}) as s:
    assert s.window("layer1.c", 0, 500, [1, 3]).shape == (500, 2)
    assert s.predictions(0, 500).top_ids.shape == (500, 5)
    assert s.summary("layer0.gates.f")["mean"].shape == (8,)
    assert s.rank_histogram("layer1.h")["rank_hist"].shape == (8, 2048)
    assert len(s.text(0, 100)) == 100 and s.decoder_column(2).shape == ({len(VOCAB)},)
assert validate({str(h5)!r}) == []
print({TORCH})
"""
    assert fresh_python(code) == "[]"


def test_the_dashboards_data_layer_imports_no_torch(h5):
    code = f"""
import sys
from app import data, profiles, state
from lstmviz.render.spec import ExportSpec
from lstmviz.store.reader import open_states
with open_states({str(h5)!r}) as s:
    view, notes = state.fit(state.View("tiny", "layer1.h.2", pos=100), s)
    assert notes == [] and view.neuron == "layer1.h.2"
    assert len(data.window_payload(s, 100, 200, fixed=True)["chars"]) == 200
    assert len(data.values_payload(s, "layer1.h.2", 100, 200, palette="blog", raw_c=False)["values"]) == 200
    assert profiles.profile(s, "layer1.c.2").counts
    assert data.find(s, {TEXT[1000:1008]!r}, 0)[0] is not None
    spec = ExportSpec(("layer0.c.1",), 0, 80, strips=True, raw_c=True)
    name, text = data.export(s, spec, source_name="tiny.h5")
    assert text.startswith("<!DOCTYPE html>")
print({TORCH})
"""
    assert fresh_python(code) == "[]"


@pytest.mark.parametrize("args", [
    ["info", "{h5}"],
    ["validate", "{h5}"],
    ["export", "{h5}", "-n", "layer1.c.2", "--start", "10", "--length", "100", "--strips", "-o", "{out}"],
])
def test_info_validate_and_export_import_no_torch(h5, tmp_path, args):
    args = [a.format(h5=h5, out=tmp_path / "snippet.html") for a in args]
    code = f"""
import sys
from click.testing import CliRunner
from lstmviz.cli import cli
result = CliRunner().invoke(cli, {args!r})
assert result.exit_code == 0, result.output
print({TORCH})
"""
    assert fresh_python(code) == "[]"
