"""Shared pieces of the browser tests: Debian's Chromium driven by Playwright, and a live app.

Playwright cannot download browsers here, so the tests point it at Debian's ``chromium`` with the
flags a closed network needs, in a fresh profile; without Chromium or Playwright they are skipped.
"""

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium():
    """Playwright's sync API and the Chromium binary; skips the calling module when either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                    allow_module_level=True)
    return sync_api, chromium


@contextmanager
def chromium_context(profile: Path, **options) -> Iterator:
    """A headless Chromium with a fresh profile; ``options`` go to launch_persistent_context."""
    sync_api, chromium = require_chromium()
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            user_data_dir=str(profile), executable_path=chromium, headless=True, args=ARGS, **options)
        try:
            yield context
        finally:
            context.close()


def console_errors(page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@contextmanager
def serving(dash_app) -> Iterator[str]:
    """Serve a Dash app on a free 127.0.0.1 port in a background thread; yields its URL."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        thread.join()


def shown(page, neuron: str, start: int | None = None) -> None:
    """Wait until the character view shows this neuron (and window), every line of it drawn.

    A new window's lines out of sight are drawn after its first frame (``data-more`` until then).
    """
    where = "" if start is None else f'[data-start="{start}"]'
    page.wait_for_selector(f'.lv-view[data-neuron="{neuron}"]{where}:not([data-more])', timeout=10_000)
