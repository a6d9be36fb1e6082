"""``synth-sar-optical``: the synth-landcover scenes seen by Sentinel-2 and Sentinel-1, with clouds."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

import xaibench.components as xc
from xaibench.capabilities import FRACTIONS, MASK
from xaibench_eo.capabilities import CLOUDS

from .bands import DFC2020_CLASSES, S1_BANDS, S2_BANDS, SAR_DB_RANGE, SPLIT_NAMES
from .base import SynthDataset
from .params import SceneParams

if TYPE_CHECKING:
    import numpy as np

CloudFraction = float | tuple[float, float]
"""A fixed cloud cover fraction, or ``[lo, hi]``: each patch draws its fraction uniformly in it."""


def _fraction_range(value: CloudFraction) -> tuple[float, float]:
    lo, hi = (value, value) if isinstance(value, (int, float)) else value
    return float(lo), float(hi)


class SarOpticalParams(SceneParams):
    """Scene params plus modalities, SAR options and cloud cover per split."""

    modalities: tuple[Literal["s2", "s1"], ...] = Field(("s2", "s1"), description="sensors in x, in this order")
    polarizations: tuple[Literal["VV", "VH"], ...] = Field(("VV", "VH"), description="SAR bands, in this order")
    looks: float = Field(4.4, gt=0.0, description="equivalent number of looks of the speckle (S1 GRD IW: 4.4)")
    train_cloud_fraction: CloudFraction = Field(0.0, description="cloud cover of training patches, or [lo, hi]")
    val_cloud_fraction: CloudFraction | None = Field(None, description="validation cover; None: as training")
    test_cloud_fraction: CloudFraction = Field(0.0, description="cloud cover of test patches, or [lo, hi]")
    cloud_scale: float = Field(0.12, gt=0.0, le=1.0, description="smoothness of clouds, fraction of patch side")

    @field_validator("modalities", "polarizations")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError("needs at least one entry, without repeats")
        return v

    @field_validator("train_cloud_fraction", "val_cloud_fraction", "test_cloud_fraction")
    @classmethod
    def _fraction(cls, v: CloudFraction | None) -> CloudFraction | None:
        if v is not None:
            lo, hi = _fraction_range(v)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError("cloud fraction must be in [0, 1] (a range as [lo, hi] with lo <= hi)")
        return v

    def cloud_range(self, split: str) -> tuple[float, float]:
        value = {"train": self.train_cloud_fraction, "val": self.val_cloud_fraction, "test": self.test_cloud_fraction}[
            split
        ]
        return _fraction_range(self.train_cloud_fraction if value is None else value)


class SynthSarOptical(SynthDataset):
    """Synthetic Sentinel-2 + Sentinel-1 land cover with clouds set per split.

    The scenes (``mask``, ``labels``, ``label``, ``fractions``) are exactly those of
    ``synth-landcover`` with the same scene params, and so are the optical bands where
    there is no cloud.  Arrays per split:

    - ``x (N, C, S, S)`` float32: the selected modalities in ``modalities`` order; ``s2``
      is the 13 bands (reflectance 0-1, clouds blended in); ``s1`` the selected
      polarisations as backscatter scaled by ``(dB + 30) / 35`` to [0, 1] (clipped);
    - ``cloud_mask (N, S, S)`` uint8 and ``cloud_fraction (N,)`` float32 (with ``s2`` only);
    - the scene fields of ``synth-landcover``.

    Clouds only touch the optical bands: the SAR bands of a cloudy patch are identical
    to those of the same patch without clouds.
    """

    name: ClassVar[str] = "synth-sar-optical"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[SarOpticalParams]] = SarOpticalParams
    params: SarOpticalParams

    def info(self) -> xc.DatasetInfo:
        p = self.params
        bands: list[xc.Band] = []
        for modality in p.modalities:
            bands.extend(S2_BANDS if modality == "s2" else [S1_BANDS[pol] for pol in p.polarizations])
        provides = {MASK, FRACTIONS} | ({CLOUDS} if "s2" in p.modalities else set())
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=DFC2020_CLASSES,
            bands=tuple(bands),
            modalities=tuple(p.modalities),
            provides=frozenset(provides),
            extra={
                "units": {"s2": "reflectance 0-1", "s1": "(dB - lo) / (hi - lo), clipped to [0, 1]"},
                "sar_db_range": list(SAR_DB_RANGE),
                "label_threshold": p.label_threshold,
                "cloud_fraction": {s: list(p.cloud_range(s)) for s in ("train", "val", "test")},
            },
        )

    def chunk(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        import numpy as np

        from .clouds import make_clouds
        from .fields import Stream, sample_rngs
        from .sar import backscatter_db, scale_db
        from .scenes import finish_optical, make_layout, optical_signatures, render, scene_fields

        p = self.params
        cfg = p.scene_config()
        layout = make_layout(sample_rngs(data_seed, split, start, n, Stream.SCENE), p.priors(), cfg)
        out = scene_fields(layout, p.label_threshold)
        parts: dict[str, np.ndarray] = {}
        if "s2" in p.modalities:
            cover = p.cloud_range(SPLIT_NAMES[split])
            clouds = None
            if cover[1] > 0:
                clouds = make_clouds(
                    sample_rngs(data_seed, split, start, n, Stream.CLOUDS), cfg.size, cover, p.cloud_scale
                )
            parts["s2"] = finish_optical(layout, render(layout, *optical_signatures(layout)), cfg, clouds)
            cloud_mask = clouds.mask if clouds is not None else np.zeros(layout.mask.shape, dtype=np.uint8)
            out["cloud_mask"] = cloud_mask
            out["cloud_fraction"] = cloud_mask.mean(axis=(1, 2), dtype=np.float32)
        if "s1" in p.modalities:
            speckle = sample_rngs(data_seed, split, start, n, Stream.SPECKLE)
            parts["s1"] = scale_db(backscatter_db(layout, speckle, tuple(p.polarizations), p.looks))
        out["x"] = np.concatenate([parts[m] for m in p.modalities], axis=1)
        return out
