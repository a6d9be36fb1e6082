"""Band tables of the sensors the seed studies use, shared by dataset plugins (synthetic and real)."""

from __future__ import annotations

from xaibench.components import Band

S2_BANDS: tuple[Band, ...] = tuple(
    Band(name, wavelength, "s2", "reflectance")
    for name, wavelength in (
        ("B1", 442.7),
        ("B2", 492.4),
        ("B3", 559.8),
        ("B4", 664.6),
        ("B5", 704.1),
        ("B6", 740.5),
        ("B7", 782.8),
        ("B8", 832.8),
        ("B8A", 864.7),
        ("B9", 945.1),
        ("B10", 1373.5),
        ("B11", 1613.7),
        ("B12", 2202.4),
    )
)
"""The 13 Sentinel-2 MSI bands (Sentinel-2A central wavelengths, nm), in L1C file order; reflectance 0-1."""

S2_NAMES: tuple[str, ...] = tuple(b.name for b in S2_BANDS)

LANDCOVER8_CLASSES: tuple[str, ...] = (
    "Forest",
    "Shrubland",
    "Grassland",
    "Wetland",
    "Cropland",
    "Urban/Built-up",
    "Barren",
    "Water",
)
"""The 8 land-cover classes of the harmonization study (DFC2020's scheme without Savanna and Snow/Ice)."""
