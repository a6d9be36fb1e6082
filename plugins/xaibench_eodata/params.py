"""Parameters every real-dataset loader shares (pure pydantic, cheap to import)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

import xaibench.components as xc

SplitName = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")


class RealParams(xc.Params):
    """Where the copy is, how much of it to load, and what to do with bad files.

    Every split is loaded into memory (the grid passes Bundles of arrays), so large
    datasets need ``max_train`` / ``max_val`` / ``max_test`` for anything but a big machine.
    Within a split, samples are ordered by a permutation seeded with ``split_seed``; a cap
    takes a prefix of that order, so raising it only appends samples.
    """

    root: str = Field(..., description="directory of the user's copy (nothing is downloaded)")
    max_train: int | None = Field(None, ge=1, description="at most this many training samples (None: all)")
    max_val: int | None = Field(None, ge=1, description="at most this many validation samples (None: all)")
    max_test: int | None = Field(None, ge=1, description="at most this many test samples (None: all)")
    split_seed: int = Field(0, ge=0, description="seed of random splits, of the sample order and of caps")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="share of samples for val when there is no official split")
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share for test when there is no official split")
    split_files: dict[SplitName, str] | None = Field(
        None, description="split -> CSV/text file listing sample ids (first column); overrides other split rules"
    )
    max_bad_fraction: float = Field(
        0.01, ge=0.0, le=1.0,
        description="largest share of samples that may be skipped (each named in a warning) for unreadable or "
        "malformed files; beyond it loading fails with the first problem",
    )  # fmt: skip
    workers: int = Field(4, ge=1, le=64, description="threads reading files (rasterio releases the GIL)")
    fingerprint: Literal["files", "names", "off"] = Field(
        "files",
        description="what joins the data stage's cache key besides the params: files: relative path, size and "
        "modification time of every file the loader reads; names: their paths only (faster, misses files "
        "overwritten in place); off: the params only",
    )

    @model_validator(mode="after")
    def _fractions(self) -> RealParams:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be < 1 (something must be left for training)")
        return self

    def cap(self, split: str) -> int | None:
        return {"train": self.max_train, "val": self.max_val, "test": self.max_test}[split]


class OpticalParams(RealParams):
    """Scaling of Sentinel-2 digital numbers to reflectance."""

    s2_scale: float = Field(10000.0, gt=0, description="reflectance = DN / s2_scale")
    clip_reflectance: bool = Field(True, description="clip reflectance to [0, 1] (saturated and cloudy pixels exceed 1)")


class SarParams(xc.Params):
    """Scaling of Sentinel-1 backscatter (dB) to [0, 1]."""

    s1_db_range: tuple[float, float] = Field(
        (-25.0, 0.0), description="dB range mapped linearly onto [0, 1], clipped (DFC2020/SEN12MS baseline: [-25, 0])"
    )

    @field_validator("s1_db_range")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] < v[1]:
            raise ValueError("s1_db_range must be [low, high] with low < high")
        return v


class FusionParams(OpticalParams, SarParams):
    """Sentinel-2 and Sentinel-1 stacked in the order of ``modalities`` (subclasses define
    ``modalities``, ``polarizations`` and ``s2_bands()``)."""

    def stacked_bands(self) -> tuple[xc.Band, ...]:
        """The stacked bands: the chosen S2 bands for ``"s2"``, one scaled band per polarization for ``"s1"``."""
        from .tables import S2_BANDS, s1_band

        s2 = {b.name: b for b in S2_BANDS}
        out: list[xc.Band] = []
        for m in self.modalities:  # type: ignore[attr-defined]
            out.extend([s2[n] for n in self.s2_bands()] if m == "s2"  # type: ignore[attr-defined]
                       else [s1_band(pol, self.s1_db_range) for pol in self.polarizations])  # type: ignore[attr-defined]
        return tuple(out)

    def scaling_units(self) -> dict[str, str]:
        """How each modality's values were scaled, for ``DatasetInfo.extra["units"]``."""
        return {"s2": f"reflectance = DN / {self.s2_scale:g}" + (", clipped to [0, 1]" if self.clip_reflectance else ""),
                "s1": "(dB - lo) / (hi - lo), clipped to [0, 1]"}


def check_class_map(v: dict[int, str | None] | None) -> dict[int, str | None] | None:
    """A ``code -> class name (or None: ignored)`` table whose names are among the 8 land-cover classes."""
    from .tables import LANDCOVER8

    if v is not None:
        bad = sorted({n for n in v.values() if n is not None and n not in LANDCOVER8})
        if bad or any(c < 0 for c in v):
            raise ValueError(f"class_map: codes must be >= 0 and names among {', '.join(LANDCOVER8)} (got {bad})")
    return v


def check_bands(selected: tuple[str, ...] | None, available: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``selected`` (canonical names) validated against ``available``, in the order given; ``None``: all."""
    from .tables import canonical_s2

    if selected is None:
        return available
    names = tuple(canonical_s2(b) for b in selected)
    unknown = [b for b in names if b not in available]
    if unknown or len(set(names)) != len(names) or not names:
        raise ValueError(f"{what}: bands must be distinct names among {', '.join(available)} (got {', '.join(selected)})")
    return names


def distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    """Validator body for name lists (modalities, polarizations, classes): non-empty, no repeats."""
    if not values or len(set(values)) != len(values):
        raise ValueError("needs at least one entry, without repeats")
    return values
