"""Sentinel-1-like backscatter of a scene layout: class means, texture, speckle, dB scaling.

Per patch: each class's mean VV/VH intensity (:data:`.spectra.SAR_LINEAR`) is rendered
with the class texture and blended at boundaries like the optical bands (linear
intensities mix), multiplied by a per-patch calibration gain (+-1 dB), then by
fully developed speckle -- independent Gamma(L, 1/L) draws per pixel and polarisation
(mean 1, ``L`` the equivalent number of looks) -- and converted to dB and to [0, 1] by
:data:`.bands.SAR_DB_RANGE`.
"""

from __future__ import annotations

import numpy as np

from . import spectra
from .bands import SAR_DB_RANGE
from .scenes import Layout, render

POLARISATIONS = ("VV", "VH")


def backscatter_db(layout: Layout, rngs: list[np.random.Generator], pols: tuple[str, ...], looks: float) -> np.ndarray:
    """Speckled backscatter in dB: ``(N, len(pols), H, W)`` float32.

    ``rngs`` are the samples' speckle streams (independent of the scene stream, so the
    optical bands do not change when SAR is switched on).
    """
    cols = [POLARISATIONS.index(p) for p in pols]
    primary = spectra.SAR_LINEAR[:, cols]
    intensity = render(layout, primary, primary[spectra.SECONDARY_CLASS])
    n, c, h, w = intensity.shape
    for s, rng in enumerate(rngs):
        gain_db = rng.uniform(-1.0, 1.0)
        speckle = rng.standard_gamma(looks, size=(c, h, w), dtype=np.float32) / np.float32(looks)
        intensity[s] *= speckle * np.float32(10.0 ** (gain_db / 10.0))
    return (10.0 * np.log10(np.maximum(intensity, 1e-6))).astype(np.float32)


def scale_db(db: np.ndarray) -> np.ndarray:
    """dB -> [0, 1]: ``(dB - lo) / (hi - lo)`` clipped, with ``(lo, hi) = SAR_DB_RANGE``."""
    lo, hi = SAR_DB_RANGE
    return np.clip((db - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def unscale_db(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`scale_db` (exact inside the range)."""
    lo, hi = SAR_DB_RANGE
    return (x * (hi - lo) + lo).astype(np.float32)
