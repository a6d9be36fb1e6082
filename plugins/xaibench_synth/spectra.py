"""Spectral signatures of the 8 classes in the 13 Sentinel-2 bands, and their SAR backscatter.

Values are top-of-atmosphere-like reflectances (0-1) chosen to follow the shapes of
real spectra rather than to reproduce any library exactly:

- vegetation: green peak (B3), red absorption (B4), red edge (B5-B7) rising to a
  NIR plateau (B8, B8A), water absorption lowering B9, SWIR (B11 > B12) below NIR;
- water: dark and falling with wavelength, almost black in NIR and SWIR;
- urban: bright and flat;
- bare soil: rising monotonically from blue into SWIR (B11 above NIR);
- B10 (cirrus, 1375 nm) is nearly zero for every surface: only clouds show in it.

Cropland has exactly the grassland signature: the two classes differ only in their
spatial structure (parcels and stripes), so a model must use spatial context.
"""

from __future__ import annotations

import numpy as np

from .bands import BARREN, CROPLAND, FOREST, GRASSLAND, WATER

#                 B1     B2     B3     B4     B5     B6     B7     B8     B8A    B9     B10    B11    B12
_FOREST = [0.060, 0.045, 0.065, 0.035, 0.085, 0.220, 0.280, 0.300, 0.310, 0.110, 0.004, 0.145, 0.065]
_SHRUB = [0.080, 0.070, 0.095, 0.095, 0.135, 0.195, 0.225, 0.245, 0.255, 0.090, 0.005, 0.275, 0.180]
_GRASS = [0.070, 0.055, 0.090, 0.060, 0.125, 0.280, 0.345, 0.370, 0.380, 0.125, 0.005, 0.240, 0.130]
_WETLAND = [0.060, 0.050, 0.072, 0.050, 0.080, 0.160, 0.190, 0.200, 0.205, 0.070, 0.004, 0.100, 0.050]
_URBAN = [0.120, 0.120, 0.130, 0.140, 0.150, 0.160, 0.170, 0.180, 0.182, 0.070, 0.006, 0.205, 0.180]
_BARREN = [0.100, 0.110, 0.150, 0.200, 0.230, 0.250, 0.270, 0.285, 0.292, 0.120, 0.006, 0.360, 0.320]
_WATER = [0.080, 0.070, 0.060, 0.040, 0.030, 0.020, 0.015, 0.012, 0.010, 0.005, 0.002, 0.005, 0.003]

OPTICAL: np.ndarray = np.array([_FOREST, _SHRUB, _GRASS, _WETLAND, _GRASS, _URBAN, _BARREN, _WATER], dtype=np.float32)
"""(8, 13) primary reflectance of each class (row order of :data:`~.bands.DFC2020_CLASSES`)."""

SECONDARY_CLASS: np.ndarray = np.array(
    [FOREST, BARREN, GRASSLAND, WATER, CROPLAND, GRASSLAND, BARREN, WATER], dtype=np.int64
)
"""Class whose signature a class mixes in inside its own texture: soil between shrubs,
open water in wetlands, parks (grass) in cities; itself where there is no such mixing."""

VEGETATION_WEIGHT: np.ndarray = np.array([1.0, 0.6, 1.0, 0.7, 1.0, 0.1, 0.0, 0.0], dtype=np.float32)
"""(8,) how strongly each class's NIR plateau follows a vegetation-vigour factor."""

NIR_BANDS: np.ndarray = np.array([0, 0, 0, 0, 0.3, 0.8, 1, 1, 1, 1, 0, 0.3, 0.2], dtype=np.float32)
"""(13,) share of each band in the vegetation vigour effect (red edge, NIR, and a little SWIR)."""

HAZE: np.ndarray = (
    np.array([442.7, 492.4, 559.8, 664.6, 704.1, 740.5, 782.8, 832.8, 864.7, 945.1, 1373.5, 1613.7, 2202.4]) / 442.7
) ** -4.0
"""(13,) relative path radiance of a Rayleigh-like haze (wavelength^-4, 1 at B1)."""
HAZE = HAZE.astype(np.float32)
HAZE[10] = 0.0  # B10 sees no surface and no low haze: it is absorbed by water vapour

DRY_VEGETATION: np.ndarray = np.array(
    [0.090, 0.090, 0.120, 0.150, 0.180, 0.210, 0.230, 0.245, 0.250, 0.095, 0.005, 0.330, 0.250], dtype=np.float32
)
"""(13,) senescent (dry) vegetation: red up, red edge flattened, SWIR up. Used by climate shifts."""

CLOUD: np.ndarray = np.array(
    [0.480, 0.470, 0.470, 0.480, 0.490, 0.500, 0.505, 0.510, 0.510, 0.330, 0.220, 0.380, 0.250], dtype=np.float32
)
"""(13,) optically thick cloud: bright and flat across VNIR, visible in the cirrus band B10."""

SAR_DB: np.ndarray = np.array(
    [
        [-7.5, -13.0],  # forest: volume scattering, strong VH
        [-9.0, -15.5],  # shrubland
        [-10.5, -17.5],  # grassland
        [-8.0, -16.5],  # wetland: double bounce between water and stems brightens VV
        [-10.0, -17.0],  # cropland: like grassland; its parcels and rows appear as texture
        [-3.5, -10.0],  # urban: double bounce on buildings, the brightest
        [-13.5, -21.5],  # barren: smooth dry surface, dark
        [-21.0, -27.0],  # water: specular reflection away from the sensor, the darkest
    ],
    dtype=np.float32,
)
"""(8, 2) mean backscatter (VV, VH) in dB of each class, typical C-band values."""

SAR_LINEAR: np.ndarray = (10.0 ** (SAR_DB / 10.0)).astype(np.float32)
"""(8, 2) :data:`SAR_DB` as linear intensity (sigma0)."""
