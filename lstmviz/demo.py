"""The bundled example: a Wikipedia char-LSTM, its held-out text, and the cell to open first.

The extraction is not shipped (it is hundreds of MB); it is built on first use under ``cache/`` and
reused while it still matches the bundled model and text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from lstmviz.errors import StoreError
from lstmviz.extraction.extract import extract_file
from lstmviz.extraction.options import Options
from lstmviz.search.hypotheses import hypothesis_values, symbol_string
from lstmviz.search.rank import rank_all
from lstmviz.store.reader import open_states
from lstmviz.textio import boundary_before, sha256_file

log = logging.getLogger(__name__)

DATA = files("lstmviz") / "data"
MODEL = Path(str(DATA / "wiki_lstm.pt"))
TEXT = Path(str(DATA / "wiki_val.txt"))
# Bits per character of the bundled model on the bundled text, as recorded in docs/demo-model.md.
RECORDED_BPC = 1.9083
# The cells Karpathy's post shows for Wikipedia markup: a URL or [[ ]] cell first, else a quote cell.
SHOWCASE = (("url", "wikilink"), ("quote",))


@dataclass(frozen=True)
class Showcase:
    """The cell the demo opens on, and where in the text it is worth looking."""

    hypothesis: str
    neuron: str
    score: float
    baseline: float
    position: int


def demo_extraction(cache_dir: str | Path = "cache", *, progress: bool = True) -> Path:
    """The bundled model's extraction over the bundled text, built once and then reused.

    A cached file is reused only if it opens cleanly and was made from the same model and text
    (checked by sha256), so a changed package rebuilds it.
    """
    out = Path(cache_dir) / f"{MODEL.stem}__{TEXT.stem}.h5"
    if out.exists() and _matches(out):
        return out
    log.info("building the demo extraction %s", out)
    return extract_file(MODEL, TEXT, out, Options(device="auto", progress=progress), unknown="replace:\ufffd",
                        force=True)


def _matches(path: Path) -> bool:
    try:
        with open_states(path) as states:
            attrs = states.attrs
    except StoreError:
        return False
    return (attrs.get("model_sha256") == sha256_file(MODEL)
            and attrs.get("text_sha256") == sha256_file(TEXT))


def showcase(path: str | Path, *, progress: bool = False) -> Showcase:
    """The strongest URL or ``[[ ]]`` link cell (else quote cell), by its score over chance.

    The position is a little before the first place the hypothesis holds, at the start of a line
    or word, so the opening screen shows the cell switching on in text that reads from its start.
    """
    with open_states(path) as states:
        table = rank_all(states, progress=progress)
        for wanted in SHOWCASE:
            rows = table[table["hypothesis"].isin(wanted)]
            if not rows.empty:
                break
        else:
            raise StoreError(f"{path}: the text has no URLs, [[ ]] links or quotes to show")
        best = rows.sort_values("margin", ascending=False).iloc[0]
        inside = np.flatnonzero(hypothesis_values(states, best["hypothesis"]) > 0)
        position = boundary_before(symbol_string(states), int(inside[0]) - 40, 40) if inside.size else 0
    return Showcase(best["hypothesis"], best["neuron"], float(best["score"]),
                    float(best["baseline"]), position)
