"""lstmviz: look inside character-level LSTMs.

The library (this package) knows nothing of Dash: it loads checkpoints, computes exact activations,
writes and reads extraction files, ranks interpretable cells and renders HTML snippets. The dashboard
in ``app/`` is built on top of it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lstmviz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
