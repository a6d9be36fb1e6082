"""Bioclimatic vectors at points: nearest-neighbour samples of WorldClim 2.1 BIO GeoTIFFs and an elevation raster."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import BadFileError, MissingDataError

BIO_FILE = re.compile(r"^wc2\.1_[0-9.]+[ms]_bio_(\d{1,2})\.tif$")
ELEV_FILE = re.compile(r"^wc2\.1_[0-9.]+[ms]_elev\.tif$")
AUX_NAMES: tuple[str, ...] = tuple(f"BIO{i}" for i in range(1, 20)) + ("elevation",)
AUX_UNITS: tuple[str, ...] = (
    "degC", "degC", "%", "degC x 100", "degC", "degC", "degC", "degC", "degC", "degC", "degC",
    "mm", "mm", "mm", "%", "mm", "mm", "mm", "mm", "m",
)  # fmt: skip
"""WorldClim 2.1 units of BIO1..BIO19 (temperatures in degC, BIO4 standard deviation x 100) and elevation (m)."""


def worldclim_files(directory: str | Path, elevation_file: str | Path | None) -> list[Path]:
    """The 19 BIO rasters in order (``wc2.1_<res>_bio_<i>.tif``) and the elevation raster last."""
    from .base import require_dir, require_file

    d = require_dir(directory, "worldclim_dir")
    bio: dict[int, Path] = {}
    elev: list[Path] = []
    for f in sorted(d.iterdir()):
        m = BIO_FILE.match(f.name)
        if m:
            bio.setdefault(int(m[1]), f)
        elif ELEV_FILE.match(f.name):
            elev.append(f)
    missing = [i for i in range(1, 20) if i not in bio]
    if missing:
        raise MissingDataError(d, f"lacks WorldClim 2.1 BIO rasters {missing} (wc2.1_<res>_bio_<i>.tif)")
    if elevation_file is not None:
        elev = [require_file(elevation_file, "elevation_file")]
    if not elev:
        raise MissingDataError(d, "has no elevation raster (wc2.1_<res>_elev.tif); set elevation_file")
    return [bio[i] for i in range(1, 20)] + [elev[0]]


def sample_nearest(path: Path, lat: np.ndarray, lon: np.ndarray, search_px: int) -> np.ndarray:
    """Value of the pixel containing each point of a lat/lon raster, ``(N,)`` float64.

    A point on a no-data pixel (coasts: WorldClim is land-only) takes the nearest valid pixel
    within ``search_px`` pixels (Chebyshev distance, then Euclidean); NaN when there is none.
    Only the windows around the points are read, so 30 arc-second global rasters are fine.
    """
    import rasterio
    from rasterio.windows import Window

    try:
        with rasterio.open(path) as src:
            if src.crs is not None and not src.crs.is_geographic:
                raise BadFileError(path, f"is in {src.crs}, expected geographic lat/lon (WorldClim: EPSG:4326)")
            nodata = src.nodata
            rows, cols = rasterio.transform.rowcol(src.transform, lon, lat)
            out = np.full(len(lat), np.nan)
            r = search_px
            for i, (row, col) in enumerate(zip(np.atleast_1d(rows), np.atleast_1d(cols))):
                win = Window(col - r, row - r, 2 * r + 1, 2 * r + 1)
                block = src.read(1, window=win, boundless=True, fill_value=nodata if nodata is not None else np.nan)
                block = block.astype(np.float64)
                valid = np.isfinite(block) & ((block != nodata) if nodata is not None else True) & (block > -1e30)
                if valid[r, r]:
                    out[i] = block[r, r]
                elif valid.any():
                    yy, xx = np.nonzero(valid)
                    d = np.maximum(abs(yy - r), abs(xx - r)) * 1e6 + (yy - r) ** 2 + (xx - r) ** 2
                    k = int(np.argmin(d))
                    out[i] = block[yy[k], xx[k]]
    except BadFileError:
        raise
    except Exception as exc:
        raise BadFileError(path, f"cannot sample raster: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return out


def sample_worldclim(files: list[Path], lat: np.ndarray, lon: np.ndarray, search_px: int = 5) -> np.ndarray:
    """``(N, 20)`` float64: BIO1..BIO19 and elevation at each point (NaN where no valid pixel is near)."""
    return np.stack([sample_nearest(f, lat, lon, search_px) for f in files], axis=1)
