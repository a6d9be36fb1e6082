"""``opensarurban``: Sentinel-1 urban scene patches of 10 categories, VV and VH, one file per polarization."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

import xaibench.components as xc

from .base import Index, Problem, RealDataset, Record, Sources, suffix_filter
from .errors import BadFileError, EmptyDataError
from .params import RealParams, SarParams, distinct
from .tables import OPENSARURBAN_CLASSES, S1_POLARIZATIONS, s1_band

if TYPE_CHECKING:
    import numpy as np

_TOKEN = re.compile(r"[_\-.]")
Units = Literal["auto", "db", "intensity", "amplitude", "quantized"]


class OpenSARUrbanParams(RealParams, SarParams):
    """Polarizations, category folders, patch size and what the pixel values are."""

    polarizations: tuple[Literal["VV", "VH"], ...] = Field(S1_POLARIZATIONS, description="bands of x, in this order")
    classes: tuple[str, ...] = Field(OPENSARURBAN_CLASSES, description="category folder names, in class order")
    size: int | None = Field(100, ge=8, description="patch side in pixels (OpenSARUrban: 100); None: any, all equal")
    units: Units = Field(
        "auto",
        description="pixel values: db, intensity (linear power), amplitude, quantized (8/16-bit image, / dtype max); "
        "auto: float rasters are intensity, integer rasters quantized",
    )
    extensions: tuple[str, ...] = Field((".tif", ".tiff"), description="file extensions read (any GDAL raster)")

    @field_validator("polarizations", "classes")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return distinct(v)


def _polarization(parts: tuple[str, ...]) -> tuple[str | None, str]:
    """The polarization named by a folder or a file-name token, and the sample key without it."""
    found: set[str] = set()
    kept: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        stem = part.rsplit(".", 1)[0] if last else part
        tokens = _TOKEN.split(stem)
        pols = {t.upper() for t in tokens if t.upper() in S1_POLARIZATIONS}
        found |= pols
        rest = [t for t in tokens if t.upper() not in S1_POLARIZATIONS]
        if rest:
            kept.append("_".join(rest))
    return (found.pop() if len(found) == 1 else None), "/".join(kept)


class OpenSARUrban(RealDataset):
    """OpenSARUrban: 100x100 Sentinel-1 patches of Chinese cities in 10 urban categories (single label).

    ``root`` holds one folder per category (``classes``); the VV and VH rasters of a patch are
    told apart by a ``VV`` / ``VH`` folder or file-name token and paired by the rest of their
    path (``DenseResidential/VV/x_12.tif`` with ``DenseResidential/VH/x_12.tif``, or
    ``..._VV.tif`` with ``..._VH.tif``).  Values are converted to dB by ``units`` and scaled
    to [0, 1] with ``s1_db_range`` (``quantized`` images: divided by their dtype's maximum).
    Arrays per split: ``x (N, P, S, S)`` float32, ``label (N,)`` int64, ``labels (N, 10)``
    float32 one-hot, ``id (N,)`` str (``<category>/<patch>``).
    """

    name: ClassVar[str] = "opensarurban"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[OpenSARUrbanParams]] = OpenSARUrbanParams
    params: OpenSARUrbanParams
    layout = "<root>/<Category>/{VV,VH}/<patch>.tif (or <patch>_VV.tif / <patch>_VH.tif)"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        return xc.DatasetInfo(
            name=self.name,
            task="singlelabel",
            classes=p.classes,
            bands=tuple(s1_band(pol, p.s1_db_range) for pol in p.polarizations),
            modalities=("s1",),
            provides=frozenset(),
            extra={"units": p.units, "s1_db_range": list(p.s1_db_range), "size": p.size},
        )

    def index(self) -> Index:
        import logging

        from .scan import find_dirs, walk_files

        p = self.params
        root = self.root()
        folders = find_dirs(root, lambda n: n in p.classes, max_depth=3)
        parents = {f.parent for f in folders.values()} or {root}
        found = sorted({e.name for d in parents for e in d.iterdir() if e.is_dir()})
        if not folders:
            raise self.nothing_found(root, f"category folders ({', '.join(p.classes)}; found: {', '.join(found) or 'none'})")
        missing = [c for c in p.classes if c not in folders]
        if missing:
            raise EmptyDataError(root, f"has no category folder {', '.join(missing)} (found: {', '.join(found)}); "
                                 "set `classes` to your copy's folder names")  # fmt: skip
        other = [t for t in found if t not in p.classes]
        if other:
            logging.getLogger("xaibench").warning("%s: ignoring folders not in `classes`: %s", self.name, ", ".join(other))
        exts = tuple(e.lower() for e in p.extensions)
        records: list[Record] = []
        problems: list[Problem] = []
        for label, cls in enumerate(p.classes):
            samples: dict[str, dict[str, Path]] = {}
            for f in walk_files(folders[cls], lambda n: n.lower().endswith(exts)):
                pol, rest = _polarization(f.relative_to(folders[cls]).parts)
                if pol is None:
                    problems.append(Problem(str(f), "has no VV / VH folder or file-name token (or both)", "file", f"{cls}/{rest}"))
                    continue
                samples.setdefault(rest, {})[pol] = f
            for rest, files in sorted(samples.items()):
                key = f"{cls}/{rest}"
                lacking = [pol for pol in p.polarizations if pol not in files]
                if lacking:
                    have = next(iter(files.values()))
                    problems.append(Problem(str(have), f"has no {'/'.join(lacking)} counterpart", "pair", key))
                    continue
                records.append(Record(key=key, paths={pol: files[pol] for pol in p.polarizations}, stratum=cls,
                                      extra={"label": label}))  # fmt: skip
        return Index(records, problems)

    def sources(self) -> Sources:
        return Sources((Path(self.params.root).expanduser(),), suffix_filter(*self.params.extensions), self.split_side_files())

    def _to_unit(self, data: np.ndarray, dtype: str, path: Path) -> np.ndarray:
        import numpy as np

        from .raster import scale_db

        p = self.params
        units = p.units
        integer = np.issubdtype(np.dtype(dtype), np.integer)
        if units == "auto":
            units = "quantized" if integer else "intensity"
        if units == "quantized":
            if not integer:
                raise BadFileError(path, f"has dtype {dtype}; units 'quantized' expects an 8/16-bit integer image")
            return (data.astype(np.float32) / np.float32(np.iinfo(np.dtype(dtype)).max)).astype(np.float32)
        x = data.astype(np.float64)
        if units in ("intensity", "amplitude"):
            if np.nanmin(x) < 0:
                raise BadFileError(path, f"has negative values; units {units!r} expects linear backscatter (dB? set units: db)")
            x = (10.0 if units == "intensity" else 20.0) * np.log10(np.maximum(x, 1e-10))
        return scale_db(x, p.s1_db_range)

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        from .raster import read_raster

        p = self.params
        size = (p.size, p.size) if p.size else None
        bands = []
        for pol in p.polarizations:
            r = read_raster(record.paths[pol], count=1, size=size)
            bands.append(self._to_unit(r.data[0], r.dtype, record.paths[pol]))
        label = record.extra["label"]
        return {
            "x": np.stack(bands).astype(np.float32),
            "label": np.int64(label),
            "labels": np.eye(len(p.classes), dtype=np.float32)[label],
        }
