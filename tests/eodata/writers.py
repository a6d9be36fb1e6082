"""Tiny copies of the published datasets, written in their formats (GeoTIFF with CRS, JSON, CSV, NPZ, Parquet).

Each writer follows the published format as an independent source states it (the dataset's paper,
its official repository, or torchgeo's reader), cited in a comment next to it; nothing here is taken
from the loaders' own constants.  OpenSARUrban is the exception: no source could be found (said there).

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
              centre: tuple[float, float] = CENTRE, nodata: float | None = None, compress: str | None = None) -> Path:
    """``data`` ``(C, H, W)`` or ``(H, W)`` as a GeoTIFF whose centre is ``centre`` (in ``crs`` units)."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    c, h, w = data.shape
    transform = from_origin(centre[0] - w * res / 2, centre[1] + h * res / 2, res, res)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    extra = {"compress": compress} if compress else {}
    with rasterio.open(path, "w", driver="GTiff", height=h, width=w, count=c, dtype=data.dtype.name,
                       crs=crs, transform=transform, nodata=nodata, **extra) as dst:
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


# DFC2020 (IEEE GRSS Data Fusion Contest 2020; the contest's baseline, github.com/lukasliebel/dfc2020_baseline,
# code/datasets.py): folders ROIs0000_validation/s2_validation and ROIs0000_test/s2_0, the s1_* / dfc_* files
# named by replacing "s2_" ("ROIs0000_validation_dfc_0_p30.tif"); S2 has 13 bands in the order its
# S2_BANDS_HR/MR/LR indices imply (B2 B3 B4 B8 = 2 3 4 8; B5 B6 B7 B8A B11 B12 = 5 6 7 9 12 13; B1 B9 B10 = 1 10 11,
# i.e. B8A 9th), S1 is dB (clipped to [-25, 0] there), band 1 of dfc holds the classes 1-10; 256x256 (SEN12MS).
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


# SEN12MS (Schmitt et al. 2019, ISPRS Annals IV-2/W7; github.com/schmitt-muc/SEN12MS README and
# classification/dataset.py): ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p30.tif with s1_1/ and lc_1/ alongside,
# 256x256; S2 L1C 13 bands with B8A 9th (S2_BANDS_LD = [2, 3, 4, 5, 6, 7, 8, 9, 12, 13] are B2-B8, B8A, B11, B12);
# S1 VV, VH in dB; lc 4 bands, band 1 IGBP (the paper's land-cover description).  Official hold-out split:
# splits/SEN12MS_holdOutScenes.txt, lines such as "ROIs1158_spring/s1_63" (scene folders).
# SEN12MS-CR (mediaTUM m1554803; PatrickTUM/SEN12MS-CR-TS util/dl_data.sh unpacks ROIs1158_spring_s2_cloudy.tar.gz):
# ROIs1158_spring_s2_cloudy/s2_cloudy_1/ROIs1158_spring_s2_cloudy_1_p30.tif.
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
# BigEarthNet v1.0 (Sumbul et al. 2019; BigEarthNet-MM, Sumbul et al. 2021) as torchgeo reads it
# (torchgeo/datasets/bigearthnet.py and its fixture tests/data/bigearthnet/v1/data.py): BigEarthNet-v1.0/<patch>/
# <patch>_B01.tif ... _B12.tif, _B8A.tif (uint16, one band per file, native size: 10 m bands 120 px, 20 m 60 px,
# 60 m 20 px) and <patch>_labels_metadata.json with a "labels" list of CORINE names; BigEarthNet-S1-v1.0/<s1 patch>/
# _VV.tif, _VH.tif (float32 dB) and a JSON whose "corresponding_s2_patch" pairs it ("mapping of Sentinel-1 to
# Sentinel-2 patches are within Sentinel-1 json files").  The official 19-class split files
# (git.tu-berlin.de/rsim/BigEarthNet-MM_19-classes_models splits/train.csv ...) hold "S2 name,S1 name" lines, no header.
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
    write_s2_bands(d, name, k, skip_bands)
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


