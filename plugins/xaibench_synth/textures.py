"""Per-class spatial textures: where a class is brighter or darker, and where it mixes in
its secondary cover (see :data:`~.spectra.SECONDARY_CLASS`).

Each function maps, for ``M`` (sample, slot) pairs of one class, two white-noise maps
``noise (M, 2, H, W)`` and a table of uniforms ``table (M, T)`` to

- ``m (M, H, W)``: brightness modulation, mean about 1, positive;
- ``f (M, H, W)``: fraction of the secondary cover, in [0, 1].

Cropland's modulation has mean 1 like grassland's, so the two share their mean
spectrum and differ only in structure (parcels of different vigour, sowing rows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .bands import BARREN, CROPLAND, FOREST, GRASSLAND, SHRUBLAND, URBAN, WATER, WETLAND
from .fields import lowpass

TABLE_SIZE = 64
"""Uniforms per (sample, slot): 8 shape parameters then 56 per-parcel / per-block values."""

_N_CELLS = TABLE_SIZE - 8

Texture = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _col(table: np.ndarray, j: int) -> np.ndarray:
    """Column ``j`` of ``table`` shaped ``(M, 1, 1)`` for broadcasting over maps."""
    return table[:, j, None, None]


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy[None], xx[None]


def _cells(table: np.ndarray, i: np.ndarray, j: np.ndarray, offset: int) -> np.ndarray:
    """Per-cell uniforms: cell ``(i, j)`` reads entry ``8 + (7 i + 13 j + offset) mod 56``."""
    idx = 8 + np.mod(7 * i + 13 * j + offset, _N_CELLS).astype(np.int64)
    return np.take_along_axis(table, idx.reshape(len(table), -1), axis=1).reshape(i.shape)


def _rotated(table: np.ndarray, size: int, max_angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates rotated by ``table[:, 0] * max_angle``: ``(u, v)`` each ``(M, H, W)``."""
    yy, xx = _grid(size)
    theta = _col(table, 0) * max_angle
    c, s = np.cos(theta), np.sin(theta)
    return xx * c + yy * s, -xx * s + yy * c


def forest(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mottled canopy: crowns (about 1 px) with darker shaded gaps."""
    crowns = lowpass(noise[:, 0], 0.8)
    gaps = lowpass(noise[:, 1], 2.0)
    m = 1.0 + 0.16 * crowns - 0.12 * np.clip(gaps - 0.8, 0.0, None)
    return m, np.zeros_like(m)


def shrubland(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shrubs scattered over bare soil (patches of about 2 px)."""
    m = 1.0 + 0.06 * lowpass(noise[:, 0], 1.0)
    f = np.clip(0.35 + 0.3 * lowpass(noise[:, 1], 2.0), 0.0, 1.0)
    return m, f


def grassland(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous meadow: only a gentle large-scale variation."""
    m = 1.0 + 0.04 * lowpass(noise[:, 0], 6.0)
    return m, np.zeros_like(m)


def wetland(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marsh vegetation with pools of open water."""
    m = 1.0 + 0.06 * lowpass(noise[:, 0], 1.5)
    f = np.clip(0.25 + 0.35 * lowpass(noise[:, 1], 2.5), 0.0, 1.0)
    return m, f


def cropland(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular parcels (9-19 px, random orientation) of different vigour, each with
    sowing rows (period 3-6 px) along one of the parcel axes."""
    size = noise.shape[-1]
    u, v = _rotated(table, size, np.pi)
    u = u + _col(table, 3) * 20.0
    v = v + _col(table, 4) * 20.0
    i = np.floor(u / (9.0 + 10.0 * _col(table, 1)))
    j = np.floor(v / (9.0 + 10.0 * _col(table, 2)))
    vigour = 0.7 + 0.6 * _cells(table, i, j, 0)
    along_u = _cells(table, i, j, 17) < 0.5
    period = 3.0 + 3.0 * _col(table, 5)
    rows = np.sin((2.0 * np.pi) * np.where(along_u, u, v) / period)
    m = vigour * (1.0 + 0.22 * rows) + 0.03 * lowpass(noise[:, 0], 0.7)
    return m, np.zeros_like(m)


def urban(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """City blocks (4-8 px) of different brightness separated by 1-px darker streets,
    with some blocks being parks."""
    size = noise.shape[-1]
    u, v = _rotated(table, size, np.pi / 2)
    block = 4.0 + 4.0 * _col(table, 1)
    u = u + _col(table, 3) * block
    v = v + _col(table, 4) * block
    i, j = np.floor(u / block), np.floor(v / block)
    street = ((u - i * block) < 1.0) | ((v - j * block) < 1.0)
    roofs = 0.7 + 0.7 * _cells(table, i, j, 0)
    park = (_cells(table, i, j, 29) < 0.12) & ~street
    m = np.where(street, 0.7, roofs) * (1.0 + 0.05 * lowpass(noise[:, 0], 0.6))
    f = np.where(park, 0.9, 0.08).astype(np.float32)
    return m, f


def barren(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bare soil and rock: smooth variation plus grain."""
    m = 1.0 + 0.07 * lowpass(noise[:, 0], 4.0) + 0.04 * lowpass(noise[:, 1], 1.0)
    return m, np.zeros_like(m)


def water(noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open water: smooth (turbidity), no texture."""
    m = 1.0 + 0.06 * lowpass(noise[:, 0], 6.0)
    return m, np.zeros_like(m)


TEXTURES: dict[int, Texture] = {
    FOREST: forest,
    SHRUBLAND: shrubland,
    GRASSLAND: grassland,
    WETLAND: wetland,
    CROPLAND: cropland,
    URBAN: urban,
    BARREN: barren,
    WATER: water,
}


def texture(cls: int, noise: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(m, f)`` of class ``cls`` for ``M`` slots: float32 ``(M, H, W)`` each, ``m > 0``."""
    m, f = TEXTURES[cls](noise, table)
    return np.maximum(m, 0.2).astype(np.float32, copy=False), f.astype(np.float32, copy=False)
