"""A fixed colour per class name, so that every figure and report uses the same legend.

The land-cover colours are those of the DFC2020 baseline (Schmitt et al., 2020,
``lukasliebel/dfc2020_baseline``); other class names get a colour derived from the
name itself (stable across runs, processes and class orders).
"""

from __future__ import annotations

import hashlib
import re

NO_CLASS = "#ffffff"
"""Colour of positions without a class (no-data mask codes, maps without a predominant class)."""

DFC2020 = {
    "forest": "#009900",
    "shrubland": "#c6b044",
    "savanna": "#fbff13",
    "grassland": "#b6ff05",
    "wetland": "#27ff87",
    "cropland": "#c24f44",
    "urbanbuiltup": "#a5a5a5",
    "snowice": "#69fff8",
    "barren": "#f9ffa4",
    "water": "#1c0dff",
}

# matplotlib's tab20 (without the greys, which are close to "Urban/Built-up"), for other names
_FALLBACK = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd",
             "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5")


def _normalise(name: str) -> str:
    key = re.sub(r"[^a-z]", "", name.lower())
    return key[:-1] if key.endswith("s") and key[:-1] in DFC2020 else key  # "Wetlands", "Croplands"


def class_color(name: str) -> str:
    """The hex colour of a class name (``"Forest"`` -> ``"#009900"``)."""
    key = _normalise(name)
    if key in DFC2020:
        return DFC2020[key]
    digest = hashlib.sha256(name.encode()).digest()
    return _FALLBACK[digest[0] % len(_FALLBACK)]


def class_colors(names: list[str] | tuple[str, ...]) -> list[str]:
    """Colours of ``names`` in order; a name that collides with an earlier one's colour gets the next free one."""
    out: list[str] = []
    for name in names:
        color = class_color(name)
        if color in out:
            color = next((c for c in _FALLBACK if c not in out), color)
        out.append(color)
    return out


def palette_rgb(names: list[str] | tuple[str, ...]):
    """``(len(names) + 1, 3)`` uint8 lookup table; the last entry is :data:`NO_CLASS`."""
    import numpy as np

    hexes = [*class_colors(names), NO_CLASS]
    return np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hexes], dtype=np.uint8)
