"""``dfc2020`` and ``sen12ms``: 256x256 Sentinel-2 / Sentinel-1 / land-cover GeoTIFF triplets in SEN12MS naming."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc
from xaibench.capabilities import FRACTIONS, GEO, MASK
from xaibench_eo.capabilities import CLOUDS

from .base import Index, Problem, RealDataset, Record, Sources
from .errors import BadFileError
from .params import FusionParams, SplitName, check_bands, check_class_map, distinct
from .tables import DFC10_TO_8, IGBP_TO_8, LANDCOVER8, S1_POLARIZATIONS, S2_NAMES

if TYPE_CHECKING:
    import numpy as np

SIZE = 256
S2_DTYPES = ("uint16", "int16")
S1_DTYPES = ("float32", "float64")
CODE_DTYPES = ("uint8", "uint16", "int16", "int32", "uint32")
Season = Literal["spring", "summer", "fall", "winter"]


class Sen12msFamilyParams(FusionParams):
    """Sensors and bands in ``x``, the label rule and the class map."""

    modalities: tuple[Literal["s2", "s1"], ...] = Field(("s2",), description="sensors in x, in this order")
    bands: tuple[str, ...] | None = Field(None, description="Sentinel-2 bands to keep, in this order (None: all 13)")
    polarizations: tuple[Literal["VV", "VH"], ...] = Field(S1_POLARIZATIONS, description="Sentinel-1 bands, in this order")
    label_threshold: float = Field(0.1, ge=0.0, lt=1.0, description="a class is an image label above this share of labelled pixels")
    class_map: dict[int, str | None] | None = Field(
        None, description="land-cover code -> class name (null: ignored); None: the documented default table"
    )
    size: int | None = Field(
        SIZE, ge=8, description="patch side in pixels the files must have (published: 256); None: any, the same for all"
    )

    @field_validator("modalities", "polarizations")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return distinct(v)

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else check_bands(v, S2_NAMES, "bands")

    @field_validator("class_map")
    @classmethod
    def _class_map(cls, v: dict[int, str | None] | None) -> dict[int, str | None] | None:
        return check_class_map(v)

    def s2_bands(self) -> tuple[str, ...]:
        return self.bands or S2_NAMES


SCENE_LINE = re.compile(r"^(?:.*/)?(?P<roi>ROIs\d+)_(?P<season>[A-Za-z0-9]+)/(?:s1|s2|lc|dfc|s2_cloudy)_(?P<scene>\d+)/?$")
"""A scene folder as split files name it: ``ROIs1158_spring/s1_63`` (SEN12MS ``splits/SEN12MS_holdOutScenes.txt``)."""


class _Sen12msFamily(RealDataset):
    """Shared reading of SEN12MS-named triplets (one modality per file, 256x256 as published)."""

    params: Sen12msFamilyParams
    label_kind: ClassVar[str] = "lc"
    label_count: ClassVar[int] = 4
    default_map: ClassVar[dict[int, str | None]] = IGBP_TO_8
    code_name: ClassVar[str] = ""

    def _extra(self) -> dict[str, Any]:
        p = self.params
        table = p.class_map if p.class_map is not None else self.default_map
        return {
            "units": p.scaling_units(),
            "s1_db_range": list(p.s1_db_range),
            "label_threshold": p.label_threshold,
            "label_rule": "class share of labelled pixels > label_threshold; ignored codes excluded",
            "class_codes": self.code_name,
            "class_map": {str(k): v for k, v in sorted(table.items())},
            "mask_ignore_index": -1,
            "band_source": self._band_sources(),
            "size": p.size,
        }  # fmt: skip

    def _band_sources(self) -> list[str]:
        """Where each channel of ``x`` comes from (``data check`` prints it next to the band)."""
        p = self.params
        out: list[str] = []
        for m in p.modalities:
            if m == "s2":
                out += [f"s2 file, band {S2_NAMES.index(b) + 1} of 13" for b in p.s2_bands()]
            else:
                out += [f"s1 file, band {S1_POLARIZATIONS.index(pol) + 1} of 2" for pol in p.polarizations]
        return out

    def _lookup(self) -> np.ndarray:
        table = getattr(self, "_table", None)
        if table is None:
            from .landcover import lookup_table

            table = lookup_table(self.params.class_map if self.params.class_map is not None else self.default_map, LANDCOVER8)
            self._table = table
        return table

    def sources(self) -> Sources:
        roots = [Path(self.params.root).expanduser()]
        cloudy = getattr(self.params, "cloudy_root", None)
        if cloudy:
            roots.append(Path(cloudy).expanduser())
        return Sources(tuple(roots), _sen12ms_named, self.split_side_files())

    def split_group(self, sid: str) -> str | None:
        m = SCENE_LINE.match(sid.strip())
        return f"{m['roi']}_{m['season']}_{m['scene']}" if m else None

    def _size(self) -> tuple[int, int] | None:
        return (self.params.size, self.params.size) if self.params.size else None

    def _needed(self) -> list[str]:
        return [*self.params.modalities, self.label_kind]

    def _pair_problems(self, key: str, files: dict[str, Path], needed: list[str]) -> Problem | None:
        missing = [k for k in needed if k not in files]
        if not missing:
            return None
        have = next(files[k] for k in ("s2", "s1", "lc", "dfc", "s2_cloudy") if k in files)
        return Problem(str(have), f"has no {' / '.join(missing)} counterpart (SEN12MS naming, same ROI/scene/patch)", "pair", key)

    def _record(self, key: str, files: dict[str, Path]) -> Record:
        from .scan import sen12ms_parts

        parts = sen12ms_parts(key)
        names = [f.name for f in files.values()]
        return Record(
            key=key,
            paths=dict(files),
            group=f"{parts['roi']}_{parts['season']}_{parts['scene']}",
            aliases=tuple(names) + tuple(n.rsplit(".", 1)[0] for n in names),
            extra={"season": parts["season"]},
        )

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        from .landcover import label_fields, to_mask
        from .raster import read_raster, reflectance, scale_db

        p = self.params
        size = self._size()
        parts: list[np.ndarray] = []
        lat = lon = float("nan")
        for m in p.modalities:
            if m == "s2":
                path = self._s2_path(record)
                idx = [S2_NAMES.index(b) + 1 for b in p.s2_bands()]
                r = read_raster(path, count=13, size=size, dtypes=S2_DTYPES, bands=idx, centre=True)
                parts.append(reflectance(r.data, p.s2_scale, p.clip_reflectance))
            else:
                path = record.paths["s1"]
                idx = [S1_POLARIZATIONS.index(pol) + 1 for pol in p.polarizations]
                r = read_raster(path, count=2, size=size, dtypes=S1_DTYPES, bands=idx, centre=True)
                parts.append(scale_db(r.data, p.s1_db_range))
            _same_size(parts[0].shape[1:], parts[-1].shape[1:], path)
            if np.isnan(lat):
                lat, lon = r.lat, r.lon
        label_path = record.paths[self.label_kind]
        codes = read_raster(label_path, count=self.label_count, size=size, dtypes=CODE_DTYPES, bands=[1]).data[0]
        _same_size(parts[0].shape[1:], codes.shape, label_path)
        mask = to_mask(codes, self._lookup(), label_path)
        out = {
            "x": np.concatenate(parts, axis=0),
            "mask": mask,
            **label_fields(mask, len(LANDCOVER8), p.label_threshold, label_path),
            "lat": np.float32(lat),
            "lon": np.float32(lon),
        }
        out.update(self._extra_fields(record))
        return out

    def _s2_path(self, record: Record) -> Path:
        return record.paths["s2"]

    def _extra_fields(self, record: Record) -> dict[str, Any]:
        return {}


def _sen12ms_named(name: str) -> bool:
    return name.startswith("ROIs") and name.lower().endswith((".tif", ".tiff"))


def _same_size(first: tuple[int, ...], this: tuple[int, ...], path: Path) -> None:
    if tuple(first) != tuple(this):
        raise BadFileError(path, f"is {this[0]}x{this[1]} px, the sample's other files {first[0]}x{first[1]}")


# ----------------------------------------------------------------------------- DFC2020
class DFC2020Params(Sen12msFamilyParams):
    """DFC2020: the subsets (``validation``: 986 patches, ``test``: 5128) that make train and test."""

    train_subsets: tuple[Literal["validation", "test"], ...] = Field(
        ("test",), description="DFC2020 subsets used for training (val is carved from them by val_fraction)"
    )
    test_subsets: tuple[Literal["validation", "test"], ...] = Field(
        ("validation",), description="subsets used for testing; empty: random split of train_subsets"
    )

    @model_validator(mode="after")
    def _disjoint(self) -> DFC2020Params:
        if not self.train_subsets:
            raise ValueError("train_subsets needs at least one subset")
        if set(self.train_subsets) & set(self.test_subsets):
            raise ValueError("train_subsets and test_subsets must not share a subset")
        return self


class DFC2020(_Sen12msFamily):
    """IEEE GRSS Data Fusion Contest 2020: 256x256 S2 (13 bands) / S1 (VV, VH) patches with land-cover masks.

    Reads ``ROIs0000_{validation,test}_{s1,s2,dfc}_<scene>_p<patch>.tif`` anywhere under
    ``root``.  The DFC masks (codes 1-10) are reduced to the 8 classes of the harmonization
    paper (Savanna and Snow/Ice ignored, -1).  Arrays per split:

    - ``x (N, C, S, S)`` float32 (S = ``size``, 256 as published): the ``modalities`` in order: S2 reflectance (DN / 10000,
      clipped to [0, 1]); S1 backscatter clipped to ``s1_db_range`` dB and scaled to [0, 1];
    - ``mask (N, S, S)`` int64 (class index, -1 ignored); ``fractions (N, 8)`` float32 (share
      of labelled pixels); ``labels (N, 8)`` float32 (share > ``label_threshold``); ``label (N,)``
      int64 (largest share); ``lat``, ``lon`` ``(N,)`` float32 (patch centre, from the GeoTIFF);
      ``id (N,)`` str (``ROIs0000_validation_0_p30``).
    """

    name: ClassVar[str] = "dfc2020"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[DFC2020Params]] = DFC2020Params
    params: DFC2020Params
    label_kind = "dfc"
    label_count = 1
    default_map = DFC10_TO_8
    code_name = "DFC2020 (1 Forest, 2 Shrubland, 3 Savanna, 4 Grassland, 5 Wetlands, 6 Croplands, 7 Urban/Built-up, 8 Snow/Ice, 9 Barren, 10 Water)"
    layout = "ROIs0000_validation/s2_validation/ROIs0000_validation_s2_0_p30.tif with s1_* and dfc_* alongside"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=LANDCOVER8,
            bands=self.params.stacked_bands(),
            modalities=tuple(p.modalities),
            provides=frozenset({MASK, FRACTIONS, GEO}),
            extra={**self._extra(), "train_subsets": list(p.train_subsets), "test_subsets": list(p.test_subsets)},
        )

    def index(self) -> Index:
        from .scan import sen12ms_files

        root = self.root()
        p = self.params
        files = sen12ms_files(root, {"s1", "s2", "dfc"})
        subsets = set(p.train_subsets) | set(p.test_subsets)
        needed = self._needed()
        records, problems = [], []
        for key, found in sorted(files.items()):
            rec = self._record(key, found)
            season = rec.extra["season"]
            if season not in subsets:
                continue
            bad = self._pair_problems(key, found, needed)
            if bad:
                problems.append(bad)
                continue
            if p.test_subsets:
                rec.split = "test" if season in p.test_subsets else "train"
            records.append(rec)
        if not records and not problems:
            raise self.nothing_found(root, f"DFC2020 patches of subsets {sorted(subsets)}")
        return Index(records, problems)


# ----------------------------------------------------------------------------- SEN12MS (+ CR)
class Sen12msParams(Sen12msFamilyParams):
    """SEN12MS seasons and splits, and SEN12MS-CR's cloudy counterparts."""

    seasons: tuple[Season, ...] | None = Field(None, description="keep these seasons only (None: all four)")
    test_seasons: tuple[Season, ...] = Field((), description="seasons that form the test split (empty: random split by scene)")
    cloudy_root: str | None = Field(None, description="SEN12MS-CR copy with the s2_cloudy patches (may equal root)")
    cloudy_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="chance that a sample's S2 is its cloudy counterpart (SHAPE sampling)"
    )
    cloudy_splits: tuple[SplitName, ...] = Field(("train", "val", "test"), description="splits the sampling applies to")
    cloudy_seed: int = Field(0, ge=0, description="seed of the cloudy draw (per sample: seed and sample id)")

    @model_validator(mode="after")
    def _cloudy(self) -> Sen12msParams:
        if self.cloudy_probability > 0 and not self.cloudy_root:
            raise ValueError("cloudy_probability > 0 needs cloudy_root (the SEN12MS-CR copy)")
        if self.cloudy_probability > 0 and "s2" not in self.modalities:
            raise ValueError("cloudy_probability > 0 needs the s2 modality")
        return self


