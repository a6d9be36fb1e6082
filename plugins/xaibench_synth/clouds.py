"""Clouds over optical patches: a mask with a prescribed cover fraction and its spectrum.

Per patch (from the sample's ``CLOUDS`` stream): a cover fraction ``f`` drawn uniformly
in ``[lo, hi]``; a smooth random field (std ``scale * size`` px); the cloud mask is the
``f`` share of pixels where the field is highest (so the mask fraction equals ``f`` up
to one pixel); the opacity rises smoothly across the mask edge (0.5 on it, 1 inside
thick cores, a thin transparent rim outside); the cloud reflectance is
:data:`.spectra.CLOUD` times a per-patch brightness (0.85-1.15) and a soft texture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import spectra
from .fields import coarse_grid, lowpass, normal, smooth_fields


@dataclass
class Clouds:
    """``mask (N, H, W)`` uint8, ``opacity (N, H, W)`` float32 in [0, 1], ``reflectance (N, 13, H, W)``
    float32 and the drawn ``fraction (N,)``."""

    mask: np.ndarray
    opacity: np.ndarray
    reflectance: np.ndarray
    fraction: np.ndarray

    def apply(self, toa: np.ndarray) -> np.ndarray:
        """Blend the clouds over top-of-atmosphere reflectance ``(N, 13, H, W)``, in place."""
        a = self.opacity[:, None]
        toa *= 1.0 - a
        toa += a * self.reflectance
        return toa


def make_clouds(
    rngs: list[np.random.Generator], size: int, fraction: tuple[float, float], scale: float = 0.12, edge: float = 3.0
) -> Clouds:
    """Clouds for ``len(rngs)`` patches of ``size`` px; ``fraction = (lo, hi)`` of cover per patch;
    ``edge``: width (px) of the opacity ramp."""
    n = len(rngs)
    sigma = scale * size
    grid = coarse_grid(size, sigma)
    frac = np.empty(n)
    white = np.empty((n, grid, grid), dtype=np.float32)
    tex = np.empty((n, size, size), dtype=np.float32)
    bright = np.empty(n, dtype=np.float32)
    for s, rng in enumerate(rngs):
        frac[s] = fraction[0] + (fraction[1] - fraction[0]) * rng.random()
        white[s] = normal(rng, (grid, grid))
        tex[s] = normal(rng, (size, size))
        bright[s] = 0.85 + 0.3 * rng.random()
    field = smooth_fields(white, sigma, size).reshape(n, -1)
    # threshold at the (1 - f) quantile of each patch: exactly round(f * H * W) pixels above it
    k = np.rint(frac * size * size).astype(np.int64)
    order = np.sort(field, axis=1)[:, ::-1]
    thr = np.where(k > 0, order[np.arange(n), np.maximum(k - 1, 0)], np.inf)
    mask = field >= thr[:, None]
    # the field changes by ~1/(sigma sqrt 2) per pixel: a ramp of `edge` px spans that many field units
    ramp = edge / (sigma * np.sqrt(2.0))
    below = order[np.arange(n), np.minimum(k, size * size - 1)]
    centre = np.where(k > 0, (thr + below) / 2, np.inf)  # midway between last cloudy and first clear pixel
    opacity = np.clip(0.5 + (field - centre[:, None]) / ramp, 0.0, 1.0).reshape(n, size, size)
    opacity[~mask.reshape(n, size, size) & (opacity >= 0.5)] = 0.49  # ties at the threshold stay clear
    texture = 1.0 + 0.08 * lowpass(tex, 2.0)
    refl = (bright[:, None, None, None] * spectra.CLOUD[None, :, None, None]) * texture[:, None]
    return Clouds(
        mask=mask.reshape(n, size, size).astype(np.uint8),
        opacity=opacity.astype(np.float32),
        reflectance=np.clip(refl, 0.0, 1.0).astype(np.float32),
        fraction=frac.astype(np.float32),
    )
