"""Tiny copies of the published datasets, written in their formats (GeoTIFF with CRS, JSON, CSV, NPZ).

Pixel values are chosen so that tests can check the loaders against known answers:
Sentinel-2 band ``b`` (0-based, 13-band order) holds DN ``1000 + 100 b`` (+ the sample's
index ``k``), Sentinel-1 VV / VH hold ``-10 - k`` / ``-20 - k`` dB, land-cover masks are
made of known blocks.  Patches are georeferenced in UTM 32N with their centre at
E 500000 / N 5000000 (latitude 45.1535, longitude 9.0) unless said otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

S2_13 = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
CENTRE = (500000.0, 5000000.0)
CENTRE_LATLON = (45.1535, 9.0)  # on the central meridian; meridian arc 5000000 / 0.9996 m


def s2_dn(band: int, k: int = 0) -> int:
    return 1000 + 100 * band + k


def write_tif(path: Path, data: np.ndarray, res: float = 10.0, crs: str = "EPSG:32632",
              centre: tuple[float, float] = CENTRE, nodata: float | None = None) -> Path:
    """``data`` ``(C, H, W)`` or ``(H, W)`` as a GeoTIFF whose centre is ``centre`` (in ``crs`` units)."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    c, h, w = data.shape
    transform = from_origin(centre[0] - w * res / 2, centre[1] + h * res / 2, res, res)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with rasterio.open(path, "w", driver="GTiff", height=h, width=w, count=c, dtype=data.dtype.name,
                       crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data)
    return path


