"""Rankings that run in the background, one per page: the page polls them and stays usable.

Ranking units reads every activation of a file: under a second for one's own pattern on the
demo, but seconds to minutes for the built-ins or a common pattern on a large file. A Dash
callback that waited that long would hold the panel's spinner and leave a second request from
the same page waiting behind it. So the search callback starts the ranking in a thread here and
returns at once, and a ``dcc.Interval`` asks for its progress until it is done.

A page has at most one ranking: starting another (a new pattern, another hypothesis) cancels the
one still running, through its progress callback, which raises :class:`Cancelled` at the next
block; the library leaves nothing half written (results are cached only when complete). Dash's
background callbacks would do this with a Celery or diskcache manager and a process per job; one
thread per page needs neither, and the scoring itself runs in torch, which releases the
interpreter lock.

The registry belongs to one app (made in :func:`app.callbacks.search.register`), not to a module:
pages are told apart by an id each page makes for itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_PAGES = 64  # finished rankings kept for pages that have not polled them yet


class Cancelled(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised inside a ranking's progress callback once a newer ranking of its page started."""


@dataclass
class Job:
    """One ranking in a thread.

    Attributes:
        key: what it ranks, as the page keeps it (``[file, hypothesis or pattern, language]``).
        done, total: positions scored so far, of all (0 and 0 until the first block).
        result: the panel's content once finished.
        error: an exception the ranking raised (a bug: it is raised again when polled).
        started: ``time.monotonic()`` at the start.
    """

    key: list
    done: int = 0
    total: int = 0
    result: Any = None
    error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int) -> None:
        """The ranking's progress callback: records how far it got, or stops it if cancelled."""
        if self.cancelled.is_set():
            raise Cancelled
        self.done, self.total = done, total

    @property
    def share(self) -> float:
        """The share done, 0 to 1."""
        return self.done / self.total if self.total else 0.0


class Rankings:
    """The rankings of every page of one app, one per page.

    >>> jobs = Rankings()
    >>> job = jobs.start("page-1", ["f", "quote", "auto"], lambda progress: "ranked")
    >>> job.finished.wait(5) and jobs.get("page-1").result
    'ranked'
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def start(self, page: str, key: list, work: Callable[[Callable[[int, int], None]], Any]) -> Job:
        """Run ``work(progress)`` in a thread for ``page``, cancelling the page's ranking before it."""
        job = Job(key)
        with self._lock:
            self._cancel(page)
            self._jobs[page] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), daemon=True, name=f"ranking {key}").start()
        return job

    def get(self, page: str) -> Job | None:
        """The page's current ranking, if any."""
        with self._lock:
            return self._jobs.get(page)

    def cancel(self, page: str) -> None:
        """Stop the page's ranking (it ends at its next block) and forget it."""
        with self._lock:
            self._cancel(page)

    def _cancel(self, page: str) -> None:
        job = self._jobs.pop(page, None)
        if job is not None:
            job.cancelled.set()

    def _run(self, job: Job, work: Callable) -> None:
        try:
            job.result = work(job.progress)
        except Cancelled:
            log.info("ranking %s cancelled after %.1f s", job.key, time.monotonic() - job.started)
        except Exception as e:  # a bug: kept, and raised again in the callback that polls it
            log.exception("ranking %s failed", job.key)
            job.error = e
        finally:
            job.finished.set()

    def _forget_old(self) -> None:
        """Past :data:`MAX_PAGES` pages, forget the oldest finished rankings (pages long gone)."""
        finished = sorted((job.started, page) for page, job in self._jobs.items() if job.finished.is_set())
        for _, page in finished[: max(0, len(self._jobs) - MAX_PAGES)]:
            del self._jobs[page]
