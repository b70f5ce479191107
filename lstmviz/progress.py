"""Progress bars on stderr that stay readable when stderr is a log file or a pipe.

A terminal redraws a bar in place ten times a second; a log file keeps every redraw, so a ten-minute
training would leave thousands of copies of the bar in it. Off a terminal the bar is redrawn twice a
minute instead, which keeps the ETA visible in CI logs at a few lines per minute.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

REDRAW_S_TERMINAL = 0.1
REDRAW_S_LOG = 30.0


def progress_bar(*, enabled: bool = True, **options: Any) -> tqdm:
    """A tqdm bar on stderr (``options`` go to tqdm), redrawn at a pace that suits where it goes."""
    on_terminal = sys.stderr.isatty()
    return tqdm(file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                mininterval=REDRAW_S_TERMINAL if on_terminal else REDRAW_S_LOG, **options)
