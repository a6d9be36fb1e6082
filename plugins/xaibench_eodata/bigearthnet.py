"""``bigearthnet`` (v1, S2 and S1) and ``ben-ge``: a folder per patch, a GeoTIFF per band, JSON labels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc
from xaibench.capabilities import FRACTIONS, GEO, MASK
from xaibench_eo.capabilities import LANDCOVER

from .base import Index, Problem, RealDataset, Record, SkipSample, Sources, suffix_filter
from .errors import LabelError
from .params import FusionParams, check_bands, check_class_map, distinct
from .tables import (
    BEN19,
    BEN43_TO_19,
    LANDCOVER8,
    S1_POLARIZATIONS,
    S2_L2A_NAMES,
    S2_RESOLUTION_M,
    WORLDCOVER,
    WORLDCOVER_TO_8,
    bigearthnet_suffix,
)

if TYPE_CHECKING:
    import numpy as np

SIZE = 120
S2_DIR = re.compile(r"^S2[AB]_MSIL2A_\d{8}T\d{5,6}_\d+_\d+$")
S1_DIR = re.compile(r"^S1[AB]_IW_GRDH_1SDV_\d{8}T\d{6}_[0-9A-Z]+_\d+_\d+$")
S2_DTYPES = ("uint16", "int16")
S1_DTYPES = ("float32", "float64")


class BigEarthNetParams(FusionParams):
    """Sensors, bands, Sentinel-1 pairing and the patches to leave out."""

    s1_root: str | None = Field(None, description="BigEarthNet-S1 v1.0 copy (None with modalities [s1]: root is the S1 copy)")
    modalities: tuple[Literal["s2", "s1"], ...] = Field(("s2",), description="sensors in x, in this order")
    bands: tuple[str, ...] | None = Field(None, description="Sentinel-2 bands, in this order (None: the 12 L2A bands)")
    polarizations: tuple[Literal["VV", "VH"], ...] = Field(S1_POLARIZATIONS, description="Sentinel-1 bands, in this order")
    resampling: Literal["bilinear", "nearest", "cubic"] = Field(
        "bilinear", description="how 20 m and 60 m bands are brought to 120x120"
    )
    pairs_file: str | None = Field(
        None, description="CSV of S2 name, S1 name per line; without it pairs come from the S1 metadata JSONs"
    )
    exclude_files: tuple[str, ...] = Field(
        (), description="CSV/text files of patches to leave out (patches_with_cloud_and_shadow.csv, ..._seasonal_snow.csv)"
    )
    drop_unlabelled: bool = Field(True, description="drop patches with no label of the 19-class nomenclature")

    @field_validator("modalities", "polarizations")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return distinct(v)

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else check_bands(v, S2_L2A_NAMES, "bands (Level-2A, no B10)")

    @model_validator(mode="after")
    def _s1(self) -> BigEarthNetParams:
        if "s1" in self.modalities and "s2" in self.modalities and not self.s1_root:
            raise ValueError("s2 and s1 together need s1_root (the BigEarthNet-S1 copy; root is the S2 one)")
        return self

    def s2_bands(self) -> tuple[str, ...]:
        return self.bands or S2_L2A_NAMES


class _BigEarthNetFamily(RealDataset):
    """Reading BigEarthNet patch folders: bands resampled to 120x120, labels from ``<patch>_labels_metadata.json``."""

    params: BigEarthNetParams

    def _units(self) -> dict[str, Any]:
        p = self.params
        return {
            "units": p.scaling_units(),
            "s1_db_range": list(p.s1_db_range),
            "resampling": f"20 m and 60 m bands to 120x120, {p.resampling}",
        }  # fmt: skip

    # -- indexing ------------------------------------------------------------------
    def _s1_pairs(self, s1_dirs: dict[str, Path], problems: list[Problem]) -> dict[str, str]:
        """S2 name -> S1 name, from ``pairs_file`` or each S1 patch's ``corresponding_s2_patch``."""
        from .tabular import read_json

        p = self.params
        pairs: dict[str, str] = {}
        if p.pairs_file:
            from .base import require_file

            for line in require_file(p.pairs_file, "pairs_file").read_text().splitlines():
                cells = [c.strip().strip('"') for c in line.split(",")]
                if len(cells) >= 2 and S2_DIR.match(cells[0]) and S1_DIR.match(cells[1]):
                    pairs[cells[0]] = cells[1]
            if not pairs:
                raise LabelError(p.pairs_file, "no 'S2 name, S1 name' line found")
            return pairs
        for s1, d in s1_dirs.items():
            path = d / f"{s1}_labels_metadata.json"
            try:
                meta = read_json(path)
                s2 = meta["corresponding_s2_patch"]
            except LabelError as exc:
                problems.append(Problem(exc.path, exc.message, "label", s1))
                continue
            except (KeyError, TypeError):
                problems.append(Problem(str(path), "has no 'corresponding_s2_patch'", "label", s1))
                continue
            pairs[str(s2)] = s1
        return pairs

    def sources(self) -> Sources:
        p = self.params
        roots = [Path(r).expanduser() for r in self._roots() if r]
        side = [f for f in (p.pairs_file, *p.exclude_files) if f]
        return Sources(tuple(roots), suffix_filter(".tif", ".tiff", ".json", ".csv"), (*side, *self.split_side_files()))

    def _roots(self) -> list[str | None]:
        p = self.params
        return [p.root if "s2" in p.modalities or not p.s1_root else None, p.s1_root if "s1" in p.modalities else None]

    def _excluded(self) -> set[str]:
        from .splits import read_id_list

        out: set[str] = set()
        for f in self.params.exclude_files:
            out.update(read_id_list(f))
        return out

    # -- reading --------------------------------------------------------------------
    def _s2_offset(self) -> float:
        """DN offset added before scaling (BOA_ADD_OFFSET); BigEarthNet v1 has none."""
        return 0.0

    def _read_s2(self, folder: Path, name: str) -> tuple[np.ndarray, float, float]:
        import math

        import numpy as np

        from .raster import read_raster, reflectance

        p = self.params
        out = np.empty((len(p.s2_bands()), SIZE, SIZE), dtype=np.float32)
        lat = lon = math.nan
        for i, band in enumerate(p.s2_bands()):
            native = SIZE * 10 // S2_RESOLUTION_M[band]
            r = read_raster(
                folder / f"{name}_{bigearthnet_suffix(band)}.tif",
                count=1, size=(native, native), dtypes=S2_DTYPES,
                out_size=(SIZE, SIZE), resampling=p.resampling, centre=(i == 0),
            )  # fmt: skip
            out[i] = reflectance(r.data[0], p.s2_scale, p.clip_reflectance, self._s2_offset())
            if i == 0:
                lat, lon = r.lat, r.lon
        return out, lat, lon

    def _read_s1(self, folder: Path, name: str) -> tuple[np.ndarray, float, float]:
        import numpy as np

        from .raster import read_raster, scale_db

        p = self.params
        rasters = [
            read_raster(folder / f"{name}_{pol}.tif", count=1, size=(SIZE, SIZE), dtypes=S1_DTYPES, centre=(i == 0))
            for i, pol in enumerate(p.polarizations)
        ]
        x = np.concatenate([scale_db(r.data, p.s1_db_range) for r in rasters], axis=0)
        return x, rasters[0].lat, rasters[0].lon

    def _read_x(self, record: Record) -> tuple[np.ndarray, float, float]:
        import math

        import numpy as np

        parts, lat, lon = [], math.nan, math.nan
        for m in self.params.modalities:
            if m == "s2":
                x, la, lo = self._read_s2(record.paths["s2"], record.key)
            else:
                x, la, lo = self._read_s1(record.paths["s1"], record.extra["s1_name"])
            parts.append(x)
            if math.isnan(lat):
                lat, lon = la, lo
        return np.concatenate(parts, axis=0), lat, lon

    def _ben19(self, record: Record) -> np.ndarray:
        """Multi-hot ``(19,)`` float32 from the patch's CORINE labels (S2 JSON, else the S1 one)."""
        import numpy as np

        from .tabular import read_json

        if "s2" in record.paths:
            path = record.paths["s2"] / f"{record.key}_labels_metadata.json"
        else:
            path = record.paths["s1"] / f"{record.extra['s1_name']}_labels_metadata.json"
        meta = read_json(path)
        labels = meta.get("labels") if isinstance(meta, dict) else None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise LabelError(path, "has no 'labels' list of CORINE label names")
        y = np.zeros(len(BEN19), dtype=np.float32)
        for name in labels:
            if name not in BEN43_TO_19:
                raise LabelError(path, f"unknown label {name!r} (not one of BigEarthNet's 43 CORINE labels)")
            j = BEN43_TO_19[name]
            if j is not None:
                y[j] = 1.0
        if not y.any() and self.params.drop_unlabelled:
            raise SkipSample(f"{path}: no label of the 19-class nomenclature ({', '.join(labels) or 'no labels'})")
        return y


