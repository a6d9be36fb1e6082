"""How climate shapes the scenes of ``synth-bioclim``: class priors (prior shift) and
class spectra (covariate shift).

Both are functions of the same bioclimatic vector a model may receive as ``aux``, so a
model that sees it can undo the shifts; ``strength`` 0 turns a shift off.

- Priors: ``p_c ~ default_c^(1-s) * region_c^s * exp(s * gamma_c * moisture)`` with
  :data:`REGION_PRIORS`, ``moisture = log(BIO12 / 500)`` and ``gamma`` favouring forest and
  wetland in wet climates, shrubland and barren land in dry ones.
- Spectra: vegetation greenness ``g = sigmoid(2.5 log(BIO12 / 350)) * sigmoid((BIO10 - 5) / 3)``
  (water and warmth limited).  Each vegetated class blends its green signature with
  :data:`.spectra.DRY_VEGETATION` as ``1 - s k_c (1 - g)`` green (``k``: grassland 1,
  shrubland 0.7, cropland 0.6 (partly irrigated), forest and wetland 0.4).  Bare soil
  brightens with aridity ``1 - g_water`` (``x (1 + s (0.3 aridity - 0.15))``); water gets
  more turbid in warm climates (B1-B5 ``x (1 + 0.6 s clip((BIO1 - 5) / 20, 0, 1))``).
"""

from __future__ import annotations

import numpy as np

from . import spectra
from .bands import BARREN, CROPLAND, FOREST, GRASSLAND, SHRUBLAND, WATER, WETLAND

REGION_PRIORS: np.ndarray = np.array(
    [
        # Forest Shrub Grass Wetland Crop Urban Barren Water
        [0.40, 0.08, 0.08, 0.18, 0.04, 0.03, 0.04, 0.15],  # boreal
        [0.22, 0.04, 0.20, 0.04, 0.30, 0.12, 0.02, 0.06],  # temperate
        [0.12, 0.28, 0.12, 0.02, 0.22, 0.09, 0.10, 0.05],  # mediterranean
        [0.02, 0.25, 0.10, 0.01, 0.06, 0.05, 0.48, 0.03],  # arid
        [0.45, 0.10, 0.10, 0.10, 0.12, 0.04, 0.02, 0.07],  # tropical
    ]
)
"""(5, 8) class frequencies of each region (rows in :data:`.climate.REGION_NAMES` order)."""

MOISTURE_RESPONSE: np.ndarray = np.array([0.5, -0.3, 0.0, 0.5, 0.0, 0.0, -0.6, 0.0])
"""(8,) ``gamma``: log-prior change per unit of ``log(BIO12 / 500)``."""

DRYING: np.ndarray = np.zeros(8)
DRYING[[GRASSLAND, SHRUBLAND, CROPLAND, FOREST, WETLAND]] = [1.0, 0.7, 0.6, 0.4, 0.4]
"""(8,) ``k``: how far each class dries out when greenness drops."""

BIO1, BIO10, BIO12 = 0, 9, 11  # columns of the physical bioclim vector


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


def greenness(bio: np.ndarray) -> np.ndarray:
    """``(N,)`` in [0, 1] from physical bioclim ``(N, 20)``: water- and warmth-limited vigour."""
    return _sigmoid(2.5 * np.log(bio[:, BIO12] / 350.0)) * _sigmoid((bio[:, BIO10] - 5.0) / 3.0)


def class_priors(region: np.ndarray, bio: np.ndarray, default: np.ndarray, strength: float) -> np.ndarray:
    """``(N, 8)`` class priors per patch (rows sum to 1)."""
    moisture = np.log(bio[:, BIO12] / 500.0)
    logp = (1.0 - strength) * np.log(default)[None, :] + strength * np.log(REGION_PRIORS[region])
    logp = logp + strength * moisture[:, None] * MOISTURE_RESPONSE[None, :]
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def class_signatures(bio: np.ndarray, strength: float) -> np.ndarray:
    """``(N, 8, 13)`` optical signatures shifted by the climate of each patch."""
    n = len(bio)
    sig = np.repeat(spectra.OPTICAL[None].astype(np.float64), n, axis=0)
    g = greenness(bio)
    green_share = 1.0 - strength * DRYING[None, :] * (1.0 - g[:, None])  # (N, 8)
    sig = green_share[:, :, None] * sig + (1.0 - green_share[:, :, None]) * spectra.DRY_VEGETATION[None, None, :]
    aridity = 1.0 - _sigmoid(2.5 * np.log(bio[:, BIO12] / 350.0))
    sig[:, BARREN] *= (1.0 + strength * (0.3 * aridity - 0.15))[:, None]
    warm = np.clip((bio[:, BIO1] - 5.0) / 20.0, 0.0, 1.0)
    sig[:, WATER, :5] *= (1.0 + 0.6 * strength * warm)[:, None]
    return sig.astype(np.float32)
