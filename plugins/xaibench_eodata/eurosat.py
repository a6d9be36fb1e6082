"""``eurosat``: EuroSAT multispectral (13-band 64x64 GeoTIFFs in class folders), optional bioclimatic vectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc
from xaibench.capabilities import AUX, GEO, REGION

from .base import Index, Problem, RealDataset, Record, Sources, suffix_filter
from .errors import EmptyDataError, LabelError
from .params import OpticalParams, check_bands, distinct
from .tables import EUROSAT_CLASSES, EUROSAT_FILE_BANDS, S2_BANDS, S2_NAMES

if TYPE_CHECKING:
    import numpy as np

SIZE = (64, 64)
ID_COLUMNS = ("image", "image_id", "filename", "file", "file_name", "name", "id", "path")
REGION_COLUMNS = ("biogeographic_region", "biogeographical_region", "biogeo_region", "bioregion", "region")


class EuroSATParams(OpticalParams):
    """Bands, classes, the bioclimatic vector's source and the region split."""

    bands: tuple[str, ...] | None = Field(
        None, description="Sentinel-2 bands, in this order (None: all 13 in wavelength order, B8A 9th; read from "
        "the file's band 13)"
    )
    classes: tuple[str, ...] = Field(
        EUROSAT_CLASSES, description="class folders to load, in class order (a subset of the 10; other folders are ignored)"
    )
    aux: Literal["none", "csv", "worldclim"] = Field(
        "none", description="bioclimatic vector: none, the worldclim* columns of metadata_csv, or sampled from worldclim_dir"
    )
    metadata_csv: str | None = Field(None, description="per-image CSV: image id, worldclim* columns, biogeographic region")
    id_column: str | None = Field(None, description=f"image id column (None: the first of {', '.join(ID_COLUMNS)})")
    region_column: str | None = Field(None, description=f"region column (None: the first of {', '.join(REGION_COLUMNS)})")
    aux_columns: tuple[str, ...] | None = Field(
        None, description="CSV columns of the vector, in order (None: columns starting with 'worldclim', natural order)"
    )
    worldclim_dir: str | None = Field(None, description="WorldClim 2.1 BIO GeoTIFFs (wc2.1_<res>_bio_<i>.tif)")
    elevation_file: str | None = Field(None, description="elevation raster (None: wc2.1_<res>_elev.tif in worldclim_dir)")
    nodata_search_px: int = Field(5, ge=0, le=50, description="search radius (px) for a valid pixel when the centre has none")
    train_regions: tuple[str, ...] | None = Field(None, description="regions of train/val images (None: all but test_regions)")
    test_regions: tuple[str, ...] | None = Field(None, description="regions of test images (None: random split)")

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else check_bands(v, S2_NAMES, "bands")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in v if c not in EUROSAT_CLASSES]
        if unknown:
            raise ValueError(f"classes must be among {', '.join(EUROSAT_CLASSES)} (got {', '.join(unknown)})")
        return distinct(v)

    @model_validator(mode="after")
    def _sources(self) -> EuroSATParams:
        if self.aux == "csv" and not self.metadata_csv:
            raise ValueError("aux: csv needs metadata_csv")
        if self.aux == "worldclim" and not self.worldclim_dir:
            raise ValueError("aux: worldclim needs worldclim_dir")
        if (self.train_regions or self.test_regions) and not self.metadata_csv:
            raise ValueError("train_regions / test_regions need metadata_csv (the biogeographic label of each image)")
        if self.train_regions and not self.test_regions:
            raise ValueError("train_regions needs test_regions")
        return self

    def s2_bands(self) -> tuple[str, ...]:
        return self.bands or S2_NAMES


