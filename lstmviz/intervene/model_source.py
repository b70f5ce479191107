"""The model behind an extraction file: found where the file says it was, and proved to be that model.

Interventions and provenance recompute what the file stores, so they need the very model that wrote
it. The file records the checkpoint's name, its absolute path at extraction time and its sha256;
a checkpoint is accepted only when its sha256 matches, so a model retrained or edited since then
is refused rather than silently mixed with activations it did not produce.
"""

from __future__ import annotations

from pathlib import Path

from lstmviz.errors import CheckpointError
from lstmviz.model.loading import LoadedModel, load_model
from lstmviz.store.reader import States
from lstmviz.textio import sha256_file

_GIVE = "give that model with --model PATH"


class ModelMismatch(CheckpointError):
    """The checkpoint given or found is not the one the extraction was made with."""


def candidate_paths(states: States) -> list[Path]:
    """Where the extraction's model may be, most likely first.

    Its recorded absolute path, then its name beside the extraction file and in the current folder.
    """
    attrs = states.attrs
    name = attrs.get("model_path")
    found = [Path(p) for p in (attrs.get("model_source"),) if isinstance(p, str) and p]
    if isinstance(name, str) and name:
        found += [states.path.parent / name, Path(name)]
    return list(dict.fromkeys(found))


def model_for(states: States, model: str | Path | None = None, *, trust_pickle: bool = False) -> LoadedModel:
    """Load the model an extraction was made with, checked against the sha256 it recorded.

    Args:
        states: the open extraction.
        model: the checkpoint, when it has moved since extraction (``--model PATH``); else it is
            looked for where :func:`candidate_paths` says.
        trust_pickle: allow unpickling a whole pickled model, as ``lstmviz extract`` needed.

    Raises:
        ModelMismatch: the checkpoint's sha256, shape or vocabulary differs from the file's.
        CheckpointError: no checkpoint was given and none is where the file says.
    """
    if model is not None:
        path = Path(model)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint; give the model {_name(states)} "
                                  "with --model PATH")
    else:
        path = next((p for p in candidate_paths(states) if p.is_file()), None)
        if path is None:
            where = ", ".join(str(p) for p in candidate_paths(states)) or "no path was recorded"
            raise CheckpointError(f"{states.path.name} was extracted with {_name(states)}, which is not at "
                                  f"{where}; give it with --model PATH")
    _check_digest(states, path, sha256_file(path))
    loaded = load_model(path, vocab=states.vocab, trust_pickle=trust_pickle)
    check_model(states, loaded)
    return loaded


def check_model(states: States, loaded: LoadedModel, fix: str = _GIVE) -> None:
    """Refuse a model loaded elsewhere (``lstmviz sample``) unless the extraction was made with it.

    ``fix`` ends the message: what to do instead.

    Raises:
        ModelMismatch: its sha256 or shape differs from what the file recorded.
    """
    _check_digest(states, loaded.path, loaded.sha256, fix)
    if loaded.model.config != states.config:
        raise ModelMismatch(f"{loaded.path}: a {_shape(loaded.model.config)} model, but {states.path.name} "
                            f"holds a {_shape(states.config)} one; {fix}")


def _check_digest(states: States, path: Path, digest: str, fix: str = _GIVE) -> None:
    expected = states.attrs.get("model_sha256")
    if isinstance(expected, str) and expected and digest != expected:
        raise ModelMismatch(f"{path}: its sha256 {digest[:12]}… differs from {expected[:12]}…, the model "
                            f"{states.path.name} was extracted with; {fix}")


def _name(states: States) -> str:
    name = states.attrs.get("model_path")
    return repr(name) if isinstance(name, str) and name else "a model whose name it does not record"


def _shape(config) -> str:
    return f"{config.n_layer} x {config.n_hidden}"
