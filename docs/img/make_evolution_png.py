"""Take the screenshots of the Evolution and Compare views: docs/img/evolution.png and docs/img/compare.png.

Serves a folder holding an evolution file (with its run's snapshots folder and its text beside
it, as ``lstmviz serve`` finds them) and two extractions of one text, and drives headless Chromium
(Debian's ``chromium``, through Playwright)::

    python docs/img/make_evolution_png.py runs/austen/ --compare cache/seed1__val.h5 cache/seed2__val.h5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_dashboard_png import chromium, serving

from app.catalog import Catalog

HERE = Path(__file__).parent


def main() -> None:
    """Parse the arguments and take both screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path, help="a folder with an evolution file, its snapshots and its text")
    ap.add_argument("--compare", nargs=2, type=Path, required=True, help="two extractions of one text")
    ap.add_argument("--hypothesis", default="quote", help="the hypothesis shown")
    ap.add_argument("--pos", type=int, default=0, help="the first character compared")
    args = ap.parse_args()
    catalog = Catalog.scan([args.folder, *args.compare])
    ev = catalog.evolutions[0].key
    a, b = (e.key for e in catalog.usable[:2])
    with serving(catalog) as url, chromium(1300, 1250) as browser:
        page = browser.new_page()
        page.goto(f"{url}evolution/?file={ev}&hypothesis={args.hypothesis}")
        page.wait_for_selector("#ev-figure .scatterlayer .trace", timeout=30_000)
        page.wait_for_selector(".lv-ev-row", timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(HERE / "evolution.png"))
        page.goto(f"{url}compare/?a={a}&b={b}&pos={args.pos}")
        page.wait_for_selector("#cmp-text-b[srcdoc]", timeout=300_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(HERE / "compare.png"), full_page=True)


if __name__ == "__main__":
    main()