# ----------------------------------------------------------------------------- BigEarthNet v2.0 (reBEN)
# The published layout, from sources independent of this project's loader:
# - the dataset's authors' pipeline, github.com/kai-tub/bigearthnet-pipeline: nu-scripts/ben-data-generator.nu
#   exports each S2 patch to <dir>/<S2 product>/<S2 product>_<col>_<row>/<name>_B..tif and each reference map to
#   <dir>/<S2 product>/<patch_id>/<patch_id>_reference_map.tif; patches are cut from every resolution's raster
#   (sentinel2_l2a_product_to_patches at 10/20/60 m, 1200 m side: 120/60/20 px); the reference maps are
#   rasterised CLC2018 `code_18` values as 16-bit unsigned ('16BUI', db_u2018_label_overlays_export.sql), 0
#   where no polygon lies; nu-scripts/ben-metadata-finalizer.sql writes metadata.parquet with columns
#   patch_id, labels (varchar[], 19-class names, sorted), split in ('train', 'validation', 'test'), country,
#   s1_name, s2v1_name, contains_seasonal_snow, contains_cloud_or_shadow, keeping only patches with neither;
#   ben-data-finalizer.nu puts each S1 patch under its product folder (<S1 product>/<s1_name>/..._VV.tif, _VH.tif);
# - torchgeo's BigEarthNetV2 reader (torchgeo/datasets/bigearthnet.py): folders BigEarthNet-S2, BigEarthNet-S1,
#   Reference_Maps and metadata.parquet under one root; patch_dir = patch_id without its last two fields
#   (S1: without its last three); maps hold CLC codes (111 ... 523).
# S1 values are float32 dB as in BigEarthNet v1 (the pipeline copies the v1 S1 patches).
V2_PATCHES = {
    # patch_id: (s1_name, split, quadrant CLC codes (top-left, top-right, bottom-left, bottom-right))
    "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57": ("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39", "train",
                                                           (312, 313, 324, 0)),
    "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_58": ("S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_40", "train",
                                                           (112, 211, 211, 111)),
    "S2B_MSIL2A_20180204T094159_N9999_R036_T33VWH_53_86": ("S1B_IW_GRDH_1SDV_20180204T165020_33VWH_53_86", "train",
                                                           (231, 412, 512, 122)),
    "S2B_MSIL2A_20170924T112109_N9999_R037_T29TNF_50_14": ("S1B_IW_GRDH_1SDV_20170924T052435_29TNF_50_14", "validation",
                                                           (523, 523, 331, 423)),
    "S2A_MSIL2A_20180413T112111_N9999_R037_T29SND_82_18": ("S1A_IW_GRDH_1SDV_20180413T052520_29SND_82_18", "test",
                                                           (223, 323, 223, 323)),
    "S2A_MSIL2A_20171002T112111_N9999_R037_T29UNV_63_64": ("S1A_IW_GRDH_1SDV_20171002T182022_29UNV_63_64", "test",
                                                           (311, 311, 244, 321)),
}
V2_ABSENT = ("S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_00_01", "S2B_MSIL2A_20180204T094159_N9999_R036_T33VWH_10_10")
"""Rows of metadata.parquet whose patches the copy lacks (a partial copy)."""
V2_SNOWY = "S2B_MSIL2A_20180204T094159_N9999_R036_T33VWH_53_87"
"""A patch folder present in the copy but not in metadata.parquet (a snowy / cloudy patch)."""
# CLC code -> the 19-class name of Sumbul et al. 2021 (None: dropped), written out here, not taken from the loader
V2_CLC19 = {111: "Urban fabric", 112: "Urban fabric", 122: None, 211: "Arable land", 223: "Permanent crops",
            231: "Pastures", 244: "Agro-forestry areas", 311: "Broad-leaved forest", 312: "Coniferous forest",
            313: "Mixed forest", 321: "Natural grassland and sparsely vegetated areas",
            323: "Moors, heathland and sclerophyllous vegetation", 324: "Transitional woodland, shrub",
            331: "Beaches, dunes, sands", 412: "Inland wetlands", 423: None, 512: "Inland waters", 523: "Marine waters"}


def v2_labels(codes: tuple[int, ...]) -> list[str]:
    return sorted({V2_CLC19[c] for c in codes if c and V2_CLC19[c]})


def write_s2_bands(d: Path, name: str, k: int, skip_bands: tuple[str, ...] = ()) -> None:
    """One GeoTIFF per band at its native size (B02 with an x gradient), DN ``ben_dn(band, k)``."""
    for band, px in BEN_BANDS.items():
        if band in skip_bands:
            continue
        data = np.full((px, px), ben_dn(band, k), dtype=np.uint16)
        if band == "B02":  # a gradient along x checks that bands are not transposed / flipped
            data = data + np.arange(px, dtype=np.uint16)[None, :]
        write_tif(d / f"{name}_{band}.tif", data, res=1200.0 / px)


