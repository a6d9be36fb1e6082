"""Band and class tables of the published datasets (pure Python, cheap to import).

Class schemes are reduced to the 8 land-cover classes of the harmonization paper
(the DFC2020 scheme without Savanna and Snow/Ice) by lookup tables from each
product's codes; codes mapped to ``None`` become the ignore index ``-1`` in masks.
"""

from __future__ import annotations

from xaibench.components import Band
from xaibench_eo.sensors import LANDCOVER8_CLASSES, S2_BANDS, S2_NAMES  # noqa: F401  (re-exported)

S2_L2A_NAMES: tuple[str, ...] = tuple(n for n in S2_NAMES if n != "B10")
"""Level-2A products (BigEarthNet) have no cirrus band B10: 12 bands."""

S2_RESOLUTION_M: dict[str, int] = {
    "B1": 60, "B2": 10, "B3": 10, "B4": 10, "B5": 20, "B6": 20, "B7": 20,
    "B8": 10, "B8A": 20, "B9": 60, "B10": 60, "B11": 20, "B12": 20,
}  # fmt: skip
"""Native ground sampling distance of each band (m)."""

S1_POLARIZATIONS: tuple[str, ...] = ("VV", "VH")
S1_DB_RANGE: tuple[float, float] = (-25.0, 0.0)
"""Default backscatter range (dB) mapped linearly onto [0, 1]: ``x = (dB + 25) / 25``, clipped.

The DFC2020 / SEN12MS baseline normalisation (clip to [-25, 0] dB, ``dB / 25 + 1``)."""

S2_SCALE = 10000.0
"""Sentinel-2 L1C/L2A digital numbers are reflectance x 10000."""


def s1_band(pol: str, db_range: tuple[float, float]) -> Band:
    lo, hi = db_range
    return Band(pol, 0.0, "s1", f"dB scaled: (dB - ({lo:g})) / {hi - lo:g}, clipped to [0, 1]")


def canonical_s2(name: str) -> str:
    """``"B01"`` / ``"b1"`` / ``"B8A"`` -> ``"B1"`` / ``"B1"`` / ``"B8A"``; unknown names unchanged (upper-cased)."""
    n = name.strip().upper()
    if n.startswith("B") and n[1:].isdigit():
        return f"B{int(n[1:])}"
    return n


def bigearthnet_suffix(name: str) -> str:
    """File suffix of a band in BigEarthNet patch folders: ``"B1"`` -> ``"B01"``, ``"B8A"`` -> ``"B8A"``."""
    return name if name == "B8A" else f"B{int(name[1:]):02d}"


# ---------------------------------------------------------------- 8-class land cover
LANDCOVER8: tuple[str, ...] = LANDCOVER8_CLASSES
"""The 8 classes of the harmonization paper (DFC2020 without Savanna and Snow/Ice)."""

DFC10: dict[int, str] = {
    1: "Forest", 2: "Shrubland", 3: "Savanna", 4: "Grassland", 5: "Wetland",
    6: "Cropland", 7: "Urban/Built-up", 8: "Snow/Ice", 9: "Barren", 10: "Water",
}  # fmt: skip
"""DFC2020 mask codes (the simplified IGBP scheme of the contest, 1-10)."""

DFC10_TO_8: dict[int, str | None] = {code: (None if name in ("Savanna", "Snow/Ice") else name) for code, name in DFC10.items()}
"""DFC2020 code -> class of :data:`LANDCOVER8`; Savanna and Snow/Ice are ignored (-1)."""

IGBP_TO_8: dict[int, str | None] = {
    1: "Forest", 2: "Forest", 3: "Forest", 4: "Forest", 5: "Forest",  # needle/broadleaf, evergreen/deciduous, mixed
    6: "Shrubland", 7: "Shrubland",  # closed / open shrublands
    8: None, 9: None,  # woody savannas, savannas -> DFC Savanna, not among the 8
    10: "Grassland", 11: "Wetland", 12: "Cropland", 13: "Urban/Built-up",
    14: "Cropland",  # cropland / natural vegetation mosaics (DFC2020 baseline: Croplands)
    15: None,  # permanent snow and ice
    16: "Barren", 17: "Water",
}  # fmt: skip
"""SEN12MS land cover band 1 (MODIS IGBP, 1-17) -> :data:`LANDCOVER8` (through the DFC2020 scheme)."""

WORLDCOVER: dict[int, str] = {
    10: "Tree cover", 20: "Shrubland", 30: "Grassland", 40: "Cropland", 50: "Built-up",
    60: "Bare / sparse vegetation", 70: "Snow and ice", 80: "Permanent water bodies",
    90: "Herbaceous wetland", 95: "Mangroves", 100: "Moss and lichen",
}  # fmt: skip
"""ESA WorldCover v100/v200 codes (Product User Manual) and names: 11 classes."""

