"""Colours of activations and prediction strips, shared by the dashboard and the HTML export.

Both draw from the same 256-entry lookup tables sampled from plotly colour scales, so a character
exported to a blog has exactly the colour it had on screen. Values are first mapped to a fixed
range per activation kind, from :mod:`lstmviz.kinds` (h and tanh(c) in [-1, 1], gates in [0, 1]),
or raw c to its own range.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import plotly.colors as pc

from lstmviz.kinds import KINDS

LUT_SIZE = 256

# The post's look: blue for negative, a pale middle that keeps text readable, green for positive.
BLOG = [[0.0, "rgb(58, 117, 196)"], [0.5, "rgb(245, 247, 245)"], [1.0, "rgb(50, 168, 82)"]]
PALETTES: dict[str, list[list]] = {
    "blog": BLOG,
    "diverging": pc.get_colorscale("RdBu"),  # red low, white middle, blue high
    "colorblind": pc.get_colorscale("cividis"),
}
STRIP = [[0.0, "rgb(255, 255, 255)"], [1.0, "rgb(214, 39, 40)"]]  # probability 0 -> 1, white -> red
# A change of loss, -m -> +m: blue where an edit helped (the loss fell), white for none, red where it hurt
DELTA = [[0.0, "rgb(33, 102, 172)"], [0.5, "rgb(247, 247, 247)"], [1.0, "rgb(178, 24, 43)"]]
TABLES = {"strip": STRIP, "delta": DELTA}  # the tables that are not a palette of activations
DISPLAY_FUNCTIONS = {"tanh": np.tanh}  # lstmviz.kinds.Kind.display, for arrays


@cache
def lut(palette: str) -> tuple[str, ...]:
    """The palette sampled at LUT_SIZE evenly spaced points, as ``#rrggbb`` strings.

    >>> lut("blog")[0], len(lut("blog"))
    ('#3a75c4', 256)
    """
    scale = TABLES.get(palette) or PALETTES.get(palette)
    if scale is None:
        raise ValueError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    samples = pc.sample_colorscale(scale, list(np.linspace(0.0, 1.0, LUT_SIZE)))  # "rgb(r, g, b)"
    rgb = (pc.unlabel_rgb(s) for s in samples)
    return tuple("#{:02x}{:02x}{:02x}".format(*(round(v) for v in c)) for c in rgb)


def lut_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Bin values of [lo, hi] into 0..LUT_SIZE-1 (clipped); NaN and infinity (no value) become -1.

    An infinite value comes from a damaged file, never from a model: shown with the colour of the
    scale's end, it would pass for a saturated unit.

    >>> lut_index(np.array([-1.0, 0.0, 1.0, np.nan, np.inf]), -1, 1).tolist()
    [0, 128, 255, -1, -1]
    """
    values = np.asarray(values, dtype=np.float64)
    span = hi - lo if hi > lo else 1.0
    idx = np.floor((values - lo) / span * LUT_SIZE)
    idx = np.clip(np.nan_to_num(idx, nan=-1.0), 0, LUT_SIZE - 1).astype(np.int64)
    idx[~np.isfinite(values)] = -1
    return idx


def colours(values: np.ndarray, palette: str, lo: float, hi: float) -> list[str]:
    """Background colour of each value; NaN and infinity (no data) are white."""
    table = lut(palette)
    return ["#ffffff" if i < 0 else table[i] for i in lut_index(values, lo, hi)]


def strip_colours(probs: np.ndarray) -> list[str]:
    """Red shading of prediction-strip cells by probability."""
    return colours(probs, "strip", 0.0, 1.0)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on the background (WCAG relative luminance)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in (r, g, b)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if luminance > 0.179 else "#ffffff"


def display_range(kind: str, raw_c: bool = False, c_abs_max: float = 1.0) -> tuple[float, float]:
    """The fixed colour range of an activation kind: the range of what is shown of it.

    h, tanh(c) and the cell input g (a tanh) use [-1, 1], the sigmoid gates i, f, o [0, 1];
    raw c a symmetric range of the magnitude given (see ``render.snippet.colour_range``).

    >>> display_range("gates.f"), display_range("gates.g"), display_range("c", raw_c=True, c_abs_max=40.0)
    ((0.0, 1.0), (-1.0, 1.0), (-40.0, 40.0))
    """
    row = KINDS[kind]
    if raw_c and row.display is not None:
        m = max(float(c_abs_max), 1e-6)
        return -m, m
    return row.display_range


def display_values(kind: str, values: np.ndarray, raw_c: bool = False) -> np.ndarray:
    """What is coloured: the kind's display function of the values (tanh(c)), or with raw c the values.

    An infinite c (a damaged file) stays without a value, as it is in raw c, rather than
    becoming tanh's saturated end.
    """
    display = KINDS[kind].display
    if display is not None and not raw_c:
        return np.where(np.isinf(values), np.nan, DISPLAY_FUNCTIONS[display](values))
    return values
