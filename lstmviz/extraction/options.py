"""How to extract: the settings of one extraction pass, every one recorded in its output file.

Kept apart from the pass itself (:mod:`lstmviz.extraction.extract`, which needs torch) so that the
command line can show their defaults without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BURN_IN = 2048  # characters each stream reads before its start (see docs/extraction.md)


@dataclass(frozen=True)
class Options:
    """How to extract; every field is recorded in the output file.

    >>> Options(gates=True).burn_in
    2048
    """

    gates: bool = False
    dtype: str = "float16"
    device: str = "cpu"
    streams: int = 1
    burn_in: int = DEFAULT_BURN_IN
    progress: bool = False
