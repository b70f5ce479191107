"""Take the screenshot of the What if tab in docs/interventions.md: docs/img/whatif.png.

Builds (or reuses) the demo's extraction, serves it on a free local port and drives headless
Chromium (Debian's ``chromium`` package, through Playwright): the quote cell of the bundled model
held at its mean over a marked quotation, the before/after figure beside the text::

    python docs/img/make_whatif_png.py
    python docs/img/make_whatif_png.py --cache /tmp/democache --neuron layer2.c.89 --span 19880:19930
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_dashboard_png import chromium, serving

from app import ids
from app.catalog import Catalog
from app.state import View, to_query
from lstmviz.demo import demo_extraction

HERE = Path(__file__).parent


def main() -> None:
    """Parse the arguments and take the screenshot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"), help="folder for the demo's extraction")
    ap.add_argument("--neuron", default="layer2.c.89", help="the unit edited (the demo's quote cell)")
    ap.add_argument("--span", default="19880:19930", help="the marked span it is edited over")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args()

    a, b = (int(x) for x in args.span.split(":"))
    catalog = Catalog.scan([demo_extraction(args.cache)])
    url = to_query(View(catalog.default().key, args.neuron, pos=max(0, a - 60), mark=a, mark_len=b - a))
    out = HERE / "whatif.png"
    with serving(catalog) as base, chromium(args.width, args.height) as browser:
        page = browser.new_page()
        page.goto(base + url)
        page.wait_for_selector(f'.lv-view[data-neuron="{args.neuron}"]:not([data-more])', timeout=30_000)
        page.get_by_text("What if", exact=True).click()
        page.wait_for_selector(f"#{ids.WHATIF_MODEL}:has-text('Edits rerun')", timeout=30_000)
        page.click(f"#{ids.WHATIF_OP}")
        page.click('.dash-dropdown-option:has(input[value="mean"])')
        page.get_by_text("the mark", exact=True).click()
        page.click(f"#{ids.WHATIF_APPLY}")
        page.wait_for_selector(f"#{ids.WHATIF_FIGURE} img", timeout=60_000)
        page.wait_for_function(f"() => document.querySelector('#{ids.WHATIF_FIGURE} img').naturalWidth > 0")
        page.mouse.move(0, 0)
        page.screenshot(path=str(out))
    print(out)


if __name__ == "__main__":
    main()