def make_bigearthnet_v2(root: Path, absent: tuple[str, ...] = V2_ABSENT, s1: bool = True, maps: bool = True) -> dict[str, int]:
    """A reBEN copy in the published layout (see above); returns the patch -> index ``k`` of its DNs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ks: dict[str, int] = {}
    rows = []
    for k, (patch, (s1_name, split, codes)) in enumerate(sorted(V2_PATCHES.items())):
        product = patch.rsplit("_", 2)[0]
        write_s2_bands(root / "BigEarthNet-S2" / product / patch, patch, k)
        if s1:
            d = root / "BigEarthNet-S1" / s1_name.rsplit("_", 3)[0] / s1_name
            write_tif(d / f"{s1_name}_VV.tif", np.full((120, 120), -10.0 - k, dtype=np.float32))
            write_tif(d / f"{s1_name}_VH.tif", np.full((120, 120), -20.0 - k, dtype=np.float32))
        if maps:
            write_tif(root / "Reference_Maps" / product / patch / f"{patch}_reference_map.tif",
                      block_mask(codes, 120), compress="deflate")
        rows.append({"patch_id": patch, "labels": v2_labels(codes), "split": split, "country": "Austria",
                     "s1_name": s1_name, "s2v1_name": f"S2_v1_{k}", "contains_seasonal_snow": False,
                     "contains_cloud_or_shadow": False})
        ks[patch] = k
    snowy = root / "BigEarthNet-S2" / V2_SNOWY.rsplit("_", 2)[0] / V2_SNOWY
    write_s2_bands(snowy, V2_SNOWY, 99)
    for patch in absent:
        rows.append({"patch_id": patch, "labels": ["Arable land"], "split": "train", "country": "Austria",
                     "s1_name": "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_0_0", "s2v1_name": "S2_v1_x",
                     "contains_seasonal_snow": False, "contains_cloud_or_shadow": False})
    rows.sort(key=lambda r: r["patch_id"])
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("patch_id", pa.string()), ("labels", pa.list_(pa.string())), ("split", pa.string()), ("country", pa.string()),
        ("s1_name", pa.string()), ("s2v1_name", pa.string()), ("contains_seasonal_snow", pa.bool_()),
        ("contains_cloud_or_shadow", pa.bool_())]))  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "metadata.parquet", compression="zstd")
    return ks


# ben-ge (Mommert et al. 2023; github.com/HSG-AIML/ben-ge README): ben-ge*_meta.csv with patch_id, patch_id_s1,
# timestamp_s2, timestamp_s1, season_s2, season_s1, lon, lat; <patch_id>_esaworldcover.tif, one 8-bit band of ESA
# WorldCover codes.  The folder names inside the ben-ge-8k archive (sentinel-2/, esaworldcover/) are not documented
# there: they are this fixture's guess, and the loader finds the files at any depth.
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

# The band order inside the published EuroSAT_MS GeoTIFFs: B01 ... B12, then B8A as the 13th band.
# Sources (not this project's loader): phelber/EuroSAT issue #7 ("Is the 8A band placed as the 13th
# band?", answered with the order b1 ... b12, b8a and closed by the authors without disagreement);
# torchgeo issue #2458 (opened in QGIS, band 9 has 60 m texture, i.e. B09) fixed by torchgeo PR #2480,
# whose `all_band_names` ends with 'B8A'; ServiceNow/geo-bench issue #28 (same finding).
EUROSAT_FILE_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A")
# Central wavelengths (nm, Sentinel-2A, ESA) written as each band's DN: a channel read under the wrong
# name shows the other band's wavelength.
S2_WAVELENGTH_NM = {"B01": 443, "B02": 492, "B03": 560, "B04": 665, "B05": 704, "B06": 740, "B07": 783,
                    "B08": 833, "B8A": 865, "B09": 945, "B10": 1374, "B11": 1614, "B12": 2202}
# File profile and folder of the published archive (EuroSATallBands.zip), as torchgeo's fixture
# tests/data/eurosat/data.py reproduces it: uint16, 13 bands, 64x64, a UTM CRS (EPSG:326xx) with
# ~10 m pixels, LZW, under ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<i>.tif.
EUROSAT_DIR = Path("ds", "images", "remote_sensing", "otherDatasets", "sentinel_2", "tif")


def eurosat_dn(band: str, c: int) -> int:
    """DN of ``band`` in the fixture images of class ``c``: its wavelength (nm) + 500 c."""
    return S2_WAVELENGTH_NM[band] + 500 * c


def eurosat_centre(c: int, i: int) -> tuple[float, float]:
    """(lat, lon) of image ``i`` of class ``c``: on a 1-degree grid over Europe."""
    return 44.55 + c * 0.5 + i * 0.25, 2.55 + i + c * 0.5  # never on a 1-degree cell edge


def utm_centre(lat: float, lon: float) -> tuple[str, tuple[float, float]]:
    """The UTM zone's CRS and the easting / northing of (lat, lon)."""
    from rasterio.warp import transform

    crs = f"EPSG:{32600 + int((lon + 180) // 6) + 1}"
    xs, ys = transform("EPSG:4326", crs, [lon], [lat])
    return crs, (xs[0], ys[0])


