"""EarthNet2021-like minicubes: land cover whose NDVI follows the weather-driven vigour.

Per pixel, NDVI is ``base + amp * v(t)`` (:data:`NDVI_BASE`, :data:`NDVI_AMP` of its
class, times the class texture, with ``base + amp <= 0.92``) and the red + NIR brightness ``S`` is fixed
(:data:`BRIGHTNESS`), so ``NIR = S (1 + NDVI) / 2`` and ``R = S (1 - NDVI) / 2``
reproduce the NDVI exactly; blue and green follow red and NIR
(``B = 0.02 + 0.45 R``, ``G = 0.02 + 0.5 R + 0.06 NIR``).  Frames are observed on the
last day of each ``days_per_frame`` window.  A frame is cloudy with probability
``cloud_probability * (0.5 + share of wet days in its window)`` (clipped to 1); its
cloud covers 30-100 % of the patch (a smooth field above its quantile) with a bright
flat cloud spectrum, and the cloud-mask channel is 1 there.
"""

from __future__ import annotations

import numpy as np

from . import spectra
from .fields import coarse_grid, normal, smooth_fields
from .scenes import Layout, render

#                        Forest Shrub Grass Wetland Crop Urban Barren Water
NDVI_BASE = np.array([0.45, 0.10, 0.10, 0.25, 0.05, 0.05, 0.03, -0.35], dtype=np.float32)
NDVI_AMP = np.array([0.40, 0.45, 0.75, 0.45, 0.85, 0.12, 0.08, 0.00], dtype=np.float32)
BRIGHTNESS = np.array([0.32, 0.40, 0.42, 0.28, 0.42, 0.34, 0.48, 0.06], dtype=np.float32)
MAX_NDVI = 0.92

CLOUD_BGRN = spectra.CLOUD[[1, 2, 3, 8]]
"""Cloud reflectance in B2, B3, B4, B8A."""


def pixel_parameters(layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``base, amp, brightness`` maps ``(N, H, W)`` of the layout (blended at boundaries, textured).

    ``amp`` is capped so that ``base + amp <= MAX_NDVI``: vigour lies in [0, 1], so NDVI
    stays valid and exactly linear in vigour.
    """
    table = np.stack([NDVI_BASE, NDVI_AMP, BRIGHTNESS], axis=1)  # (8, 3)
    maps = render(layout, table, table)
    base = np.clip(maps[:, 0], -0.6, MAX_NDVI)
    amp = np.clip(maps[:, 1], 0.0, MAX_NDVI - base)
    return base, amp, maps[:, 2]


def reflectance(ndvi: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """``(..., H, W)`` NDVI and brightness -> ``(..., 4, H, W)`` B2, B3, B4, B8A reflectance."""
    nir = brightness * (1.0 + ndvi) / 2.0
    red = brightness * (1.0 - ndvi) / 2.0
    blue = 0.02 + 0.45 * red
    green = 0.02 + 0.5 * red + 0.06 * nir
    return np.stack([blue, green, red, nir], axis=-3).astype(np.float32)


def cloud_masks(rngs: list[np.random.Generator], wet_share: np.ndarray, probability: float, size: int) -> np.ndarray:
    """``(N, F, H, W)`` bool cloud masks for ``F`` frames; ``wet_share (N, F)``."""
    n, frames = wet_share.shape
    sigma = 0.15 * size
    grid = coarse_grid(size, sigma)
    p = np.clip(probability * (0.5 + wet_share), 0.0, 1.0)
    u = np.empty((n, frames))
    cover = np.empty((n, frames))
    white = np.empty((n, frames, grid, grid), dtype=np.float32)
    for s, rng in enumerate(rngs):
        u[s] = rng.random(frames)
        cover[s] = 0.3 + 0.7 * rng.random(frames)
        white[s] = normal(rng, (frames, grid, grid))
    field = smooth_fields(white, sigma, size).reshape(n, frames, -1)
    # threshold at each frame's (1 - cover) quantile: the cloud covers `cover` of the patch
    below = np.floor((1.0 - cover) * (size * size - 1)).astype(np.int64)
    thr = np.take_along_axis(np.sort(field, axis=-1), below[..., None], axis=-1)
    mask = (field > thr) & (u < p)[..., None]
    return mask.reshape(n, frames, size, size)


def elevation_map(rngs: list[np.random.Generator], size: int) -> np.ndarray:
    """``(N, H, W)`` static normalised elevation ``clip(0.3 + 0.15 F, 0, 1)`` of a smooth field ``F``."""
    sigma = 0.3 * size
    grid = coarse_grid(size, sigma)
    white = np.stack([normal(rng, (grid, grid)) for rng in rngs])
    return np.clip(0.3 + 0.15 * smooth_fields(white, sigma, size), 0.0, 1.0).astype(np.float32)