def corrupt(path: Path, keep: float = 400) -> None:
    """Truncate a file to its first ``keep`` bytes, or share of bytes if < 1 (a broken download)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data)) if keep < 1 else int(keep)])


# ----------------------------------------------------------------------------- SEN12MS family
def block_mask(codes: tuple[int, int, int, int], size: int = 256) -> np.ndarray:
    """Four quadrants (top-left, top-right, bottom-left, bottom-right) with the given codes."""
    m = np.empty((size, size), dtype=np.uint16)
    h = size // 2
    m[:h, :h], m[:h, h:], m[h:, :h], m[h:, h:] = codes
    return m


def s2_patch(k: int, size: int = 256, bands: int = 13) -> np.ndarray:
    return np.stack([np.full((size, size), s2_dn(b, k), dtype=np.uint16) for b in range(bands)])


def s1_patch(k: int, size: int = 256) -> np.ndarray:
    return np.stack([np.full((size, size), -10.0 - k, dtype=np.float32), np.full((size, size), -20.0 - k, dtype=np.float32)])


def write_sen12ms_triplet(folder_of: dict[str, Path], stem: str, k: int, label: np.ndarray, label_kind: str,
                          skip: tuple[str, ...] = ()) -> dict[str, Path]:
    """Write ``<stem with kind>`` files; ``stem`` has a ``{kind}`` placeholder."""
    out = {}
    if "s2" not in skip:
        out["s2"] = write_tif(folder_of["s2"] / f"{stem.format(kind='s2')}.tif", s2_patch(k))
    if "s1" not in skip:
        out["s1"] = write_tif(folder_of["s1"] / f"{stem.format(kind='s1')}.tif", s1_patch(k))
    if label_kind not in skip:
        data = label if label.ndim == 3 else label[None]
        out[label_kind] = write_tif(folder_of[label_kind] / f"{stem.format(kind=label_kind)}.tif", data)
    return out


DFC_PATCHES = {
    # subset, scene, patch: (DFC codes of the quadrants)
    ("validation", 0, 30): (1, 1, 10, 10),  # Forest, Water
    ("validation", 0, 31): (4, 6, 6, 6),  # Grassland 25 %, Cropland 75 %
    ("validation", 0, 32): (7, 7, 7, 3),  # Urban; Savanna ignored -> Urban only
    ("test", 0, 0): (2, 2, 9, 9),
    ("test", 0, 1): (5, 1, 1, 1),
    ("test", 1, 2): (10, 10, 10, 10),
    ("test", 1, 3): (6, 7, 1, 4),
    ("test", 2, 4): (9, 2, 2, 6),
}


def make_dfc2020(root: Path) -> dict[tuple, dict[str, Path]]:
    """A DFC2020 copy in the published layout (``ROIs0000_validation/s2_validation/...``, test in ``s2_0``)."""
    out = {}
    for k, ((subset, scene, patch), codes) in enumerate(sorted(DFC_PATCHES.items())):
        base = root / f"ROIs0000_{subset}"
        suffix = "validation" if subset == "validation" else "0"
        folders = {kind: base / f"{kind}_{suffix}" for kind in ("s1", "s2", "dfc")}
        out[(subset, scene, patch)] = write_sen12ms_triplet(
            folders, f"ROIs0000_{subset}_{{kind}}_{scene}_p{patch}", k, block_mask(codes), "dfc"
        )
    return out


SEN12MS_PATCHES = {
    ("ROIs1158", "spring", 1, 30): (1, 10, 12, 13),
    ("ROIs1158", "spring", 1, 31): (16, 16, 17, 17),
    ("ROIs1158", "spring", 2, 40): (8, 9, 10, 10),  # savannas ignored
    ("ROIs1868", "summer", 5, 10): (14, 14, 6, 11),
    ("ROIs1868", "summer", 6, 11): (4, 4, 4, 4),
    ("ROIs1970", "fall", 3, 7): (15, 15, 15, 15),  # all snow/ice: no usable pixel
    ("ROIs2017", "winter", 9, 9): (2, 7, 10, 11),
}


def make_sen12ms(root: Path, cr_root: Path | None = None, cloudy: tuple[tuple, ...] = ()) -> dict[tuple, dict[str, Path]]:
    """SEN12MS (``ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p30.tif``, lc 4 bands) and SEN12MS-CR cloudy S2."""
    out = {}
    for k, (key, codes) in enumerate(sorted(SEN12MS_PATCHES.items())):
        roi, season, scene, patch = key
        base = root / f"{roi}_{season}"
        folders = {kind: base / f"{kind}_{scene}" for kind in ("s1", "s2", "lc")}
        lc = np.stack([block_mask(codes)] + [np.full((256, 256), 7, np.uint16)] * 3)
        out[key] = write_sen12ms_triplet(folders, f"{roi}_{season}_{{kind}}_{scene}_p{patch}", k, lc, "lc")
        if cr_root is not None and key in cloudy:
            path = cr_root / f"{roi}_{season}_s2_cloudy" / f"s2_cloudy_{scene}" / f"{roi}_{season}_s2_cloudy_{scene}_p{patch}.tif"
            out[key]["s2_cloudy"] = write_tif(path, np.full((13, 256, 256), 9000, dtype=np.uint16))
    return out


# ----------------------------------------------------------------------------- BigEarthNet / ben-ge
BEN_PATCHES = {
    # S2 name: (S1 name, CORINE labels)
    "S2A_MSIL2A_20170613T101031_0_45": ("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39",
                                        ["Coniferous forest", "Mixed forest", "Transitional woodland/shrub"]),
    "S2A_MSIL2A_20170613T101031_0_46": ("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_40",
                                        ["Discontinuous urban fabric", "Non-irrigated arable land"]),
    "S2B_MSIL2A_20170924T93020_50_14": ("S1B_IW_GRDH_1SDV_20170924T052435_29TNF_50_14",
                                        ["Sea and ocean", "Beaches, dunes, sands"]),
    "S2B_MSIL2A_20180204T94160_53_86": ("S1B_IW_GRDH_1SDV_20180204T165020_33VWH_53_86",
                                        ["Pastures", "Peatbogs", "Water bodies"]),
    "S2A_MSIL2A_20180413T95032_82_18": ("S1A_IW_GRDH_1SDV_20180413T052520_29SND_82_18",
                                        ["Olive groves", "Sclerophyllous vegetation"]),
    "S2A_MSIL2A_20171002T112112_63_64": ("S1A_IW_GRDH_1SDV_20171002T182022_29UNV_63_64",
                                        ["Intertidal flats"]),  # no label of the 19 classes
}
BEN_BANDS = {"B01": 20, "B02": 120, "B03": 120, "B04": 120, "B05": 60, "B06": 60, "B07": 60, "B08": 120,
             "B8A": 60, "B09": 20, "B11": 60, "B12": 60}
BEN_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def ben_dn(band: str, k: int) -> int:
    return s2_dn(S2_13.index("B" + str(int(band[1:])) if band != "B8A" else "B8A"), k)


def write_ben_s2(folder: Path, name: str, labels: list[str], k: int, skip_bands: tuple[str, ...] = ()) -> Path:
    d = folder / name
    for band, px in BEN_BANDS.items():
        if band in skip_bands:
            continue
        # a gradient along x in B02 checks that bands are not transposed / flipped
        data = np.full((px, px), ben_dn(band, k), dtype=np.uint16)
        if band == "B02":
            data = data + np.arange(px, dtype=np.uint16)[None, :]
        write_tif(d / f"{name}_{band}.tif", data, res=1200.0 / px)
    meta = {"labels": labels, "coordinates": {"ulx": 499400, "uly": 5000600, "lrx": 500600, "lry": 4999400},
            "projection": "EPSG:32632", "tile_source": "S2A_MSIL1C_...", "acquisition_date": "2017-06-13 10:10:31"}
    (d / f"{name}_labels_metadata.json").write_text(json.dumps(meta))
    return d


def write_ben_s1(folder: Path, name: str, s2_name: str, labels: list[str], k: int) -> Path:
    d = folder / name
    write_tif(d / f"{name}_VV.tif", np.full((120, 120), -10.0 - k, dtype=np.float32))
    write_tif(d / f"{name}_VH.tif", np.full((120, 120), -20.0 - k, dtype=np.float32))
    meta = {"labels": labels, "corresponding_s2_patch": s2_name, "scene_source": "S1A_IW_GRDH_...",
            "acquisition_time": "2017-06-13T16:50:43", "coordinates": {}, "projection": "EPSG:32632"}
    (d / f"{name}_labels_metadata.json").write_text(json.dumps(meta))
    return d


def make_bigearthnet(s2_root: Path, s1_root: Path | None = None) -> dict[str, int]:
    """BigEarthNet-v1.0 (S2 folders) and BigEarthNet-S1-v1.0; returns the patch -> index ``k``."""
    ks = {}
    for k, (name, (s1, labels)) in enumerate(sorted(BEN_PATCHES.items())):
        write_ben_s2(s2_root, name, labels, k)
        if s1_root is not None:
            write_ben_s1(s1_root, s1, name, labels, k)
        ks[name] = k
    return ks


WORLDCOVER_BLOCKS = {
    # S2 name: quadrant WorldCover codes
    "S2A_MSIL2A_20170613T101031_0_45": (10, 10, 10, 20),
    "S2A_MSIL2A_20170613T101031_0_46": (50, 40, 40, 40),
    "S2B_MSIL2A_20170924T93020_50_14": (80, 80, 60, 0),  # 0: no data, ignored
    "S2B_MSIL2A_20180204T94160_53_86": (30, 90, 95, 80),
    "S2A_MSIL2A_20180413T95032_82_18": (100, 40, 20, 70),  # moss -> grassland, snow ignored
    "S2A_MSIL2A_20171002T112112_63_64": (80, 80, 80, 80),
}


def make_benge(root: Path) -> dict[str, int]:
    """ben-ge-8k-like: ``sentinel-2/``, ``sentinel-1/``, ``esaworldcover/`` and ``ben-ge-8k_meta.csv`` under one root."""
    ks = make_bigearthnet(root / "sentinel-2", root / "sentinel-1")
    rows = ["patch_id,patch_id_s1,timestamp_s2,timestamp_s1,season_s2,season_s1,lon,lat"]
    for name, k in ks.items():
        m = block_mask(WORLDCOVER_BLOCKS[name], 120).astype(np.uint8)
        write_tif(root / "esaworldcover" / f"{name}_esaworldcover.tif", m)
        rows.append(f"{name},{BEN_PATCHES[name][0]},2017-06-13,2017-06-13,0.9,0.9,{10 + k},{50 + k}")
    (root / "ben-ge-8k_meta.csv").write_text("\n".join(rows) + "\n")
    return ks


# ----------------------------------------------------------------------------- EuroSAT + WorldClim
EUROSAT = ("AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture", "PermanentCrop",
           "Residential", "River", "SeaLake")
REGIONS = ("alpine", "atlantic", "continental")


def eurosat_centre(c: int, i: int) -> tuple[float, float]:
    """(lat, lon) of image ``i`` of class ``c``: on a 1-degree grid over Europe."""
    return 44.55 + c * 0.5 + i * 0.25, 2.55 + i + c * 0.5  # never on a 1-degree cell edge


def make_eurosat(root: Path, per_class: int = 3, csv: bool = True) -> Path:
    """``EuroSAT_MS/<Class>/<Class>_<i>.tif`` (13 bands, 64x64, uint16, EPSG:4326-georeferenced centres) and a
    per-image CSV with ``worldclim_bio_*`` columns and a biogeographic region."""
    base = root / "EuroSAT_MS"
    rows = ["filename,label,worldclim_bio_1,worldclim_bio_2,worldclim_bio_10,biogeographic_region"]
    for c, cls in enumerate(EUROSAT):
        for i in range(1, per_class + 1):
            lat, lon = eurosat_centre(c, i)
            write_tif(base / cls / f"{cls}_{i}.tif", s2_patch(c, 64), res=0.0001, crs="EPSG:4326", centre=(lon, lat))
            region = REGIONS[(i - 1) % len(REGIONS)]
            rows.append(f"{cls}_{i}.tif,{cls},{10 + c},{20 + i},{c * i},{region}")
    if csv:
        (root / "eurosat_meta.csv").write_text("\n".join(rows) + "\n")
    return base


def worldclim_value(var: int, lat: float, lon: float) -> float:
    """The value the fixture rasters hold at 1-degree cell (lat, lon): ``var * 100 + floor(lat) + floor(lon) / 100``."""
    return var * 100 + np.floor(lat) + np.floor(lon) / 100


def make_worldclim(directory: Path, ocean: tuple[int, int] | None = None) -> Path:
    """WorldClim 2.1-named 1-degree rasters over 40-60 N, 0-20 E (``wc2.1_10m_bio_<i>.tif``, ``wc2.1_10m_elev.tif``);
    ``ocean``: a (lat, lon) cell set to no-data in every raster."""
    lats = np.arange(59, 39, -1) + 0.5
    lons = np.arange(0, 20) + 0.5
    for var in range(1, 21):
        grid = np.array([[worldclim_value(var, la, lo) for lo in lons] for la in lats], dtype=np.float32)
        if ocean is not None:
            grid[59 - ocean[0], ocean[1]] = -3.4e38
        name = f"wc2.1_10m_bio_{var}.tif" if var <= 19 else "wc2.1_10m_elev.tif"
        write_tif(directory / name, grid, res=1.0, crs="EPSG:4326", centre=(10.0, 50.0), nodata=-3.4e38)
    return directory


# ----------------------------------------------------------------------------- OpenSARUrban
def make_opensarurban(root: Path, classes: tuple[str, ...], per_class: int = 3, layout: str = "folders",
                      dtype: str = "float32") -> Path:
    """One folder per category with ``VV/`` and ``VH/`` subfolders (``layout="folders"``) or
    ``<patch>_VV.tif`` / ``<patch>_VH.tif`` files (``"suffix"``); 100x100, no georeferencing needed.

    Linear intensity ``10^((-10 - c) / 10)`` (VV) and ``10^((-20 - c) / 10)`` (VH) for class ``c``."""
    for c, cls in enumerate(classes):
        for i in range(per_class):
            for pol, db in (("VV", -10.0 - c), ("VH", -20.0 - c)):
                value = 10 ** (db / 10) if dtype.startswith("float") else 100 + c
                data = np.full((100, 100), value, dtype=dtype)
                path = root / cls / pol / f"{cls}_{i:04d}.tif" if layout == "folders" else root / cls / f"{cls}_{i:04d}_{pol}.tif"
                write_tif(path, data)
    return root


# ----------------------------------------------------------------------------- EarthNet2021
def earthnet_cube(k: int, frames: int, size: int, days: int | None = None, channels: int = 7) -> dict[str, np.ndarray]:
    """Arrays of one minicube: reflectance ``0.1 + 0.01 c + 0.001 t`` in channel ``c`` of frame ``t`` (+ k/1000),
    the mask (last channel) set on odd frames' top row; meso weather ``0.1 v + t / 10000``."""
    days = days if days is not None else frames * 5
    t = np.arange(frames, dtype=np.float32)
    hrd = np.zeros((size, size, channels, frames), dtype=np.float16)
    for c in range(4):
        hrd[:, :, c, :] = 0.1 + 0.01 * c + 0.001 * t + k / 1000
    hrd[0, :, -1, 1::2] = 1.0
    meso = np.zeros((80, 80, 5, days), dtype=np.float16)
    for v in range(5):
        meso[:, :, v, :] = 0.1 * (v + 1) + np.arange(days) / 10000
    return {
        "highresdynamic": hrd,
        "highresstatic": np.full((size, size, 1), 0.3 + k / 100, dtype=np.float16),
        "mesodynamic": meso,
        "mesostatic": np.full((80, 80, 1), 0.3, dtype=np.float16),
    }


def make_earthnet(root: Path, n_train: int = 6, n_test: int = 3, size: int = 16) -> Path:
    """``train/<tile>/<cube>.npz`` (30 frames) and ``iid_test_split/{context,target}/<tile>/..._<cube>.npz`` (10 + 20)."""
    for k in range(n_train):
        tile = ("29SND", "32UMC")[k % 2]
        path = root / "train" / tile / f"{tile}_2018-01-28_2018-11-23_{k}_{k + 128}_0_128.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **earthnet_cube(k, 30, size))
    for k in range(n_test):
        tile = "33UUP"
        cube = f"{tile}_2018-03-01_2018-08-28_{k}_{k + 128}_0_128"
        full = earthnet_cube(100 + k, 30, size)
        ctx = dict(full, highresdynamic=full["highresdynamic"][..., :10])
        tgt = {"highresdynamic": full["highresdynamic"][..., 10:]}
        for part, arrays in (("context", ctx), ("target", tgt)):
            path = root / "iid_test_split" / part / tile / f"{part}_{cube}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, **arrays)
    return root
