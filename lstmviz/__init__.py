"""lstmviz: look inside character-level LSTMs.

The library (this package) knows nothing of Dash: it loads checkpoints, computes exact activations,
writes and reads extraction files, ranks interpretable cells and renders HTML snippets. The dashboard
in ``app/`` is built on top of it.

From Python (a script or a notebook; ``docs/api.md``)::

    import lstmviz
    model = lstmviz.load_model("model.pt")
    ex = lstmviz.extract(model, pathlib.Path("val.txt"))    # or lstmviz.open("cache/model__val.h5")
    ex["layer1.c.117"][1200:1600]                           # numpy, read from the file
    ex.search("quote", top=10)                              # pandas
    ex.show("layer1.c.117", 1200, 400, strips=True)         # shows itself in Jupyter

These names are imported on first use, so ``import lstmviz`` (and ``lstmviz --help``) loads
neither torch nor h5py.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lstmviz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"

# public name -> "module:attribute", imported by __getattr__ when first asked for
_API = {
    "load_model": "lstmviz.model.loading:load_model",
    "extract": "lstmviz.api.making:extract",
    "open": "lstmviz.api.extraction:open_extraction",
    "Extraction": "lstmviz.api.extraction:Extraction",
    "Figure": "lstmviz.api.figure:Figure",
}
__all__ = ["__version__", *(name for name in _API if name != "open")]  # `import *` keeps the builtin open


def __getattr__(name: str):
    """Import a public name of :data:`_API` when first used (PEP 562), then keep it."""
    if name not in _API:
        raise AttributeError(f"module 'lstmviz' has no attribute {name!r}")
    module, attribute = _API[name].split(":")
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
