"""Band and class tables shared by the synthetic datasets (pure Python, cheap to import)."""

from __future__ import annotations

from xaibench.components import Band
from xaibench_eo.sensors import LANDCOVER8_CLASSES, S2_BANDS, S2_NAMES  # noqa: F401  (re-exported)

SAR_DB_RANGE: tuple[float, float] = (-30.0, 5.0)
"""Backscatter range (dB) mapped linearly onto [0, 1]: ``x = (dB + 30) / 35``, clipped."""

S1_BANDS: dict[str, Band] = {pol: Band(pol, 0.0, "s1", "dB scaled: (dB + 30) / 35") for pol in ("VV", "VH")}
"""Sentinel-1 C-band polarisations, backscatter scaled to [0, 1] by :data:`SAR_DB_RANGE`."""

DFC2020_CLASSES: tuple[str, ...] = LANDCOVER8_CLASSES
"""The 8 DFC2020 land-cover classes (the simplified IGBP scheme, without Savanna and Snow/Ice)."""

FOREST, SHRUBLAND, GRASSLAND, WETLAND, CROPLAND, URBAN, BARREN, WATER = range(8)

SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
"""Split -> integer mixed into every per-sample seed, so the three splits never share a sample."""

SPLIT_NAMES: dict[int, str] = {code: name for name, code in SPLIT_CODES.items()}
"""Integer split code -> split name."""
