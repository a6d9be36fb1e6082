"""``bigearthnet-v2``: BigEarthNet v2.0 (reBEN, 2024) with its metadata table and pixel-level reference maps.

The published layout (Clasen et al., "reBEN: Refined BigEarthNet Dataset for Remote Sensing
Image Analysis", IGARSS 2025; the authors' pipeline github.com/kai-tub/bigearthnet-pipeline,
``nu-scripts/ben-data-generator.nu`` and ``ben-metadata-finalizer.sql``; torchgeo's
``BigEarthNetV2`` reader)::

    <root>/metadata.parquet      patch_id, labels (19-class names), split (train/validation/test),
                                 country, s1_name, s2v1_name, contains_seasonal_snow, contains_cloud_or_shadow
    <root>/BigEarthNet-S2/<S2 product>/<patch_id>/<patch_id>_B01.tif ... _B8A.tif   (native 20/60/120 px)
    <root>/BigEarthNet-S1/<S1 product>/<s1_name>/<s1_name>_VV.tif, _VH.tif          (120 px, dB)
    <root>/Reference_Maps/<S2 product>/<patch_id>/<patch_id>_reference_map.tif     (120 px, CLC codes)

with ``patch_id`` such as ``S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_26_57`` (the S2 product
name and the patch's column / row).  Patches with snow, clouds or shadow are not in
``metadata.parquet`` (the authors list them in ``metadata_for_patches_with_snow_cloud_or_shadow.parquet``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc
from xaibench.capabilities import FRACTIONS, GEO, MASK

from .base import Index, Problem, Record, Sources, suffix_filter
from .bigearthnet import S1_DIR, SIZE, _BigEarthNetFamily
from .errors import LabelError
from .params import FusionParams, check_bands, check_class_map, distinct
from .splits import Tally
from .tables import BEN19, CLC_NODATA, CLC_TO_8, CLC_TO_BEN19, LANDCOVER8, S1_POLARIZATIONS, S2_L2A_NAMES

if TYPE_CHECKING:
    import numpy as np

S2_V2_DIR = re.compile(r"^S2[AB]_MSIL2A_\d{8}T\d{6}_N\d{4}_R\d{3}_T[0-9A-Z]{5}_\d+_\d+$")
META_COLUMNS = ("patch_id", "labels", "split", "s1_name")
SPLIT_VALUES = {"train": "train", "validation": "val", "val": "val", "test": "test"}
"""``split`` values: the authors' pipeline writes ``validation`` (torchgeo's fixture ``val``; both are read)."""
MAP_DTYPES = ("uint16", "int16", "uint32", "int32", "uint8")


class BigEarthNetV2Params(FusionParams):
    """Where the parts of the copy are, sensors and bands, labels and masks."""

    s2_root: str | None = Field(None, description="BigEarthNet-S2 folder (None: <root>/BigEarthNet-S2)")
    s1_root: str | None = Field(None, description="BigEarthNet-S1 folder (None: <root>/BigEarthNet-S1)")
    maps_root: str | None = Field(None, description="Reference_Maps folder (None: <root>/Reference_Maps)")
    metadata_file: str | None = Field(None, description="metadata.parquet (None: <root>/metadata.parquet)")
    modalities: tuple[Literal["s2", "s1"], ...] = Field(("s2",), description="sensors in x, in this order")
    bands: tuple[str, ...] | None = Field(None, description="Sentinel-2 bands, in this order (None: the 12 L2A bands)")
    polarizations: tuple[Literal["VV", "VH"], ...] = Field(S1_POLARIZATIONS, description="Sentinel-1 bands, in this order")
    resampling: Literal["bilinear", "nearest", "cubic"] = Field(
        "bilinear", description="how 20 m and 60 m bands are brought to 120x120"
    )
    s2_offset: float = Field(
        0.0, description="added to Sentinel-2 DNs before scaling: reflectance = (DN + s2_offset) / s2_scale "
        "(a BOA_ADD_OFFSET; see docs/datasets.md: not verified against a real reBEN file)",
    )  # fmt: skip
    labels: Literal["bigearthnet-19", "landcover-8"] = Field(
        "bigearthnet-19",
        description="bigearthnet-19: the metadata's 19-class labels, masks in the same classes; landcover-8: the "
        "maps reduced to the 8 land-cover classes, labels by the label_threshold rule",
    )
    reference_maps: bool = Field(True, description="read the reference maps as masks (mask, fractions)")
    label_threshold: float = Field(0.1, ge=0.0, lt=1.0, description="landcover-8 labels: class share above this")
    class_map: dict[int, str | None] | None = Field(
        None, description="landcover-8: CLC code -> class name (null: ignored); None: the documented default table"
    )
    exclude_files: tuple[str, ...] = Field((), description="CSV/text files of patch ids to leave out")

    @field_validator("modalities", "polarizations")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return distinct(v)

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else check_bands(v, S2_L2A_NAMES, "bands (Level-2A, no B10)")

    @field_validator("class_map")
    @classmethod
    def _class_map(cls, v: dict[int, str | None] | None) -> dict[int, str | None] | None:
        return check_class_map(v)

    @model_validator(mode="after")
    def _maps(self) -> BigEarthNetV2Params:
        if self.labels == "landcover-8" and not self.reference_maps:
            raise ValueError("labels: landcover-8 comes from the reference maps (reference_maps: true)")
        if self.class_map is not None and self.labels != "landcover-8":
            raise ValueError("class_map applies to labels: landcover-8")
        return self

    def s2_bands(self) -> tuple[str, ...]:
        return self.bands or S2_L2A_NAMES

    def part(self, name: str) -> Path:
        """The folder or file of a part of the copy: the param, else its published name under ``root``."""
        given = {"s2": self.s2_root, "s1": self.s1_root, "maps": self.maps_root, "metadata": self.metadata_file}[name]
        default = {"s2": "BigEarthNet-S2", "s1": "BigEarthNet-S1", "maps": "Reference_Maps", "metadata": "metadata.parquet"}
        return Path(given).expanduser() if given else Path(self.root).expanduser() / default[name]


class BigEarthNetV2(_BigEarthNetFamily):
    """BigEarthNet v2.0 (reBEN): 549,488 Sentinel-2 / Sentinel-1 pairs, 19-class labels, CORINE reference maps.

    Labels, the official split (train / validation / test) and the S1 partner come from
    ``metadata.parquet``; bands are read as in ``bigearthnet`` (20 m and 60 m bands resampled to
    120x120).  The reference maps (CLC 2018 level-3 codes per 10 m pixel) become ``mask``: in the
    19 classes (``labels: bigearthnet-19``, the codes the nomenclature drops are ignored, -1) or in
    the 8 land-cover classes (``landcover-8``, image labels then by the ``label_threshold`` rule).
    Rows of the metadata whose patch the copy lacks are counted (``meta["absent"]``), not errors.
    Arrays per split: ``x (N, C, 120, 120)`` float32; ``labels (N, K)`` float32; with maps ``mask
    (N, 120, 120)`` int64 (-1 ignored) and ``fractions (N, K)`` float32 (share of labelled pixels);
    ``landcover-8`` also ``label (N,)``; ``lat`` / ``lon (N,)`` float32; ``id (N,)`` str (``patch_id``).
    """

    name: ClassVar[str] = "bigearthnet-v2"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[BigEarthNetV2Params]] = BigEarthNetV2Params
    params: BigEarthNetV2Params
    layout = (
        "<root>/metadata.parquet, <root>/BigEarthNet-S2/<product>/<patch_id>/<patch_id>_B01.tif ..., "
        "<root>/Reference_Maps/<product>/<patch_id>/<patch_id>_reference_map.tif"
    )

    def _classes(self) -> tuple[str, ...]:
        return BEN19 if self.params.labels == "bigearthnet-19" else LANDCOVER8

    def _s2_offset(self) -> float:
        return self.params.s2_offset

    def _code_table(self) -> dict[int, str | None]:
        p = self.params
        if p.labels == "landcover-8":
            return p.class_map if p.class_map is not None else CLC_TO_8
        return {code: (None if j is None else BEN19[j]) for code, j in CLC_TO_BEN19.items()}

    def info(self) -> xc.DatasetInfo:
        p = self.params
        provides = {GEO} | ({MASK, FRACTIONS} if p.reference_maps else set())
        extra: dict[str, Any] = {
            **self._units(),
            "units": {**p.scaling_units(), "s2": f"reflectance = (DN + {p.s2_offset:g}) / {p.s2_scale:g}"
                      + (", clipped to [0, 1]" if p.clip_reflectance else "")},  # fmt: skip
            "labels": p.labels,
            "band_source": self._band_sources(),
        }
        if p.reference_maps:
            extra |= {
                "mask_source": "Reference_Maps (CLC 2018 level-3 codes)",
                "class_map": {str(k): v for k, v in sorted(self._code_table().items())},
                "mask_ignore_index": -1,
                "mask_nodata_codes": list(CLC_NODATA),
            }
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=self._classes(),
            bands=p.stacked_bands(),
            modalities=tuple(p.modalities),
            provides=frozenset(provides),
            extra=extra,
        )

    def _band_sources(self) -> list[str]:
        from .tables import bigearthnet_suffix

        p = self.params
        out: list[str] = []
        for m in p.modalities:
            out += ([f"<patch>_{bigearthnet_suffix(b)}.tif" for b in p.s2_bands()] if m == "s2"
                    else [f"<s1_name>_{pol}.tif" for pol in p.polarizations])  # fmt: skip
        return out

    def sources(self) -> Sources:
        p = self.params
        roots = [p.part(m) for m in p.modalities] + ([p.part("maps")] if p.reference_maps else [])
        side = (str(p.part("metadata")), *p.exclude_files, *self.split_side_files())
        return Sources(tuple(roots), suffix_filter(".tif", ".tiff"), side)

    # -- indexing ------------------------------------------------------------------
    def index(self) -> Index:
        from .base import require_dir
        from .scan import find_dirs
        from .tabular import read_parquet_columns

        p = self.params
        self.root()
        meta_path = p.part("metadata")
        table = read_parquet_columns(meta_path, META_COLUMNS, "BigEarthNet v2 metadata_file (metadata.parquet)")
        patch_ids = [str(v) for v in table.column("patch_id").to_pylist()]
        s1_names = [None if v is None else str(v) for v in table.column("s1_name").to_pylist()]
        splits = table.column("split").to_pylist()
        dirs: dict[str, dict[str, Path]] = {}
        for m in p.modalities:
            dirs[m] = find_dirs(require_dir(p.part(m), f"BigEarthNet-{m.upper()} folder ({m}_root)"),
                                (S2_V2_DIR if m == "s2" else S1_DIR).match)  # fmt: skip
        maps = find_dirs(require_dir(p.part("maps"), "Reference_Maps folder (maps_root)"), S2_V2_DIR.match) if p.reference_maps else {}
        excluded = self._excluded()
        primary = p.modalities[0]
        records: list[Record] = []
        rows: list[int] = []
        problems: list[Problem] = []
        absent = Tally()
        listed: set[str] = set()
        for i, key in enumerate(patch_ids):
            s1 = s1_names[i]
            listed.add(key if primary == "s2" else str(s1))
            if key in excluded or (s1 is not None and s1 in excluded):
                continue
            where = dirs[primary].get(key if primary == "s2" else str(s1))
            if where is None:
                absent.add(key)
                continue
            split = SPLIT_VALUES.get(str(splits[i]))
            if split is None:
                problems.append(Problem(str(meta_path), f"row of {key}: split {splits[i]!r} is not train, validation or test",
                                        "label", key))  # fmt: skip
                continue
            rec = Record(key=key, split=split, group=key.rsplit("_", 2)[0], aliases=(str(s1),) if s1 else ())
            lacking = []
            if "s2" in p.modalities:
                rec.paths["s2"] = dirs["s2"].get(key) or Path()
                lacking += [] if key in dirs["s2"] else ["Sentinel-2 folder"]
            if "s1" in p.modalities:
                rec.extra["s1_name"] = s1
                rec.paths["s1"] = dirs["s1"].get(str(s1)) or Path()
                lacking += [] if s1 in dirs["s1"] else [f"Sentinel-1 folder {s1}"]
            if p.reference_maps:
                if key in maps:
                    rec.paths["map"] = maps[key] / f"{key}_reference_map.tif"
                else:
                    lacking.append("reference map")
            if lacking:
                problems.append(Problem(str(where), f"has no {' / '.join(lacking)} (BigEarthNet v2 layout)", "pair", key))
                continue
            records.append(rec)
            rows.append(i)
        labels = table.column("labels").take(rows).to_pylist() if rows else []
        for rec, names in zip(records, labels):
            rec.extra["labels"] = names
        unlisted = [k for k in dirs[primary] if k not in listed]
        if unlisted:
            logging.getLogger("xaibench").info(
                "%s: %d patch folders are not in %s (left out; snowy / cloudy patches are listed in "
                "metadata_for_patches_with_snow_cloud_or_shadow.parquet), e.g. %s",
                self.name, len(unlisted), meta_path.name, ", ".join(sorted(unlisted)[:3]))  # fmt: skip
        if not records and not problems:
            raise self.nothing_found(p.part(primary), f"patch folders of the {len(patch_ids)} patches {meta_path.name} lists")
        return Index(records, problems, excluded, absent.as_dict(meta_path.name) if absent.count else None)

    # -- reading --------------------------------------------------------------------
    def _lookup(self) -> np.ndarray:
        table = getattr(self, "_table", None)
        if table is None:
            from .landcover import lookup_table

            table = lookup_table(self._code_table(), self._classes(), nodata=CLC_NODATA)
            self._table = table
        return table

    def _labels19(self, record: Record) -> np.ndarray:
        import numpy as np

        names = record.extra.get("labels")
        where = self.params.part("metadata")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LabelError(where, f"row of {record.key}: labels is not a list of class names")
        y = np.zeros(len(BEN19), dtype=np.float32)
        for n in names:
            if n not in BEN19:
                raise LabelError(where, f"row of {record.key}: unknown label {n!r} (not one of the 19 classes)")
            y[BEN19.index(n)] = 1.0
        return y

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        from .landcover import label_fields, to_mask
        from .raster import read_raster

        p = self.params
        out: dict[str, Any] = {}
        if p.labels == "bigearthnet-19":
            out["labels"] = self._labels19(record)
        if p.reference_maps:
            path = record.paths["map"]
            codes = read_raster(path, count=1, size=(SIZE, SIZE), dtypes=MAP_DTYPES).data[0]
            mask = to_mask(codes, self._lookup(), path)
            out["mask"] = mask
            k = len(self._classes())
            if p.labels == "landcover-8":
                out |= label_fields(mask, k, p.label_threshold, path)
            else:
                valid = mask[mask >= 0]
                counts = np.bincount(valid, minlength=k)[:k]
                out["fractions"] = (counts / max(valid.size, 1)).astype(np.float32)
        x, lat, lon = self._read_x(record)
        out |= {"x": x, "lat": np.float32(lat), "lon": np.float32(lon)}
        return out

