"""Take the dashboard screenshot shown in the README (docs/img/dashboard.png).

Serves the given extraction on a free local port, opens the view in headless Chromium (Debian's
``chromium`` package, through Playwright) and saves the page's top part::

    python docs/img/make_dashboard_png.py cache/austen__persuasion.h5 --neuron layer0.h.33 --pos 31020
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from app.app import create_app


def screenshot(states: Path, neuron: str, pos: int, length: int, out: Path, width: int, height: int) -> None:
    """Serve ``states``, show ``neuron`` from ``pos`` and save a ``width`` × ``height`` screenshot."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    httpd = make_server("127.0.0.1", 0, create_app([states]).server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/?neuron={neuron}&pos={pos}&len={length}"  # len: 100..10000
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            browser = p.chromium.launch_persistent_context(
                profile, executable_path=shutil.which("chromium"), headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
                viewport={"width": width, "height": height}, device_scale_factor=1)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(f'.lv-view[data-neuron="{neuron}"][data-start="{pos}"]', timeout=30_000)
            page.hover(f'.lv-ch[data-i="{pos + 12}"]')  # show the details box too (first line)
            page.wait_for_selector("#lv-tip:not([hidden])")
            page.screenshot(path=str(out))
            browser.close()
    finally:
        httpd.shutdown()


def main() -> None:
    """Parse the arguments and take the screenshot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("states", type=Path, help="an extraction file")
    ap.add_argument("--neuron", required=True, help="e.g. layer1.c.97")
    ap.add_argument("--pos", type=int, default=0, help="first position shown")
    ap.add_argument("--length", type=int, default=500, help="characters shown (one the page offers)")
    ap.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("dashboard.png"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()
    screenshot(args.states, args.neuron, args.pos, args.length, args.output, args.width, args.height)
    print(args.output)


if __name__ == "__main__":
    main()
