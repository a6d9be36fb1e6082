"""ROAD (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution Methods";
Quantus ``ROAD``): RemOve And Debias.

For each share ``p`` of ``percentages``, the top ``p`` % positions of the map (MoRF; LeRF: the
bottom ones) are removed and filled by noisy linear imputation from their neighbours
(:mod:`.imputation`, the same system for every channel of the layer), which leaks no shape of
the removed region; the statistic is whether the model still predicts the explained class (the
argmax of the logits).  ``morf``: accuracy averaged over the percentages (lower is better),
``lerf`` (higher is better) and ``gap`` = ``lerf - morf`` (higher is better).  The imputation
noise is drawn from a generator seeded by the grid's seed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from xaibench.components import MetricContext, MetricValue

from .base import Faithfulness, FaithfulnessParams, mean_values

DEFAULT_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


class Road(Faithfulness):
    """ROAD: accuracy under MoRF / LeRF removal with noisy linear imputation."""

    name: ClassVar[str] = "road"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {"morf": False, "lerf": True, "gap": True, "n": None}
    headline: ClassVar[str | None] = "gap"

    class Params(FaithfulnessParams):
        percentages: tuple[float, ...] = DEFAULT_PERCENTAGES
        """Shares of the positions removed, in percent."""
        noise: float = Field(0.01, ge=0)
        """Std of the Gaussian noise added to imputed values, in feature units."""

    def accuracy(self, ctx: MetricContext, most_relevant_first: bool = True) -> np.ndarray:
        """Whether the explained class is still the argmax, ``(n, T, len(percentages))`` in {0, 1}."""
        import torch

        from .imputation import impute
        from .orders import ranks

        s = self.setup(ctx)
        s.output = "hit"  # 1 where the explained class is still the top logit
        n, t = s.classes.shape
        p = s.positions
        h, w = s.maps.shape[-2:]
        ranked = ranks(s.maps.reshape(n * t, h, w), most_relevant_first).reshape(n, t, -1)
        removed = np.array([int(p * q / 100) for q in self.params.percentages])
        rng = np.random.default_rng(ctx.seed)
        feats = s.feats.cpu().numpy()

        def fill(samples: np.ndarray, masks: np.ndarray) -> torch.Tensor:
            out = np.stack([np.stack([impute(feats[i], m, self.params.noise, rng) for m in row])
                            for i, row in zip(samples, masks)])
            return torch.as_tensor(out, dtype=torch.float32, device=s.feats.device)

        def masks(i: np.ndarray, k: np.ndarray) -> np.ndarray:
            return ranked[i, k][:, None, :] < removed[None, :, None]

        return s.run(masks, fill)

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        morf = self.accuracy(ctx, True).mean(axis=-1)
        lerf = self.accuracy(ctx, False).mean(axis=-1)
        return mean_values({"morf": morf, "lerf": lerf, "gap": lerf - morf})
