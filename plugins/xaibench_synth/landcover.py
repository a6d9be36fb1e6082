"""``synth-landcover``: Sentinel-2-like 13-band patches with DFC2020 land-cover classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import xaibench.components as xc
from xaibench.capabilities import FRACTIONS, MASK

from .bands import DFC2020_CLASSES, S2_BANDS
from .base import SynthDataset
from .params import SceneParams

if TYPE_CHECKING:
    import numpy as np


class SynthLandcover(SynthDataset):
    """Synthetic Sentinel-2 land cover: 13 bands, 8 DFC2020 classes as amorphous regions.

    Arrays per split (``N`` patches of ``S = patch_size`` pixels):

    - ``x (N, 13, S, S)`` float32: reflectance 0-1 in bands B1..B12 (with B8A and B10);
    - ``mask (N, S, S)`` int64: class index per pixel (argmax of the soft memberships);
    - ``labels (N, 8)`` float32: multi-hot, class area > ``label_threshold`` (10 %);
    - ``label (N,)`` int64: the class with the largest area;
    - ``fractions (N, 8)`` float32: area fraction of each class.

    Data depend on ``params.data_seed`` only (the grid seed does not change them unless
    ``vary_with_grid_seed``).  The generative model is in :mod:`.scenes`.
    """

    name: ClassVar[str] = "synth-landcover"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[SceneParams]] = SceneParams
    params: SceneParams

    def info(self) -> xc.DatasetInfo:
        return xc.DatasetInfo(
            name=self.name,
            task="multilabel",
            classes=DFC2020_CLASSES,
            bands=S2_BANDS,
            modalities=("s2",),
            provides=frozenset({MASK, FRACTIONS}),
            extra={
                "units": "reflectance 0-1",
                "label_threshold": self.params.label_threshold,
                "class_priors": list(self.params.class_priors),
                "shared_spectra": [["Grassland", "Cropland"]],
            },
        )

    def chunk(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        from .fields import Stream, sample_rngs
        from .scenes import finish_optical, make_layout, optical_signatures, render, scene_fields

        cfg = self.params.scene_config()
        layout = make_layout(sample_rngs(data_seed, split, start, n, Stream.SCENE), self.params.priors(), cfg)
        x = finish_optical(layout, render(layout, *optical_signatures(layout)), cfg)
        return {"x": x, **scene_fields(layout, self.params.label_threshold)}
