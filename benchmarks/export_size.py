"""Bytes of exported figures, and their width in pixels, on an extraction (the demo's by default).

Renders the same spans with and without prediction strips, as HTML and SVG, at the default width,
and prints the size of each file and the width of the figure it draws (columns times the width
of a column, plus the padding), so a change to the markup can be weighed against the last one.

    python benchmarks/export_size.py                            # the demo extraction (built once)
    python benchmarks/export_size.py val.h5 --neuron layer1.c.117 --start 1200
"""

from __future__ import annotations

import argparse
import re

from lstmviz.demo import demo_extraction
from lstmviz.render import style
from lstmviz.render.export import render
from lstmviz.render.spec import ExportSpec
from lstmviz.store.reader import open_states

LENGTHS = (400, 500)


def main() -> None:
    """Print one row per figure: length, strips, format, kilobytes, width in pixels."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="an extraction (default: the demo's, built under cache/)")
    parser.add_argument("--neuron", default="layer2.c.0")
    parser.add_argument("--start", type=int, default=1000)
    args = parser.parse_args()
    path = args.file or demo_extraction("cache", progress=False)
    print(f"{'chars':>5} {'strips':>6} {'format':>6} {'KB':>7} {'px':>6}")
    with open_states(path) as states:
        for length in LENGTHS:
            for strips in (False, True):
                for fmt in ("html", "svg"):
                    text = render(states, ExportSpec([args.neuron], args.start, length, strips=strips,
                                                     format=fmt))
                    print(f"{length:>5} {str(strips):>6} {fmt:>6} {len(text.encode()) / 1000:>7.1f} "
                          f"{_width(text, fmt, strips):>6.0f}")


def _width(text: str, fmt: str, strips: bool) -> float:
    """The figure's drawn width: the SVG's viewBox, or the HTML's longest line of cells and padding."""
    if fmt == "svg":
        return float(re.search(r'viewBox="0 0 ([\d.]+)', text)[1])
    lines = re.findall(r'<div class="lv-band"[^>]*>(.*?)</div>', text)
    columns = max(line.count("</span>") for line in lines)
    return columns * (style.COL_PX if strips else style.CHAR_PX) + 2 * style.PAD_PX


if __name__ == "__main__":
    main()
