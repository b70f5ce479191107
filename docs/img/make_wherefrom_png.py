"""Take the screenshot of the "where from" mode in docs/provenance.md: docs/img/wherefrom.png.

Builds (or reuses) the demo's extraction, serves it on a free local port and drives headless
Chromium (Debian's ``chromium`` package, through Playwright): the wikilink cell of the bundled
model at the end of ``[[star cluster]]``, the text before it shaded by what each character wrote
into the cell there::

    python docs/img/make_wherefrom_png.py
    python docs/img/make_wherefrom_png.py --cache /tmp/democache --neuron layer2.c.182 --at 12028
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_dashboard_png import chromium, serving

from app.catalog import Catalog
from app.state import View, to_query
from lstmviz.demo import demo_extraction

HERE = Path(__file__).parent


def main() -> None:
    """Parse the arguments and take the screenshot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"), help="folder for the demo's extraction")
    ap.add_argument("--neuron", default="layer2.c.182", help="the cell (the demo's wikilink cell)")
    ap.add_argument("--at", type=int, default=12028, help="the clicked position whose value is taken apart")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()

    catalog = Catalog.scan([demo_extraction(args.cache)])
    view = View(catalog.default().key, args.neuron, pos=max(0, args.at - 330), length=500, origin=args.at)
    out = HERE / "wherefrom.png"
    with serving(catalog) as base, chromium(args.width, args.height) as browser:
        page = browser.new_page()
        page.goto(base + to_query(view))
        page.wait_for_selector(f'.lv-view[data-origin="{args.at}"][data-neuron="{args.neuron}"]:not([data-more])',
                               timeout=120_000)
        origin = page.locator(f'.lv-ch[data-i="{args.at}"]')
        origin.evaluate("cell => cell.scrollIntoView({block: 'center'})")
        page.mouse.move(0, 0)
        page.screenshot(path=str(out))
    print(out)


if __name__ == "__main__":
    main()