WORLDCOVER_TO_8: dict[int, str | None] = {
    10: "Forest", 20: "Shrubland", 30: "Grassland", 40: "Cropland", 50: "Urban/Built-up",
    60: "Barren", 70: None, 80: "Water", 90: "Wetland", 95: "Wetland", 100: "Grassland",
}  # fmt: skip
"""ESA WorldCover code -> :data:`LANDCOVER8` (snow and ice ignored; mangroves are wetland,
moss and lichen low herbaceous cover, i.e. grassland)."""

# ---------------------------------------------------------------- BigEarthNet
BEN43: tuple[str, ...] = (
    "Continuous urban fabric",
    "Discontinuous urban fabric",
    "Industrial or commercial units",
    "Road and rail networks and associated land",
    "Port areas",
    "Airports",
    "Mineral extraction sites",
    "Dump sites",
    "Construction sites",
    "Green urban areas",
    "Sport and leisure facilities",
    "Non-irrigated arable land",
    "Permanently irrigated land",
    "Rice fields",
    "Vineyards",
    "Fruit trees and berry plantations",
    "Olive groves",
    "Pastures",
    "Annual crops associated with permanent crops",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland",
    "Moors and heathland",
    "Sclerophyllous vegetation",
    "Transitional woodland/shrub",
    "Beaches, dunes, sands",
    "Bare rock",
    "Sparsely vegetated areas",
    "Burnt areas",
    "Inland marshes",
    "Peatbogs",
    "Salt marshes",
    "Salines",
    "Intertidal flats",
    "Water courses",
    "Water bodies",
    "Coastal lagoons",
    "Estuaries",
    "Sea and ocean",
)
"""The 43 CORINE Land Cover level-3 labels as written in BigEarthNet v1 ``labels_metadata.json``."""

BEN19: tuple[str, ...] = (
    "Urban fabric",
    "Industrial or commercial units",
    "Arable land",
    "Permanent crops",
    "Pastures",
    "Complex cultivation patterns",
    "Land principally occupied by agriculture, with significant areas of natural vegetation",
    "Agro-forestry areas",
    "Broad-leaved forest",
    "Coniferous forest",
    "Mixed forest",
    "Natural grassland and sparsely vegetated areas",
    "Moors, heathland and sclerophyllous vegetation",
    "Transitional woodland, shrub",
    "Beaches, dunes, sands",
    "Inland wetlands",
    "Coastal wetlands",
    "Inland waters",
    "Marine waters",
)
"""The 19-class nomenclature of Sumbul et al. (2021)."""

_BEN19_FROM_43: tuple[tuple[int, ...], ...] = (
    (0, 1), (2,), (11, 12, 13), (14, 15, 16, 18), (17,), (19,), (20,), (21,), (22,), (23,), (24,),
    (25, 31), (26, 27), (28,), (29,), (33, 34), (35, 36), (38, 39), (40, 41, 42),
)  # fmt: skip

BEN43_TO_19: dict[str, int | None] = {name: None for name in BEN43} | {
    BEN43[old]: new for new, olds in enumerate(_BEN19_FROM_43) for old in olds
}
"""CORINE label -> index into :data:`BEN19`; ``None`` for the 11 labels the nomenclature drops
(road/rail, port, airports, mineral extraction, dump and construction sites, green urban,
sport and leisure, bare rock, burnt areas, intertidal flats)."""

CLC_LEVEL3: dict[int, str] = {
    111: "Continuous urban fabric", 112: "Discontinuous urban fabric", 121: "Industrial or commercial units",
    122: "Road and rail networks and associated land", 123: "Port areas", 124: "Airports",
    131: "Mineral extraction sites", 132: "Dump sites", 133: "Construction sites", 141: "Green urban areas",
    142: "Sport and leisure facilities", 211: "Non-irrigated arable land", 212: "Permanently irrigated land",
    213: "Rice fields", 221: "Vineyards", 222: "Fruit trees and berry plantations", 223: "Olive groves",
    231: "Pastures", 241: "Annual crops associated with permanent crops", 242: "Complex cultivation patterns",
    243: "Land principally occupied by agriculture, with significant areas of natural vegetation",
    244: "Agro-forestry areas", 311: "Broad-leaved forest", 312: "Coniferous forest", 313: "Mixed forest",
    321: "Natural grassland", 322: "Moors and heathland", 323: "Sclerophyllous vegetation",
    324: "Transitional woodland/shrub", 331: "Beaches, dunes, sands", 332: "Bare rock", 333: "Sparsely vegetated areas",
    334: "Burnt areas", 335: "Glaciers and perpetual snow", 411: "Inland marshes", 412: "Peatbogs",
    421: "Salt marshes", 422: "Salines", 423: "Intertidal flats", 511: "Water courses", 512: "Water bodies",
    521: "Coastal lagoons", 522: "Estuaries", 523: "Sea and ocean",
}  # fmt: skip
"""CORINE Land Cover level-3 codes (the values of BigEarthNet v2's reference maps) and their names as
BigEarthNet v1 writes them (:data:`BEN43` is this list without 335, glaciers, absent from BigEarthNet)."""

