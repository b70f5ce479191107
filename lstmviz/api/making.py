"""``lstmviz.extract``: run a model over a text from Python and open the result.

The command line's extraction (:func:`lstmviz.extraction.extract.extract_file`) with a notebook's
defaults: the model may be loaded already, the text may be a string, and without ``out`` the file
is temporary, removed when the :class:`~lstmviz.api.extraction.Extraction` is closed or collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lstmviz.api.extraction import Extraction
from lstmviz.errors import OptionError
from lstmviz.extraction.extract import default_output, extract_file, extract_string
from lstmviz.extraction.options import DEFAULT_BURN_IN, Options
from lstmviz.model.loading import LoadedModel
from lstmviz.store.reader import open_states


def extract(
    model: LoadedModel | str | os.PathLike,
    text: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    gates: bool = False,
    dtype: str = "float16",
    device: str = "auto",
    streams: int = 1,
    burn_in: int = DEFAULT_BURN_IN,
    unknown: str = "auto",
    force: bool = False,
    vocab: str | os.PathLike | None = None,
    trust_pickle: bool = False,
    progress: bool = False,
) -> Extraction:
    """Run a char-LSTM over a text, store every activation and prediction, and open the file.

    The options are ``lstmviz extract``'s (``docs/extraction.md``), with the same defaults.

    Args:
        model: a model from :func:`lstmviz.load_model`, or a checkpoint's path.
        text: the text itself (a str), or a text file (a ``pathlib.Path``).
        out: the file to write; None writes a temporary file, removed when the result is closed.
        gates: also store the gates i, f, g, o.
        dtype: storage of h and the gates, ``float16`` or ``float32`` (c is always float32).
        device: ``auto`` (a GPU if torch sees one), ``cpu``, ``cuda`` or ``cuda:N``.
        streams: read the text as this many pieces side by side (faster on a GPU, not exact at
            the seams).
        burn_in: with ``streams``, characters each piece reads before its start.
        unknown: what to do with characters the vocabulary lacks: ``auto``, ``error``, ``skip`` or
            ``replace:<char>``.
        force: replace ``out`` if it exists.
        vocab: a vocabulary file, for a checkpoint path that lacks one.
        trust_pickle: allow whole pickled models (unpickling runs code from the file).
        progress: a progress bar on stderr.

    Returns:
        The extraction, open.

    Raises:
        OptionError: a str that names an existing file (pass a ``Path`` to read the file), a bad
            option, or an output that cannot be written.
        CheckpointError, VocabError, TextError: as ``lstmviz extract`` raises them.

    >>> # ex = extract(load_model("austen.pt"), Path("persuasion.txt"), gates=True); ex["layer1.c.3"][:100]
    """
    if isinstance(text, str) and "\n" not in text and len(text) < 4096 and os.path.isfile(text):
        raise OptionError(f"{text!r} names a file, but a str is read as the text itself; pass "
                          f"pathlib.Path({text!r}) to extract over the file")
    options = Options(gates=gates, dtype=dtype, device=device, streams=streams, burn_in=burn_in,
                      progress=progress)
    kept = {"unknown": unknown, "force": force, "vocab": vocab, "trust_pickle": trust_pickle}
    temporary = None
    if out is None:
        temporary = Path(tempfile.mkdtemp(prefix="lstmviz-"))
        model_path = model.path if isinstance(model, LoadedModel) else model
        out = temporary / default_output(model_path, "text" if isinstance(text, str) else text).name
    try:
        if isinstance(text, str):
            path = extract_string(model, text, out, options, **kept)
        else:
            path = extract_file(model, text, out, options, **kept)
        ex = Extraction(open_states(path), temporary=temporary)
        if isinstance(model, LoadedModel):
            ex.model(model)  # kept for interventions, which then need not look for its checkpoint
        return ex
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
