"""The model behind each served file, for the panels that rerun it ("What if", "where from").

Interventions and provenance recompute what a file stores, so they need the very model that wrote
it, found and checked as ``lstmviz intervene`` finds it (:func:`lstmviz.intervene.model_source.model_for`):
where the file recorded it, or among the checkpoints given to ``lstmviz serve --model``, and
accepted only when its sha256 is the one the file recorded. Each checkpoint is read once per
process; a file whose model cannot be found gets one line saying how to give it, shown in the
panel instead of its content.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from lstmviz.errors import CheckpointError
from lstmviz.store.reader import States
from lstmviz.textio import sha256_file

if TYPE_CHECKING:  # loading a model needs torch: imported when a panel first asks for one
    from lstmviz.model.loading import LoadedModel

_lock = threading.Lock()  # one load at a time: two panels asking at once share the first load


class Models:
    """Where the models of a dashboard's files are looked for; loads each at most once.

    Args:
        given: checkpoints named by ``lstmviz serve --model`` (any order; each file takes the
            one whose sha256 it recorded).
        trust_pickle: allow whole pickled models, as their extraction needed.
    """

    def __init__(self, given: Sequence[str | Path] = (), *, trust_pickle: bool = False):
        self.given = tuple(Path(p) for p in given)
        self.trust_pickle = trust_pickle

    def model(self, states: States) -> LoadedModel:
        """The model ``states`` was extracted with.

        Raises:
            CheckpointError: no checkpoint where the file says or among those given, or one whose
                sha256 or shape differs; the message says how to serve with ``--model``.
        """
        expected = states.attrs.get("model_sha256")
        given = [p for p in self.given if p.is_file() and _digest(str(p), p.stat().st_mtime_ns) == expected]
        if not given and len(self.given) == 1:
            given = list(self.given)  # the only one given: refused below in model_for's words
        try:
            with _lock:
                return _load(str(states.path), given[0] if given else None, self.trust_pickle)
        except CheckpointError as e:
            raise CheckpointError(f"{e} (restart the dashboard as `lstmviz serve {states.path.name} "
                                  "--model PATH`)") from None


@lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int) -> str:
    return sha256_file(path)


@lru_cache(maxsize=4)
def _load(states_path: str, model: Path | None, trust_pickle: bool) -> LoadedModel:
    from app.catalog import cached_states
    from lstmviz.intervene.model_source import model_for

    return model_for(cached_states(states_path), model, trust_pickle=trust_pickle)
