"""Parameters shared by every synthetic dataset (pure pydantic, cheap to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator

import xaibench.components as xc

from .bands import DFC2020_CLASSES

if TYPE_CHECKING:
    import numpy as np

    from .scenes import SceneConfig

DEFAULT_PRIORS: tuple[float, ...] = (0.20, 0.10, 0.16, 0.07, 0.16, 0.10, 0.09, 0.12)
"""Relative frequency of each DFC2020 class when picking the classes of a patch."""

CHUNK = 128
"""Samples generated at once: bounds the temporary memory (about 0.5 MB per 64x64 sample)."""


class SplitParams(xc.Params):
    """Sizes, seeding and patch size common to all synthetic datasets.

    Seeding: sample ``i`` of a split is generated from ``(data_seed, split, i)`` only, so by
    default every grid seed (the ``seed`` passed to ``load``) sees the *same* data and seeds
    measure model and method variability on fixed data.  With ``vary_with_grid_seed`` the
    grid seed is mixed into the data seed, and each grid seed gets its own data.
    """

    n_train: int = Field(512, ge=0, description="training patches")
    n_val: int = Field(128, ge=0, description="validation patches")
    n_test: int = Field(256, ge=0, description="test patches")
    patch_size: int = Field(
        64, ge=16, le=512, description="patch side in pixels (64; 120 and 256 like BigEarthNet/DFC2020)"
    )
    data_seed: int = Field(0, ge=0, description="seed of the generated data")
    vary_with_grid_seed: bool = Field(False, description="mix the grid seed into the data seed")

    def effective_seed(self, grid_seed: int) -> int:
        """The seed the data is generated from: ``data_seed`` unless ``vary_with_grid_seed``."""
        if not self.vary_with_grid_seed:
            return self.data_seed
        import numpy as np

        return int(np.random.SeedSequence([self.data_seed, int(grid_seed)]).generate_state(1)[0])

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}


class SceneParams(SplitParams):
    """Knobs of the land-cover scene model (see ``docs/datasets.md``)."""

    noise: float = Field(0.01, ge=0.0, le=0.5, description="std of additive sensor noise (reflectance)")
    region_scale: float = Field(0.15, gt=0.0, le=1.0, description="smoothness of class regions, fraction of patch side")
    boundary_width: float = Field(2.0, ge=0.0, le=20.0, description="width (px) of mixed pixels at class boundaries")
    min_classes: int = Field(1, ge=1, le=8, description="fewest classes drawn per patch")
    max_classes: int = Field(4, ge=1, le=8, description="most classes drawn per patch")
    label_threshold: float = Field(0.1, ge=0.0, lt=1.0, description="area fraction above which a class is a label")
    class_priors: tuple[float, ...] = Field(DEFAULT_PRIORS, description="relative frequency of the 8 classes")
    illumination_jitter: float = Field(0.08, ge=0.0, le=0.5, description="per-patch gain spread (+-)")
    haze: float = Field(0.02, ge=0.0, le=0.2, description="largest haze path reflectance at B1")

    @field_validator("class_priors")
    @classmethod
    def _check_priors(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != len(DFC2020_CLASSES) or min(v) <= 0:
            raise ValueError(
                f"class_priors needs {len(DFC2020_CLASSES)} positive weights ({', '.join(DFC2020_CLASSES)})"
            )
        return v

    @field_validator("max_classes")
    @classmethod
    def _check_range(cls, v: int, info: ValidationInfo) -> int:
        if v < info.data.get("min_classes", 1):
            raise ValueError("max_classes must be >= min_classes")
        return v

    def priors(self) -> np.ndarray:
        """``class_priors`` normalised to sum to 1: ``(8,)`` float64."""
        import numpy as np

        p = np.asarray(self.class_priors, dtype=np.float64)
        return p / p.sum()

    def scene_config(self) -> SceneConfig:
        """The :class:`~.scenes.SceneConfig` for these params."""
        from .scenes import SceneConfig

        return SceneConfig(
            size=self.patch_size,
            region_scale=self.region_scale,
            boundary_width=self.boundary_width,
            min_classes=self.min_classes,
            max_classes=self.max_classes,
            noise=self.noise,
            illumination_jitter=self.illumination_jitter,
            haze=self.haze,
        )