class BigEarthNet(_BigEarthNetFamily):
    """BigEarthNet v1 (S2, and S1 through BigEarthNet-MM): 120x120 patches, 19-class multi-labels.

    ``root`` holds one folder per Sentinel-2 patch (``S2A_MSIL2A_20170613T101031_0_45/``) with a
    GeoTIFF per band (``..._B01.tif`` 20x20 px, ``..._B05.tif`` 60x60, ``..._B02.tif``
    120x120) and ``..._labels_metadata.json``; the 20 m and 60 m bands are resampled to
    120x120 (bilinear).  ``s1_root`` holds the BigEarthNet-S1 folders (``..._VV.tif``,
    ``..._VH.tif``), paired through ``corresponding_s2_patch`` in their metadata.  The 43
    CORINE labels are mapped to the 19-class nomenclature.  Arrays per split:
    ``x (N, C, 120, 120)`` float32, ``labels (N, 19)`` float32, ``lat``/``lon (N,)`` float32,
    ``id (N,)`` str (the S2 patch name).  Official splits: ``split_files`` (train.csv...).
    """

    name: ClassVar[str] = "bigearthnet"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[BigEarthNetParams]] = BigEarthNetParams
    params: BigEarthNetParams
    layout = "<root>/S2A_MSIL2A_20170613T101031_0_45/S2A_MSIL2A_20170613T101031_0_45_B01.tif ... _labels_metadata.json"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=BEN19,
            bands=self.params.stacked_bands(),
            modalities=tuple(p.modalities),
            provides=frozenset({GEO}),
            extra={**self._units(), "labels": "CORINE 43 -> BigEarthNet-19 (Sumbul et al. 2021)"},
        )

    def index(self) -> Index:
        from .base import require_dir
        from .scan import find_dirs

        p = self.params
        root = self.root()
        problems: list[Problem] = []
        s2_dirs = find_dirs(root, S2_DIR.match) if "s2" in p.modalities else {}
        s1_dirs: dict[str, Path] = {}
        pairs: dict[str, str] = {}
        if "s1" in p.modalities:  # S1 alone: root may be the S1 copy itself
            s1_root = require_dir(p.s1_root, "BigEarthNet-S1 s1_root") if p.s1_root else root
            s1_dirs = find_dirs(s1_root, S1_DIR.match)
            pairs = self._s1_pairs(s1_dirs, problems)
        excluded = self._excluded()
        records: list[Record] = []
        keys = sorted(s2_dirs) if "s2" in p.modalities else sorted(pairs)
        for key in keys:
            s1 = pairs.get(key)
            if key in excluded or (s1 is not None and s1 in excluded):
                continue
            rec = Record(key=key, group=key.rsplit("_", 2)[0])
            if "s2" in p.modalities:
                rec.paths["s2"] = s2_dirs[key]
            if "s1" in p.modalities:
                if s1 is None or s1 not in s1_dirs:
                    where = s2_dirs.get(key, key)
                    problems.append(Problem(str(where), "has no Sentinel-1 counterpart under s1_root", "pair", key))
                    continue
                rec.paths["s1"] = s1_dirs[s1]
                rec.extra["s1_name"] = s1
                rec.aliases = (s1,)
            records.append(rec)
        if "s2" in p.modalities and "s1" in p.modalities:
            for s2, s1 in sorted(pairs.items()):
                if s2 not in s2_dirs and s1 in s1_dirs and s2 not in excluded and s1 not in excluded:
                    problems.append(Problem(str(s1_dirs[s1]), f"pairs with S2 patch {s2}, which is not under root", "pair", s2))
        if not records and not problems:
            raise self.nothing_found(root if "s2" in p.modalities else Path(p.s1_root or root), "BigEarthNet patch folders")
        return Index(records, problems, excluded)

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        y = self._ben19(record)
        x, lat, lon = self._read_x(record)
        return {"x": x, "labels": y, "lat": np.float32(lat), "lon": np.float32(lon)}


