"""Every extraction format version this lstmviz reads still opens: one committed file per version."""

from pathlib import Path

import numpy as np
import pytest

from app import profiles
from lstmviz.search.memory import rank_by_horizon
from lstmviz.search.rank import rank_units
from lstmviz.store.reader import open_states
from lstmviz.store.validate import validate

COMPAT = sorted((Path(__file__).parent / "data" / "compat").glob("v*.h5"))


def test_there_is_a_file_for_every_minor_version():
    assert [p.stem for p in COMPAT] == ["v1_0", "v1_1", "v1_2", "v1_3"]


@pytest.mark.parametrize("path", COMPAT, ids=lambda p: p.stem)
def test_old_and_current_files_open_and_read(path):
    assert validate(path) == []
    with open_states(path) as s:
        assert s.text(0, 28) == '"Quoted," she said (twice).\n'
        window = s.window("layer1.c", 0, s.n_tokens, [0, 3])
        assert window.shape == (s.n_tokens, 2) and np.isfinite(window).all()
        assert s.predictions(0, 5).top_ids.shape == (5, 5)
        profile = profiles.profile(s, "layer1.h.2")
        assert profile.counts and profile.top
        has_decoder = s.attrs["encoding-version"] != "1.0"
        assert bool(profile.pushes_up) == has_decoder
        has_ranks = s.attrs["encoding-version"] not in ("1.0", "1.1")
        assert (s.rank_histogram("layer1.c") is not None) == has_ranks  # older files: a histogram pass
        assert rank_units(s, "quote", top=None, cache=False).score.between(0.5, 1).all()
        has_horizons = s.attrs["encoding-version"] not in ("1.0", "1.1", "1.2")
        assert (s.horizon("layer1.c") is not None) == has_horizons  # older files: `lstmviz profile --horizon`
        if has_horizons:
            assert (rank_by_horizon(s, top=None)["median"] >= 1).all()