def write_eurosat_tif(path: Path, c: int, lat: float, lon: float, order: tuple[str, ...] = EUROSAT_FILE_ORDER) -> Path:
    data = np.stack([np.full((64, 64), eurosat_dn(b, c), dtype=np.uint16) for b in order])
    crs, centre = utm_centre(lat, lon)
    return write_tif(path, data, res=10.0, crs=crs, centre=centre, compress="lzw")


def make_eurosat(root: Path, per_class: int = 3, csv: bool = True, classes: tuple[str, ...] = EUROSAT) -> Path:
    """The EuroSATallBands layout (13-band uint16 64x64 UTM GeoTIFFs, B8A 13th, see above) and a
    per-image CSV with ``worldclim_bio_*`` columns and a biogeographic region; returns the class folders' parent."""
    base = root / EUROSAT_DIR
    rows = ["filename,label,worldclim_bio_1,worldclim_bio_2,worldclim_bio_10,biogeographic_region"]
    for c, cls in enumerate(EUROSAT):
        if cls not in classes:
            continue
        for i in range(1, per_class + 1):
            lat, lon = eurosat_centre(c, i)
            write_eurosat_tif(base / cls / f"{cls}_{i}.tif", c, lat, lon)
            region = REGIONS[(i - 1) % len(REGIONS)]
            rows.append(f"{cls}_{i}.tif,{cls},{10 + c},{20 + i},{c * i},{region}")
    if csv:
        (root / "eurosat_meta.csv").write_text("\n".join(rows) + "\n")
    return base


def worldclim_value(var: int, lat: float, lon: float) -> float:
    """The value the fixture rasters hold at 1-degree cell (lat, lon): ``var * 100 + floor(lat) + floor(lon) / 100``."""
    return var * 100 + np.floor(lat) + np.floor(lon) / 100


# WorldClim 2.1 (Fick & Hijmans 2017; worldclim.org "Bioclimatic variables"): one GeoTIFF per variable named
# wc2.1_<res>_bio_<i>.tif (i = 1..19) and wc2.1_<res>_elev.tif, EPSG:4326, float32, -3.4e38 no data over oceans.
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
# OpenSARUrban (Zhao et al. 2020, IEEE JSTARS): the paper gives 33,358 Sentinel-1 patches of 10 categories, VV and
# VH, 100x100.  No independent description of the distributed files (folder names, naming, dtype) could be found,
# so this fixture is NOT checked against the published format; docs/datasets.md says so.
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
# EarthNet2021 (Requena-Mesa et al. 2021, CVPR; github.com/earthnet2021/earthnet-toolkit): the toolkit's scorer
# (earthnet/parallel_score.py, CubeCalculator.load_file) reads highresdynamic as (h, w, c, t), channels [:4] the
# blue, green, red and near-infrared reflectance and the last channel the mask (1 = masked); test tracks come as
# context/<tile>/context_<cube>.npz and target/<tile>/target_<cube>.npz (toolkit README: predictions mirror
# targets as <tile>/<cube>.npz).  mesodynamic (80, 80, 5, 150) daily weather and highresstatic (elevation) as the
# paper describes them; their exact dtypes were not checked against a file.
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
