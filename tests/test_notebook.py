"""docs/notebook.ipynb is committed with its outputs, and runs in a real Jupyter kernel to the same cells."""

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"
COLOURED = re.compile(r'<span class="(?:lv-ws )?k\d+(?: lv-mark)?">')  # a character cell, by its colour class
BEST_LINK_CELL = "layer2.c.182"  # the [[ ]] cell of the bundled model (docs/demo-model.md)


def outputs(nb, fragment: str) -> list[dict]:
    """The outputs of the code cell whose source holds ``fragment``."""
    [cell] = [c for c in nb.cells if c.cell_type == "code" and fragment in c.source]
    return cell.outputs


def shown(output: dict, kind: str) -> str:
    return output.get("data", {}).get(kind, "")


def check(nb) -> None:
    """What the walk-through must show: its text, the best link cell, coloured figures, the URL."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        assert all(o.output_type != "error" for o in cell.outputs), cell.source
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source
    assert shown(outputs(nb, "ex.text[330:385]")[0], "text/plain").startswith("'[[European Team Chess")
    links = outputs(nb, 'ex.search("wikilink", top=5)')[0]
    assert shown(links, "text/plain").splitlines()[1].split()[:2] == ["0", BEST_LINK_CELL]
    assert "<table" in shown(links, "text/html")
    figures = [o for c in code if "ex.show(" in c.source for o in c.outputs]
    assert len(figures) == 3
    for figure in figures:
        html = shown(figure, "text/html")
        assert html.startswith('<div class="lv-snippet') and len(COLOURED.findall(html)) >= 60
        assert "<script" not in html and "http" not in html
    stacked = shown(figures[2], "text/html")
    bands = re.findall(r'data-neuron="([^"]+)"', stacked)[:3]
    assert bands == [BEST_LINK_CELL, "layer2.c.89", "layer0.c.188"]  # [[ ]], quote and URL cells
    assert 'class="lv-strip"' in shown(figures[1], "text/html")
    url = shown(outputs(nb, "ex.serve(")[0], "text/plain")
    assert re.fullmatch(rf"'http://127\.0\.0\.1:\d+/\?file=wiki_lstm__text&neuron={BEST_LINK_CELL}&pos=250&"
                        r"mode=grid'", url)


def test_the_committed_notebook_holds_its_outputs():
    check(nbformat.read(NOTEBOOK, as_version=4))


@pytest.mark.slow
def test_the_notebook_runs_in_a_jupyter_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    check(nb)
    assert list(tmp_path.iterdir()) == []  # nothing is written where it runs: the extraction was temporary