def _natural(name: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


class EuroSAT(RealDataset):
    """EuroSAT (multispectral): 27,000 Sentinel-2 patches of 13 bands, 64x64, in 10 class folders.

    ``root`` holds the class folders (``AnnualCrop/AnnualCrop_1.tif`` ...) at any depth;
    ``classes`` picks a subset.  The files store the bands as B01..B12 then B8A (13th,
    :data:`~.tables.EUROSAT_FILE_BANDS`); ``x`` holds ``bands`` in the order asked, by default
    all 13 in wavelength order (B8A 9th, as the other loaders and the synthetic datasets).  The
    patch centre's latitude / longitude come from each file's georeferencing.  Bioclimatic
    vectors (``aux``): the ``worldclim*`` columns of a per-image ``metadata_csv``, or
    BIO1..BIO19 and elevation sampled (nearest pixel at the patch centre) from WorldClim 2.1
    GeoTIFFs; either way min-max normalised with the training split's minimum and maximum
    (not clipped: other regions may fall outside [0, 1]).  Arrays per split: ``x (N, C, 64, 64)``
    float32 reflectance, ``label (N,)`` int64, ``labels (N, K)`` float32 one-hot, ``lat`` /
    ``lon (N,)`` float32, ``id (N,)`` str; with ``aux``: ``aux`` / ``aux_physical (N, A)``
    float32; with ``metadata_csv``: ``region (N,)`` int64 (index into ``meta["regions"]``).
    """

    name: ClassVar[str] = "eurosat"
    version: ClassVar[str] = "2"  # 2: B8A read from the file's band 13 (it was taken from band 9, B09)
    Params: ClassVar[type[EuroSATParams]] = EuroSATParams
    params: EuroSATParams
    layout = "<root>/AnnualCrop/AnnualCrop_1.tif ... <root>/SeaLake/SeaLake_3000.tif (EuroSAT_MS)"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        s2 = {b.name: b for b in S2_BANDS}
        provides = {GEO} | ({AUX} if p.aux != "none" else set()) | ({REGION} if p.metadata_csv else set())
        extra: dict[str, Any] = {
            "units": f"reflectance = DN / {p.s2_scale:g}" + (", clipped to [0, 1]" if p.clip_reflectance else ""),
            "aux_source": p.aux,
            "aux_normalisation": "min-max with the training split's range, not clipped",
            "train_regions": list(p.train_regions or []),
            "test_regions": list(p.test_regions or []),
            "file_band_order": list(EUROSAT_FILE_BANDS),
            "band_source": [f"band {EUROSAT_FILE_BANDS.index(b) + 1} of 13" for b in p.s2_bands()],
        }
        if p.aux == "worldclim":
            from .worldclim import AUX_NAMES, AUX_UNITS

            extra |= {"aux_names": list(AUX_NAMES), "aux_units": list(AUX_UNITS)}
        return xc.DatasetInfo(
            name=self.name,
            task="singlelabel",
            classes=p.classes,
            bands=tuple(s2[b] for b in p.s2_bands()),
            modalities=("s2",),
            provides=frozenset(provides),
            extra=extra,
        )

    # -- indexing ------------------------------------------------------------------
    def _metadata(self) -> tuple[dict[str, dict[str, str]], str, str | None, list[str]]:
        """Rows by image id, the region column, and the aux columns (when ``aux: csv``)."""
        from .tabular import find_column, read_csv_rows

        p = self.params
        path = p.metadata_csv
        assert path is not None
        header, rows = read_csv_rows(path)
        id_col = find_column(header, p.id_column, ID_COLUMNS, path, "image id")
        region_col = find_column(header, p.region_column, REGION_COLUMNS, path, "biogeographic region")
        aux_cols: list[str] = []
        if p.aux == "csv":
            if p.aux_columns is not None:
                aux_cols = [find_column(header, c, (), path, "aux") for c in p.aux_columns]
            else:
                aux_cols = sorted((h for h in header if h.lower().startswith("worldclim")), key=_natural)
                if not aux_cols:
                    raise LabelError(path, "has no worldclim* columns (set aux_columns)")
        by_id: dict[str, dict[str, str]] = {}
        for row in rows:
            ident = Path(row[id_col].strip()).name
            by_id[ident] = row
            by_id.setdefault(ident.rsplit(".", 1)[0], row)
        return by_id, region_col, id_col, aux_cols

    def index(self) -> Index:
        from .scan import find_dirs

        self._no_climate: list[str] = []  # ids screen() drops, reported by finish()
        p = self.params
        root = self.root()
        folders = find_dirs(root, lambda n: n in EUROSAT_CLASSES, max_depth=8)
        if not folders:
            raise self.nothing_found(root, "EuroSAT class folders")
        missing = [c for c in p.classes if c not in folders]
        if missing:
            raise EmptyDataError(root, f"has no class folder {', '.join(missing)} (found: {', '.join(sorted(folders))}); "
                                 "set `classes` to the folders your copy has")  # fmt: skip
        meta: dict[str, dict[str, str]] = {}
        region_col, aux_cols = None, []
        if p.metadata_csv:
            meta, region_col, _, aux_cols = self._metadata()
        records: list[Record] = []
        problems: list[Problem] = []
        for label, cls in enumerate(p.classes):
            files = sorted((f for f in folders[cls].iterdir() if f.suffix.lower() in (".tif", ".tiff")), key=lambda f: _natural(f.name))
            if not files:
                raise EmptyDataError(folders[cls], "class folder holds no .tif file")
            for f in files:
                rec = Record(key=f.stem, paths={"tif": f}, stratum=cls, aliases=(f.name, f"{cls}/{f.name}"), extra={"label": label})
                if p.metadata_csv:
                    row = meta.get(f.stem) or meta.get(f.name)
                    if row is None:
                        problems.append(Problem(str(f), f"has no row in {p.metadata_csv}", "label", f.stem))
                        continue
                    rec.extra["region"] = row[region_col].strip()
                    try:
                        rec.extra["aux"] = [float(row[c]) for c in aux_cols]
                    except ValueError:
                        problems.append(Problem(str(p.metadata_csv), f"row of {f.stem}: non-numeric value in {aux_cols}", "label", f.stem))
                        continue
                    if p.test_regions:
                        region = rec.extra["region"]
                        if region in p.test_regions:
                            rec.split = "test"
                        elif p.train_regions is None or region in p.train_regions:
                            rec.split = "train"
                        else:
                            continue
                records.append(rec)
        if p.metadata_csv:
            self._regions = sorted({r.extra["region"] for r in records})
            self._aux_names = aux_cols
        return Index(records, problems)

    # -- reading -------------------------------------------------------------------
    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        from .raster import read_raster, reflectance

        p = self.params
        idx = [EUROSAT_FILE_BANDS.index(b) + 1 for b in p.s2_bands()]
        r = read_raster(record.paths["tif"], count=13, size=SIZE, dtypes=("uint16", "int16"), bands=idx, centre=True)
        label = record.extra["label"]
        out: dict[str, Any] = {
            "x": reflectance(r.data, p.s2_scale, p.clip_reflectance),
            "label": np.int64(label),
            "labels": np.eye(len(p.classes), dtype=np.float32)[label],
            "lat": np.float32(r.lat),
            "lon": np.float32(r.lon),
        }
        if p.metadata_csv:
            out["region"] = np.int64(self._regions.index(record.extra["region"]))
        if p.aux == "csv":
            out["aux_physical"] = np.asarray(record.extra["aux"], dtype=np.float32)
        return out

    def sources(self) -> Sources:
        p = self.params
        roots = [Path(p.root).expanduser()]
        if p.aux == "worldclim" and p.worldclim_dir:
            roots.append(Path(p.worldclim_dir).expanduser())
        side = [f for f in (p.metadata_csv, p.elevation_file) if f]
        return Sources(tuple(roots), suffix_filter(".tif", ".tiff"), (*side, *self.split_side_files()))

    def screen(self, split: str, ids: list[str], fields: dict[str, np.ndarray]) -> np.ndarray | None:
        """With ``aux: worldclim``: sample the climate at each image's centre (``aux_physical``) and
        drop the images with no valid WorldClim pixel near it (reported in :meth:`finish`)."""
        if self.params.aux != "worldclim":
            return None
        import numpy as np

        from .worldclim import sample_worldclim, worldclim_files

        p = self.params
        files = worldclim_files(p.worldclim_dir, p.elevation_file)
        aux = sample_worldclim(files, fields["lat"].astype(np.float64), fields["lon"].astype(np.float64),
                               p.nodata_search_px).astype(np.float32)  # fmt: skip
        fields["aux_physical"] = aux
        missing = np.isnan(aux).any(axis=1)
        self._no_climate.extend(ids[i] for i in np.flatnonzero(missing))
        return ~missing

    def finish(self, splits: dict[str, dict[str, np.ndarray]], meta: dict[str, Any]) -> None:
        import numpy as np

        p = self.params
        if p.metadata_csv:
            meta["regions"] = list(self._regions)
        if p.aux == "none":
            return
        if p.aux == "worldclim":
            from .worldclim import AUX_NAMES, worldclim_files

            self._report_no_climate(meta)
            meta["aux_names"] = list(AUX_NAMES)
            meta["worldclim_files"] = [str(f) for f in worldclim_files(p.worldclim_dir, p.elevation_file)]
        else:
            meta["aux_names"] = list(self._aux_names)
        train = splits["train"]["aux_physical"]
        lo, hi = train.min(axis=0), train.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        for f in splits.values():
            f["aux"] = ((f["aux_physical"] - lo) / span).astype(np.float32)
        meta["aux_ranges"] = np.stack([lo, hi], axis=1).tolist()

    def _report_no_climate(self, meta: dict[str, Any]) -> None:
        """The images :meth:`screen` dropped for want of a WorldClim value: a warning each, counted
        as bad samples (bad-file policy: too many fail the load)."""
        import logging

        from .errors import BadFileError

        bad = self._no_climate
        if not bad:
            return
        total = sum(meta["counts"].values()) + len(bad)
        if len(bad) > self.params.max_bad_fraction * total:
            raise BadFileError(self.params.worldclim_dir, f"no valid pixel within {self.params.nodata_search_px} px of "
                               f"{bad[0]} and {len(bad) - 1} more of {total} images (max_bad_fraction)")  # fmt: skip
        log = logging.getLogger("xaibench")
        kind = meta.setdefault("problem_kinds", {}).setdefault("no WorldClim value", {"count": 0, "examples": []})
        for sid in bad:
            why = f"{sid}: no valid WorldClim pixel within {self.params.nodata_search_px} px of its centre"
            log.warning("%s: skipped %s", self.name, why)
            kind["count"] += 1
            if len(kind["examples"]) < 5:
                kind["examples"].append(why)
        meta["n_skipped"] = meta.get("n_skipped", 0) + len(bad)