CLC_NODATA: tuple[int, ...] = (0, 990, 995, 999)
"""Reference-map values that are no class: 0 (no CLC polygon under the pixel) and CLC's own
unclassified land (990), unclassified water (995) and no data (999); ignored (-1) in masks."""

CLC_TO_BEN19: dict[int, int | None] = {code: BEN43_TO_19.get(name) for code, name in CLC_LEVEL3.items()}
"""CLC code -> index into :data:`BEN19` (Sumbul et al. 2021); ``None`` for the 11 codes the
nomenclature drops and for 335 (glaciers)."""

CLC_TO_8: dict[int, str | None] = {
    **{code: "Urban/Built-up" for code in (111, 112, 121, 122, 123, 124, 131, 132, 133, 141, 142)},
    **{code: "Cropland" for code in (211, 212, 213, 221, 222, 223, 241, 242, 243)},
    231: "Grassland",  # pastures: managed grassland
    244: None,  # agro-forestry (sparse trees over crops or pasture): savanna-like, not among the 8 (as IGBP 8-9)
    311: "Forest", 312: "Forest", 313: "Forest",
    321: "Grassland", 322: "Shrubland", 323: "Shrubland", 324: "Shrubland",
    331: "Barren", 332: "Barren", 333: "Barren", 334: "Barren",
    335: None,  # glaciers and perpetual snow: ignored, as snow/ice elsewhere
    411: "Wetland", 412: "Wetland", 421: "Wetland", 422: "Wetland", 423: "Wetland",
    511: "Water", 512: "Water", 521: "Water", 522: "Water", 523: "Water",
}  # fmt: skip
"""CLC code -> :data:`LANDCOVER8` (this project's reduction; docs/datasets.md gives the reasons)."""

# ---------------------------------------------------------------- EuroSAT, OpenSARUrban
EUROSAT_CLASSES: tuple[str, ...] = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
"""The 10 EuroSAT classes, in the (alphabetical) order of the class folders."""

EUROSAT_FILE_BANDS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B8A")
"""Band order inside the published EuroSAT_MS GeoTIFFs: B8A is the 13th band, not the 9th.

Sources: phelber/EuroSAT issue #7 (closed by the authors without disagreement); torchgeo
issue #2458 (checked in QGIS: band 9 has the 60 m texture of B09), fixed by torchgeo PR #2480
(``all_band_names`` ends with ``B8A``); ServiceNow/geo-bench issue #28.  The EuroSAT paper
lists the bands in wavelength order, which is not the file order."""

OPENSARURBAN_CLASSES: tuple[str, ...] = (
    "Airport",
    "DenseResidential",
    "GeneralResidential",
    "HighBuildings",
    "Highway",
    "Railway",
    "SingleBuilding",
    "StorageArea",
    "Vegetation",
    "WaterBody",
)
"""Default OpenSARUrban category folder names; copies that name them differently set ``classes``."""

# ---------------------------------------------------------------- EarthNet2021
EARTHNET_CHANNELS: tuple[str, ...] = ("B2", "B3", "B4", "B8A", "elevation", "cloud_mask")
"""Channels of ``context`` / ``target``, the same as ``synth-weather-forecast``'s."""

EARTHNET_WEATHER: tuple[str, ...] = (
    "precipitation",
    "sea_level_pressure",
    "temperature_mean",
    "temperature_min",
    "temperature_max",
)
"""``mesodynamic`` variables in file order (the names of ``synth-weather-forecast``)."""

EARTHNET_UNITS: dict[str, str] = {
    "precipitation": "mm/day = 50 x",
    "sea_level_pressure": "hPa = 200 x + 900",
    "temperature_mean": "degC = 50 (2 x - 1)",
    "temperature_min": "degC = 50 (2 x - 1)",
    "temperature_max": "degC = 50 (2 x - 1)",
}
"""EarthNet2021's documented conversion of the normalised ``mesodynamic`` values to physical units."""