# ----------------------------------------------------------------------------- ben-ge
class BenGeParams(BigEarthNetParams):
    """ben-ge: the WorldCover maps and metadata under ``root``; BigEarthNet S2/S1 copies wherever they are."""

    s2_root: str | None = Field(None, description="BigEarthNet-S2 copy (None: searched under root, as in ben-ge-8k)")
    meta_csv: str | None = Field(None, description="ben-ge_meta.csv (None: the *_meta.csv found under root)")
    labels: Literal["worldcover", "bigearthnet-19"] = Field(
        "worldcover", description="image labels from the WorldCover map (8 classes) or BigEarthNet's JSON (19)"
    )
    label_threshold: float = Field(0.1, ge=0.0, lt=1.0, description="worldcover labels: class share above this")
    class_map: dict[int, str | None] | None = Field(
        None, description="WorldCover code -> class name (null: ignored); None: the documented default table"
    )

    @field_validator("class_map")
    @classmethod
    def _class_map(cls, v: dict[int, str | None] | None) -> dict[int, str | None] | None:
        return check_class_map(v)

    @model_validator(mode="after")
    def _s1(self) -> BenGeParams:
        return self  # ben-ge-8k ships the S1 folders under root: s1_root is optional


class BenGe(_BigEarthNetFamily):
    """ben-ge: BigEarthNet patches with ESA WorldCover maps (the mask, 11 classes reduced to 8).

    ``root`` holds ``<patch_id>_esaworldcover.tif`` (120x120, uint8 WorldCover codes) and
    ``ben-ge*_meta.csv`` (``patch_id``, ``patch_id_s1``, ``lon``, ``lat``); the Sentinel-2 /
    Sentinel-1 patch folders are BigEarthNet's (``s2_root`` / ``s1_root``, by default under
    ``root`` as in ben-ge-8k).  Arrays per split: ``x (N, C, 120, 120)`` float32 (as
    ``bigearthnet``), ``landcover (N, 120, 120)`` int64 (WorldCover reduced to the 8 classes,
    -1 ignored), ``lat``/``lon``, ``id``; with ``labels: worldcover`` (default) also ``mask``
    (= ``landcover``), ``fractions``, ``labels (N, 8)`` (share > ``label_threshold``) and
    ``label``; with ``labels: bigearthnet-19`` ``labels (N, 19)`` from the JSON files.
    """

    name: ClassVar[str] = "ben-ge"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[BenGeParams]] = BenGeParams
    params: BenGeParams
    layout = "<root>/esaworldcover/<patch_id>_esaworldcover.tif, <root>/ben-ge_meta.csv and BigEarthNet patch folders"

    def _worldcover(self) -> bool:
        return self.params.labels == "worldcover"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        table = p.class_map if p.class_map is not None else WORLDCOVER_TO_8
        extra = {
            **self._units(),
            "labels": p.labels,
            "worldcover_classes": {str(k): v for k, v in WORLDCOVER.items()},
            "class_map": {str(k): v for k, v in sorted(table.items())},
            "mask_ignore_index": -1,
        }
        if self._worldcover():
            extra |= {"label_threshold": p.label_threshold,
                      "label_rule": "class share of labelled pixels > label_threshold"}  # fmt: skip
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=LANDCOVER8 if self._worldcover() else BEN19,
            bands=self.params.stacked_bands(),
            modalities=tuple(p.modalities),
            provides=frozenset({GEO, LANDCOVER} | ({MASK, FRACTIONS} if self._worldcover() else set())),
            extra=extra,
        )

    def _roots(self) -> list[str | None]:
        p = self.params
        return [p.root, p.s2_root, p.s1_root]

    def sources(self) -> Sources:
        src = super().sources()
        return Sources(src.roots, src.keep, tuple(f for f in (self.params.meta_csv,) if f) + src.side_files)

    def _meta(self, root: Path) -> dict[str, dict[str, str]]:
        from .scan import walk_files
        from .tabular import find_column, read_csv_rows

        path = self.params.meta_csv
        if path is None:
            found = list(walk_files(root, lambda n: n.endswith("_meta.csv")))
            if not found:
                return {}
            path = str(found[0])
        header, rows = read_csv_rows(path)
        col = find_column(header, None, ("patch_id",), path, "patch id")
        return {r[col]: r for r in rows}

    def index(self) -> Index:
        from .base import require_dir
        from .scan import find_dirs, walk_files

        p = self.params
        root = self.root()
        suffix = "_esaworldcover.tif"
        maps = {f.name[: -len(suffix)]: f for f in walk_files(root, lambda n: n.endswith(suffix))}
        if not maps:
            raise self.nothing_found(root, "ben-ge WorldCover maps (*_esaworldcover.tif)")
        meta = self._meta(root)
        problems: list[Problem] = []
        need_s2 = "s2" in p.modalities
        s2_dirs = find_dirs(require_dir(p.s2_root, "BigEarthNet-S2 s2_root") if p.s2_root else root, S2_DIR.match) if need_s2 else {}
        s1_dirs: dict[str, Path] = {}
        pairs: dict[str, str] = {}
        if "s1" in p.modalities:
            s1_dirs = find_dirs(require_dir(p.s1_root, "BigEarthNet-S1 s1_root") if p.s1_root else root, S1_DIR.match)
            pairs = {k: r["patch_id_s1"] for k, r in meta.items() if r.get("patch_id_s1")}
            if not pairs:
                pairs = self._s1_pairs(s1_dirs, problems)
        excluded = self._excluded()
        records: list[Record] = []
        for key in sorted(maps):
            if key in excluded:
                continue
            rec = Record(key=key, paths={"worldcover": maps[key]}, group=key.rsplit("_", 2)[0])
            if need_s2:
                if key not in s2_dirs:
                    problems.append(Problem(str(maps[key]), "has no BigEarthNet-S2 patch folder (s2_root)", "pair", key))
                    continue
                rec.paths["s2"] = s2_dirs[key]
            if "s1" in p.modalities:
                s1 = pairs.get(key)
                if s1 is None or s1 not in s1_dirs:
                    problems.append(Problem(str(maps[key]), "has no BigEarthNet-S1 patch folder (s1_root)", "pair", key))
                    continue
                rec.paths["s1"] = s1_dirs[s1]
                rec.extra["s1_name"] = s1
                rec.aliases = (s1,)
            row = meta.get(key, {})
            rec.extra["latlon"] = (row.get("lat"), row.get("lon"))
            records.append(rec)
        return Index(records, problems, excluded)

    def _lookup(self) -> np.ndarray:
        table = getattr(self, "_table", None)
        if table is None:
            from .landcover import lookup_table

            table = lookup_table(self.params.class_map if self.params.class_map is not None else WORLDCOVER_TO_8, LANDCOVER8)
            self._table = table
        return table

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        from .landcover import label_fields, to_mask
        from .raster import read_raster

        path = record.paths["worldcover"]
        codes = read_raster(path, count=1, size=(SIZE, SIZE), dtypes=("uint8", "uint16", "int16")).data[0]
        landcover = to_mask(codes, self._lookup(), path)
        out: dict[str, Any] = {"landcover": landcover}
        if self._worldcover():
            out |= {"mask": landcover, **label_fields(landcover, len(LANDCOVER8), self.params.label_threshold, path)}
        else:
            out["labels"] = self._ben19(record)
        x, lat, lon = self._read_x(record)
        csv_lat, csv_lon = record.extra.get("latlon", (None, None))
        try:
            if csv_lat not in (None, "") and csv_lon not in (None, ""):
                lat, lon = float(csv_lat), float(csv_lon)
        except ValueError:
            raise LabelError(self.params.meta_csv or "ben-ge meta CSV", f"lat/lon of {record.key} are not numbers") from None
        out |= {"x": x, "lat": np.float32(lat), "lon": np.float32(lon)}
        return out
