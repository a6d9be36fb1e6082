"""``synth-bioclim``: land-cover patches located in 5 biogeographic regions, with a bioclimatic vector."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

import xaibench.components as xc
from xaibench.capabilities import AUX, FRACTIONS, GEO, MASK, REGION

from .bands import DFC2020_CLASSES, S2_BANDS, SPLIT_NAMES
from .base import SynthDataset
from .params import SceneParams

if TYPE_CHECKING:
    import numpy as np

RegionName = Literal["boreal", "temperate", "mediterranean", "arid", "tropical"]
_REGIONS: tuple[str, ...] = ("boreal", "temperate", "mediterranean", "arid", "tropical")  # = climate.REGION_NAMES

PRIOR_SHARPNESS = 2.0
"""Exponent the prior shift strength is multiplied by before :func:`.ecology.class_priors`.

At ``prior_shift = 1`` the priors are ``region_c^2 / default_c`` times the moisture response
squared: the regional table sharpened, so that the bioclimatic vector says enough about the
classes for an aux-aware model to gain over an agnostic one at a few hundred training
patches (with the table as is, ResNet-18-CBN and ResNet-18 tie within seed noise).
"""


class BioclimParams(SceneParams):
    """Scene params plus where the patches lie and how strongly climate shapes them."""

    train_regions: tuple[RegionName, ...] | None = Field(None, description="regions of train/val patches; None: all")
    test_regions: tuple[RegionName, ...] | None = Field(None, description="regions of test patches; None: all")
    prior_shift: float = Field(
        1.0, ge=0.0, le=1.0, description="0: same class priors everywhere; 1: sharpened regional priors"
    )
    climate_shift: float = Field(1.0, ge=0.0, le=2.0, description="0: spectra ignore climate; 1: default shift")

    @field_validator("train_regions", "test_regions")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("needs at least one region, without repeats")
        return v

    def regions(self, split: str) -> tuple[int, ...]:
        names = self.test_regions if split == "test" else self.train_regions
        return tuple(_REGIONS.index(r) for r in (names or _REGIONS))


class SynthBioclim(SynthDataset):
    """Synthetic Sentinel-2 land cover whose classes and spectra depend on a bioclimatic vector.

    Each patch lies at a random point of one of 5 regions (boreal, temperate,
    mediterranean, arid, tropical; chosen uniformly among the split's regions); the
    climate there (:mod:`.climate`) sets the class priors (prior shift, sharpened by
    :data:`PRIOR_SHARPNESS`) and dries out
    or greens up the vegetation spectra (covariate shift, :mod:`.ecology`).  Arrays per
    split, besides those of ``synth-landcover`` (``x``, ``mask``, ``labels``, ``label``,
    ``fractions``):

    - ``aux (N, 20)`` float32: BIO1..BIO19 and elevation, normalised to [0, 1] by the
      fixed ranges in ``info().extra["aux_ranges"]``;
    - ``aux_physical (N, 20)`` float32: the same in physical units (degC, mm, %, m);
    - ``region (N,)`` int64 (index into ``info().extra["regions"]``), for evaluation;
    - ``lat``, ``lon`` ``(N,)`` float32 degrees.
    """

    name: ClassVar[str] = "synth-bioclim"
    version: ClassVar[str] = "2"
    Params: ClassVar[type[BioclimParams]] = BioclimParams
    params: BioclimParams

    def info(self) -> xc.DatasetInfo:
        from .climate import AUX_NAMES, AUX_RANGES, AUX_UNITS, REGIONS

        p = self.params
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=DFC2020_CLASSES,
            bands=S2_BANDS,
            modalities=("s2",),
            provides=frozenset({MASK, FRACTIONS, AUX, REGION, GEO}),
            extra={
                "units": "reflectance 0-1",
                "label_threshold": p.label_threshold,
                "aux_names": list(AUX_NAMES),
                "aux_units": list(AUX_UNITS),
                "aux_ranges": AUX_RANGES.tolist(),
                "regions": list(REGIONS),
                "region_boxes": {k: [list(lat), list(lon)] for k, (lat, lon) in REGIONS.items()},
                "split_regions": {s: [list(REGIONS)[i] for i in p.regions(s)] for s in ("train", "val", "test")},
                "prior_shift": p.prior_shift,
                "climate_shift": p.climate_shift,
            },
        )

    def chunk(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        import numpy as np

        from . import ecology
        from .climate import REGIONS, World, bioclim, climate_at, normalise
        from .fields import Stream, sample_rngs, world_rng
        from .scenes import finish_optical, make_layout, optical_signatures, render, scene_fields

        p = self.params
        allowed = np.array(p.regions(SPLIT_NAMES[split]))
        boxes = np.array(list(REGIONS.values()))  # (5, 2, 2)
        region = np.empty(n, dtype=np.int64)
        u = np.empty((n, 2))
        micro = np.empty((n, 2))
        for s, rng in enumerate(sample_rngs(data_seed, split, start, n, Stream.LOCATION)):
            region[s] = allowed[rng.integers(len(allowed))]
            u[s] = rng.random(2)
            micro[s] = rng.standard_normal(2)
        lat = boxes[region, 0, 0] + u[:, 0] * (boxes[region, 0, 1] - boxes[region, 0, 0])
        lon = boxes[region, 1, 0] + u[:, 1] * (boxes[region, 1, 1] - boxes[region, 1, 0])
        bio = bioclim(climate_at(World.draw(world_rng(data_seed)), lat, lon, micro))

        cfg = p.scene_config()
        priors = ecology.class_priors(region, bio, p.priors(), PRIOR_SHARPNESS * p.prior_shift)
        layout = make_layout(sample_rngs(data_seed, split, start, n, Stream.SCENE), priors, cfg)
        base = ecology.class_signatures(bio, p.climate_shift)
        x = finish_optical(layout, render(layout, *optical_signatures(layout, base)), cfg)
        return {
            "x": x,
            **scene_fields(layout, p.label_threshold),
            "aux": normalise(bio),
            "aux_physical": bio.astype(np.float32),
            "region": region,
            "lat": lat.astype(np.float32),
            "lon": lon.astype(np.float32),
        }
