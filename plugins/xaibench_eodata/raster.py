"""Reading GeoTIFFs (and any GDAL raster) through rasterio, with checks that name the file.

Every failure becomes a :class:`~.errors.DataError` with the path: a file that does not
exist, that GDAL cannot open or decode (corrupt, truncated), or whose band count, size or
dtype differs from what the published format has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadFileError, MissingDataError


@dataclass
class Raster:
    """``data`` ``(bands, H, W)``; ``lat`` / ``lon`` (degrees, WGS84) of the centre, NaN without georeferencing."""

    data: np.ndarray
    lat: float = math.nan
    lon: float = math.nan
    dtype: str = ""


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or of its cause's (rasterio wraps GDAL's error as the cause)."""
    cause = exc.__cause__ or exc.__context__
    for e in (cause, exc) if cause is not None and "previous exception" in str(exc) else (exc,):
        text = str(e).strip().splitlines()
        if text:
            return text[0]
    return type(exc).__name__


def read_raster(
    path: str | Path,
    *,
    count: int | None = None,
    size: tuple[int, int] | None = None,
    dtypes: Sequence[str] | None = None,
    bands: Sequence[int] | None = None,
    out_size: tuple[int, int] | None = None,
    resampling: str = "bilinear",
    centre: bool = False,
) -> Raster:
    """Read ``path`` and check it.

    ``count`` / ``size`` ``(H, W)`` / ``dtypes``: what the file must have (``None``: anything);
    ``bands``: 1-based band indices to read (all by default); ``out_size``: resample to
    ``(H, W)`` with ``resampling`` (a :class:`rasterio.enums.Resampling` name) while reading;
    ``centre``: also compute the WGS84 latitude / longitude of the raster's centre.
    """
    import rasterio
    from rasterio.enums import Resampling

    p = Path(path)
    if not p.is_file():
        raise MissingDataError(p, "file does not exist")
    try:
        with rasterio.open(p) as src:
            if count is not None and src.count != count:
                raise BadFileError(p, f"has {src.count} bands, expected {count}")
            if size is not None and (src.height, src.width) != tuple(size):
                raise BadFileError(p, f"is {src.height}x{src.width} px, expected {size[0]}x{size[1]}")
            dtype = src.dtypes[0]
            if dtypes is not None and dtype not in dtypes:
                raise BadFileError(p, f"has dtype {dtype}, expected {' or '.join(dtypes)}")
            indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
            if max(indexes) > src.count:
                raise BadFileError(p, f"has {src.count} bands, band {max(indexes)} requested")
            if out_size is not None and tuple(out_size) != (src.height, src.width):
                data = src.read(indexes, out_shape=(len(indexes), *out_size), resampling=getattr(Resampling, resampling))
            else:
                data = src.read(indexes)
            lat, lon = centre_latlon(src) if centre else (math.nan, math.nan)
    except BadFileError:
        raise
    except Exception as exc:  # rasterio / GDAL: not a raster, truncated or corrupt blocks
        raise BadFileError(p, f"cannot read raster: {_first_line(exc)}") from None
    return Raster(data, lat, lon, dtype)


def centre_latlon(src) -> tuple[float, float]:
    """Latitude and longitude (WGS84, degrees) of the centre of an open rasterio dataset."""
    if src.crs is None or src.transform.is_identity:
        return math.nan, math.nan
    from rasterio.warp import transform

    t, col, row = src.transform, src.width / 2.0, src.height / 2.0
    x, y = t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f
    if src.crs.is_geographic and src.crs.to_epsg() == 4326:
        return float(y), float(x)
    lon, lat = transform(src.crs, "EPSG:4326", [x], [y])
    return float(lat[0]), float(lon[0])


def reflectance(dn: np.ndarray, scale: float, clip: bool, offset: float = 0.0) -> np.ndarray:
    """Sentinel-2 digital numbers -> reflectance ``(DN + offset) / scale`` (float32), clipped to [0, 1] when ``clip``."""
    x = dn.astype(np.float32)
    if offset:
        x += np.float32(offset)
    x /= np.float32(scale)
    if clip:
        np.clip(x, 0.0, 1.0, out=x)
    return x


def scale_db(db: np.ndarray, db_range: tuple[float, float]) -> np.ndarray:
    """Backscatter in dB -> ``(dB - lo) / (hi - lo)`` clipped to [0, 1] (float32); NaN (no data) -> 0."""
    lo, hi = db_range
    x = (np.nan_to_num(db.astype(np.float32), nan=lo) - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(x, 0.0, 1.0, out=x)
