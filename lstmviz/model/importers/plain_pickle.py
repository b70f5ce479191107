"""Reading a pickle of plain data (nanoGPT's ``meta.pkl``) without ever running code from it.

nanoGPT's character-level data preparation pickles ``{"vocab_size": 65, "itos": {...}, "stoi":
{...}}`` beside the training data, and the vocabulary of such a model lives only there. A pickle
runs code only through the classes and functions it names, and dicts, lists, tuples, sets,
strings, bytes, numbers, booleans and None are built by their own opcodes without naming any. So
:class:`PlainUnpickler` refuses every name: such a file loads, and anything else is refused
before a single object of it is built.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from lstmviz.errors import VocabError


class PlainUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that builds plain data only: every class or function a pickle names is refused."""

    def find_class(self, module: str, name: str) -> Any:
        """Refuse, naming what was asked for; nothing is imported or called."""
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")


def load_plain(path: str | Path) -> Any:
    """The plain data pickled in ``path``.

    Raises:
        VocabError: the pickle names a class or function (which could run code, and was not
            run), or is not a pickle. The message names the file and the reason, not the fix,
            which depends on where the file came from.

    >>> import pickle, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "meta.pkl"
    >>> _ = p.write_bytes(pickle.dumps({"vocab_size": 2, "itos": {0: "a", 1: "b"}}))
    >>> load_plain(p)["itos"]
    {0: 'a', 1: 'b'}
    """
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return PlainUnpickler(f).load()
        except pickle.UnpicklingError as e:
            refused, reason = str(e).startswith("it asks for "), str(e)
        except (EOFError, ValueError, TypeError, IndexError, KeyError, MemoryError, OverflowError) as e:
            refused, reason = False, type(e).__name__
    if refused:
        raise VocabError(
            f"{path}: refused to unpickle it: {reason}, which could run code, and only plain data "
            "(dicts, lists, strings, numbers) is read from a pickle; nothing in it was run"
        )
    raise VocabError(f"{path}: not a readable pickle ({reason})")
