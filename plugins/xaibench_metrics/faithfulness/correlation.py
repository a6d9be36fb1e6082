"""Faithfulness correlation and estimate: does the attribution of a set of positions predict the
score drop when they are removed?

- ``faithfulness-correlation`` (Bhatt et al. 2020; Quantus ``FaithfulnessCorrelation``):
  ``nr_runs`` random subsets of ``subset_size`` positions (or ``subset_fraction`` of them) are
  removed one at a time; Pearson correlation, per sample, of the subsets' summed attribution and
  the score drops.  Subsets are drawn with ``numpy.random.RandomState(seed)``, runs outer and
  samples inner, the order Quantus draws them from numpy's global generator.
- ``faithfulness-estimate`` (Alvarez-Melis & Jaakkola 2018; Quantus ``FaithfulnessEstimate``): the
  positions in MoRF order, ``features_in_step`` at a time, each chunk removed alone; Pearson
  correlation of the chunks' summed attribution and the drops.

Both: higher is better; a sample whose attribution or drops are constant scores NaN (not counted).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from xaibench.components import MetricContext, MetricValue

from .base import Faithfulness, FaithfulnessParams, mean_values


class FaithfulnessCorrelation(Faithfulness):
    """Pearson correlation of random subsets' attribution sums and score drops (higher is better)."""

    name: ClassVar[str] = "faithfulness-correlation"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {"value": True, "n": None}
    headline: ClassVar[str | None] = "value"

    class Params(FaithfulnessParams):
        nr_runs: int = Field(100, ge=2)
        subset_fraction: float = Field(0.2, gt=0, lt=1)
        """Share of the layer's positions in each subset ..."""
        subset_size: int | None = Field(None, ge=1)
        """... or their number (Quantus' parameter), which takes precedence."""

    def correlations(self, ctx: MetricContext) -> np.ndarray:
        """Per (sample, map) correlation ``(n, T)``."""
        s = self.setup(ctx)
        n, t = s.classes.shape
        p = s.positions
        size = self.params.subset_size or max(1, round(self.params.subset_fraction * p))
        if size >= p:
            raise ValueError(f"{self.name}: subset_size {size} must be below the layer's {p} positions")
        rng = np.random.RandomState(ctx.seed)
        subsets = np.stack([np.stack([rng.choice(p, size, replace=False) for _ in range(n)])
                            for _ in range(self.params.nr_runs)], axis=1)  # (n, runs, size)
        masks = np.zeros((n, self.params.nr_runs, p), dtype=bool)
        np.put_along_axis(masks, subsets, True, axis=2)
        drops = s.original()[:, :, None] - s.run(lambda i, k: masks[i])
        flat = s.maps.reshape(n, t, -1)
        sums = np.einsum("ntp,nrp->ntr", flat, masks.astype(np.float64))
        return pearson_pairs(sums, drops)

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        return mean_values({"value": self.correlations(ctx)})


class FaithfulnessEstimate(Faithfulness):
    """Pearson correlation of MoRF chunks' attribution sums and score drops (higher is better)."""

    name: ClassVar[str] = "faithfulness-estimate"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {"value": True, "n": None}
    headline: ClassVar[str | None] = "value"

    class Params(FaithfulnessParams):
        features_in_step: int = Field(1, ge=1)
        """Positions removed together in each step."""

    def correlations(self, ctx: MetricContext) -> np.ndarray:
        """Per (sample, map) correlation ``(n, T)``."""
        from .orders import ranks

        s = self.setup(ctx)
        n, t = s.classes.shape
        k = self.params.features_in_step
        morf = ranks(s.maps.reshape(n * t, *s.maps.shape[2:])).reshape(n, t, -1)
        chunks = np.arange(-(-s.positions // k))
        drops = s.original()[:, :, None] - s.run(
            lambda i, c: (morf[i, c][:, None, :] // k) == chunks[None, :, None])  # (p, S, P), a chunk at a time
        flat = s.maps.reshape(n * t, -1)
        ordered = np.take_along_axis(flat, np.argsort(morf.reshape(n * t, -1), axis=1), axis=1)  # MoRF order
        padded = np.pad(ordered, ((0, 0), (0, len(chunks) * k - flat.shape[1])))
        sums = padded.reshape(n, t, len(chunks), k).sum(axis=-1)
        return pearson_pairs(sums, drops)

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        return mean_values({"value": self.correlations(ctx)})


def pearson_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``(n, T, S)`` arrays: ``(n, T)``."""
    from .orders import pearson_rows

    n, t, steps = a.shape
    return pearson_rows(a.reshape(n * t, steps), b.reshape(n * t, steps)).reshape(n, t)
