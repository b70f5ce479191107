"""Progress bars redraw in place on a terminal and rarely into a log file."""

import io
import sys
import time

import pytest

from lstmviz.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _redraws(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stderr", stream)
    with progress_bar(total=30, desc="work") as bar:
        for _ in range(30):
            time.sleep(0.02)
            bar.update(1)
    return stream.getvalue().count("work")


def test_a_terminal_sees_the_bar_move(monkeypatch):
    assert _redraws(_Terminal(), monkeypatch) >= 4


def test_a_log_file_gets_the_start_and_the_end_only(monkeypatch):
    assert _redraws(io.StringIO(), monkeypatch) <= 3


def test_a_disabled_bar_writes_nothing(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with progress_bar(total=3, enabled=False) as bar:
        bar.update(3)
    assert stream.getvalue() == ""
