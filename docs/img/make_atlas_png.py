"""Take the screenshots of docs/atlas.md: the top of the demo's cell atlas, and its unexplained cells.

Builds (or reuses) the demo's extraction, writes its atlas as ``lstmviz atlas`` does, and opens the
page in headless Chromium (Debian's ``chromium`` package, through Playwright)::

    python docs/img/make_atlas_png.py
    python docs/img/make_atlas_png.py --cache /tmp/democache
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from make_dashboard_png import chromium

from lstmviz.demo import demo_extraction
from lstmviz.render.atlas import atlas_command, page
from lstmviz.search.atlas import build_atlas
from lstmviz.store.reader import open_states

HERE = Path(__file__).parent


def main() -> None:
    """Parse the arguments, write the demo's atlas to a temporary file and take both screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("cache"), help="folder for the demo's extraction")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1100)
    args = ap.parse_args()

    states_path = demo_extraction(args.cache)
    with open_states(states_path) as states:
        text = page(states, build_atlas(states), command=atlas_command(states_path.name))
    with tempfile.TemporaryDirectory() as folder, chromium(args.width, args.height) as browser:
        atlas = Path(folder) / "atlas.html"
        atlas.write_text(text, encoding="utf-8")
        view = browser.new_page()
        view.goto(atlas.as_uri())
        view.screenshot(path=str(HERE / "atlas.png"))
        top = view.evaluate("() => [...document.querySelectorAll('h2')].find(h => h.textContent"
                            ".startsWith('Unexplained')).getBoundingClientRect().top + window.scrollY")
        view.evaluate(f"() => window.scrollTo(0, {top} - 8)")
        view.screenshot(path=str(HERE / "atlas-unexplained.png"))
    print(HERE / "atlas.png", HERE / "atlas-unexplained.png", sep="\n")


if __name__ == "__main__":
    main()