class Sen12ms(_Sen12msFamily):
    """SEN12MS: 256x256 S1 / S2 / MODIS land-cover triplets by season, scene and patch; cloudy S2 from SEN12MS-CR.

    Reads ``ROIs<roi>_<season>_{s1,s2,lc}_<scene>_p<patch>.tif`` anywhere under ``root`` (and
    ``..._s2_cloudy_...`` under ``cloudy_root``).  Labels come from the IGBP band of ``lc``,
    reduced to the 8 classes (savannas and snow/ice ignored).  With ``cloudy_probability``
    ``p`` (the SHAPE paper's sampling), each sample of ``cloudy_splits`` takes its SEN12MS-CR
    cloudy S2 with probability ``p`` (drawn from ``cloudy_seed`` and the sample id).
    Arrays: those of ``dfc2020`` plus ``cloudy (N,)`` uint8 (1: the S2 bands are the cloudy
    ones) and ``cloudy_drawn (N,)`` uint8 (the draw said cloudy; 0 in ``cloudy`` then means
    the copy has no cloudy counterpart, counted in a warning).
    """

    name: ClassVar[str] = "sen12ms"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[Sen12msParams]] = Sen12msParams
    params: Sen12msParams
    code_name = "IGBP (MODIS MCD12Q1 LC_Type1, 1-17), band 1 of lc"
    layout = "ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p30.tif with s1_1/ and lc_1/ alongside"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        provides = {MASK, FRACTIONS, GEO} | ({CLOUDS} if p.cloudy_probability > 0 else set())
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=LANDCOVER8,
            bands=self.params.stacked_bands(),
            modalities=tuple(p.modalities),
            provides=frozenset(provides),
            extra={
                **self._extra(),
                "cloudy_probability": p.cloudy_probability,
                "cloudy_splits": list(p.cloudy_splits),
                "test_seasons": list(p.test_seasons),
            },
        )

    def index(self) -> Index:
        from .base import require_dir
        from .scan import sen12ms_files

        root = self.root()
        p = self.params
        files = sen12ms_files(root, {"s1", "s2", "lc"})
        cloudy: dict[str, dict[str, Path]] = {}
        if p.cloudy_root:
            cloudy = sen12ms_files(require_dir(p.cloudy_root, "SEN12MS-CR cloudy_root"), {"s2_cloudy"})
            if p.cloudy_probability > 0 and not cloudy:
                raise self.nothing_found(p.cloudy_root, "SEN12MS-CR s2_cloudy patches")
        needed = self._needed()
        records, problems = [], []
        for key, found in sorted(files.items()):
            rec = self._record(key, found)
            if p.seasons is not None and rec.extra["season"] not in p.seasons:
                continue
            bad = self._pair_problems(key, found, needed)
            if bad:
                problems.append(bad)
                continue
            if key in cloudy:
                rec.paths["s2_cloudy"] = cloudy[key]["s2_cloudy"]
            if p.test_seasons:
                rec.split = "test" if rec.extra["season"] in p.test_seasons else "train"
            records.append(rec)
        if not records and not problems:
            raise self.nothing_found(root, "SEN12MS triplets")
        return Index(records, problems)

    def _draw(self, record: Record) -> bool:
        p = self.params
        if p.cloudy_probability <= 0 or record.extra.get("split") not in p.cloudy_splits:
            return False
        import numpy as np

        from .splits import stable_hash

        return bool(np.random.default_rng([p.cloudy_seed, stable_hash(record.key)]).random() < p.cloudy_probability)

    def _s2_path(self, record: Record) -> Path:
        if self._draw(record) and "s2_cloudy" in record.paths:
            return record.paths["s2_cloudy"]
        return record.paths["s2"]

    def _extra_fields(self, record: Record) -> dict[str, Any]:
        import numpy as np

        drawn = self._draw(record)
        return {"cloudy": np.uint8(drawn and "s2_cloudy" in record.paths), "cloudy_drawn": np.uint8(drawn)}

    def finish(self, splits: dict[str, dict[str, np.ndarray]], meta: dict[str, Any]) -> None:
        import logging

        missing = {s: int((f["cloudy_drawn"] > f["cloudy"]).sum()) for s, f in splits.items()}
        meta["cloudy"] = {s: int(f["cloudy"].sum()) for s, f in splits.items()}
        meta["cloudy_missing"] = missing
        if any(missing.values()):
            logging.getLogger("xaibench").warning(
                "%s: %d samples drawn cloudy have no SEN12MS-CR counterpart and kept their clear S2 (per split: %s)",
                self.name, sum(missing.values()), missing,
            )  # fmt: skip
