"""Take the README screenshots of the bundled demo: docs/img/dashboard.png and docs/img/search.png.

Builds (or reuses) the demo's extraction, serves it on a free local port and drives headless
Chromium (Debian's ``chromium`` package, through Playwright): the page as ``lstmviz demo`` opens
it (the cell it picks, its caption, the text beside the cell's profile, a details box), then the
"Find units" panel ranking every unit for one hypothesis::

    python docs/img/make_dashboard_png.py
    python docs/img/make_dashboard_png.py --cache /tmp/democache --pos 11752 --hypothesis url
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, sync_playwright
from werkzeug.serving import make_server

from app import ids
from app.app import create_app
from app.catalog import Catalog
from app.state import View, to_query
from lstmviz.demo import demo_extraction, showcase

HERE = Path(__file__).parent


@contextlib.contextmanager
def chromium(width: int, height: int) -> Iterator[BrowserContext]:
    """Headless Chromium (Debian's ``chromium``) with a fresh profile and a viewport of this size."""
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            viewport={"width": width, "height": height}, device_scale_factor=1)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def serving(catalog: Catalog) -> Iterator[str]:
    """The dashboard on ``catalog`` at a free 127.0.0.1 port; yields its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, create_app(catalog).server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()


def main_view(page: Page, url: str, neuron: str, pos: int, hover: int, out: Path) -> None:
    """The whole page, as the demo opens it.

    Controls, the caption, the text coloured by ``neuron`` with its strips and a details box, and
    beside it the neuron's profile with its coloured contexts.
    """
    page.goto(url)
    page.wait_for_selector(f'.lv-view[data-neuron="{neuron}"][data-start="{pos}"]:not([data-more])',
                           timeout=30_000)
    page.wait_for_selector("#profile .lv-ctx .lv-snip", timeout=30_000)
    page.hover(f'.lv-ch[data-i="{hover}"]')
    page.wait_for_selector("#lv-tip:not([hidden])")
    page.screenshot(path=str(out))


def search_panel(page: Page, url: str, hypothesis: str, out: Path) -> None:
    """The "Find units" tab after ranking every unit against ``hypothesis``."""
    page.goto(url)
    page.wait_for_selector(".lv-view[data-neuron]", timeout=30_000)
    page.get_by_text("Find units", exact=True).click()
    page.click(f"#{ids.SEARCH_HYPOTHESIS}")
    page.click(f'.dash-dropdown-option:has(input[value="{hypothesis}"])')
    page.click(f"#{ids.SEARCH_RUN}")
    page.wait_for_selector(f'.lv-notice:has-text("{hypothesis}:") ~ .lv-table .lv-results', timeout=300_000)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(out))  # the ranking beside the text


def main() -> None:
    """Parse the arguments and take both screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"), help="folder for the demo's extraction")
    ap.add_argument("--pos", type=int, help="first position of the main view (default: where `lstmviz demo` "
                    "opens)")
    ap.add_argument("--hover", type=int, default=62, help="character (after --pos) whose details box shows")
    ap.add_argument("--hypothesis", default="url", help="hypothesis ranked in search.png")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()

    states = demo_extraction(args.cache)
    cell = showcase(states)
    catalog = Catalog.scan([states])
    pos = cell.position if args.pos is None else args.pos
    url = to_query(View(catalog.default().key, cell.neuron, pos=pos, why=cell.hypothesis))
    with serving(catalog) as base, chromium(args.width, args.height) as browser:
        page = browser.new_page()
        main_view(page, base + url, cell.neuron, pos, pos + args.hover, HERE / "dashboard.png")
        search_panel(page, base + url, args.hypothesis, HERE / "search.png")
    print(HERE / "dashboard.png", HERE / "search.png", sep="\n")


if __name__ == "__main__":
    main()
