"""IROF (Rieger & Hansen 2020, "IROF: a low resource evaluation metric for explanation methods";
Quantus ``IROF``): superpixels removed in order of their mean attribution.

Superpixels are SLIC segments of the input (scikit-image's ``slic`` with ``start_label=0``,
Quantus' call, on the input's bands as channels); at a deeper layer each position takes the
segment of the input pixel at its centre.  Segments are removed cumulatively in MoRF order of
their mean attribution; the curve is the class score relative to the unperturbed one, and
``aoc`` = segments - area under that curve (trapezoids of width 1), as Quantus computes it:
higher is better.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from xaibench.components import MetricContext, MetricValue

from .base import Faithfulness, FaithfulnessParams, mean_values


def superpixels(x: np.ndarray, grid: tuple[int, int], n_segments: int, compactness: float) -> np.ndarray:
    """SLIC labels ``(N, H_l, W_l)`` of inputs ``x`` ``(N, C, H, W)`` on the layer's grid, relabelled ``0..G-1``
    per sample (segments that no layer position samples disappear)."""
    from skimage.segmentation import slic

    out = []
    for img in x:
        labels = slic(np.moveaxis(img, 0, -1).astype("double"), n_segments=n_segments, compactness=compactness,
                      start_label=0)
        h, w = labels.shape
        rows = ((np.arange(grid[0]) + 0.5) * h / grid[0]).astype(int)
        cols = ((np.arange(grid[1]) + 0.5) * w / grid[1]).astype(int)
        sampled = labels[rows[:, None], cols[None, :]]
        out.append(np.unique(sampled, return_inverse=True)[1].reshape(grid))
    return np.stack(out)


class Irof(Faithfulness):
    """IROF: area over the relative score curve of MoRF superpixel removal (higher is better)."""

    name: ClassVar[str] = "irof"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {"aoc": True, "n": None}
    headline: ClassVar[str | None] = "aoc"

    class Params(FaithfulnessParams):
        n_segments: int = Field(100, ge=2)
        """SLIC's approximate segment count (its default, as Quantus uses)."""
        compactness: float = Field(10.0, gt=0)

    def scores(self, ctx: MetricContext) -> np.ndarray:
        """Per (sample, map) AOC ``(n, T)``."""
        from .orders import cumulative, group_ranks

        s = self.setup(ctx)
        n, t = s.classes.shape
        h, w = s.maps.shape[-2:]
        x = np.asarray(ctx.data.rows("test/x")[np.arange(n)], dtype=np.float64)
        segments = superpixels(x, (h, w), self.params.n_segments, self.params.compactness)
        n_seg = segments.reshape(n, -1).max(axis=1) + 1
        ranked = group_ranks(s.maps.reshape(n * t, h, w), np.repeat(segments, t, axis=0), reduce="mean")
        ranked = ranked.reshape(n, t, -1)
        steps = np.arange(1, int(n_seg.max()) + 1)
        relative = s.run(lambda i, k: cumulative(ranked[i, k], steps)) / s.original()[:, :, None]
        valid = steps[None, :] <= n_seg[:, None]  # samples with fewer segments: their curve stops
        relative = relative * valid[:, None, :]
        return valid.sum(axis=1)[:, None] - np.trapezoid(relative, dx=1.0, axis=-1)

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        return mean_values({"aoc": self.scores(ctx)})
