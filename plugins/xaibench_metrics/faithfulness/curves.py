"""Perturbation curves: deletion / insertion (MoRF and LeRF), pixel-flipping and region perturbation.

- ``deletion-insertion`` (Petsiuk et al. 2018, RISE; the gap as in Blücher et al. 2024, AbPC):
  positions are removed in MoRF order (``deletion``: area under the class score, lower is
  better), in LeRF order (``lerf``: higher is better) and inserted into the baseline in MoRF
  order (``insertion``: higher is better); ``gap`` = ``lerf - deletion`` (higher is better).
  Curves start at the unperturbed input and step ``step`` of the positions at a time; areas are
  over the removed fraction in [0, 1] (the curve's mean height).
- ``pixel-flipping`` (Bach et al. 2015; Quantus ``PixelFlipping``): the MoRF deletion curve,
  ``features_in_step`` positions per step, without the unperturbed point; ``auc`` is Quantus'
  (trapezoids of width 1), lower is better.
- ``region-perturbation`` (Samek et al. 2017; Quantus ``RegionPerturbation``): non-overlapping
  ``patch_size`` patches removed in order of their summed attribution; ``aopc`` is the mean drop
  ``f(x) - f(x_k)`` over ``k = 0..regions`` (higher is better).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from xaibench.components import MetricContext, MetricValue

from .base import Faithfulness, FaithfulnessParams, curve_values, mean_values


class DeletionInsertion(Faithfulness):
    """Deletion (MoRF), LeRF deletion and insertion areas and their gap; the mean curves per step."""

    name: ClassVar[str] = "deletion-insertion"
    higher_is_better: ClassVar[bool | None] = False  # the headline's: what a ranking reading one direction uses
    directions: ClassVar[dict[str, bool | None]] = {
        "deletion": False, "insertion": True, "lerf": True, "gap": True, "n": None,
        "deletion_curve": None, "insertion_curve": None, "lerf_curve": None}
    headline: ClassVar[str | None] = "deletion"

    class Params(FaithfulnessParams):
        step: float = Field(0.05, gt=0, le=1)
        """Share of the layer's positions removed (or inserted) per step."""

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        from .orders import auc, counts, cumulative, ranks

        s = self.setup(ctx)
        n, t = s.classes.shape
        steps = counts(s.positions, self.params.step)
        morf = ranks(s.maps.reshape(n * t, *s.maps.shape[2:])).reshape(n, t, -1)
        lerf = ranks(s.maps.reshape(n * t, *s.maps.shape[2:]), most_relevant_first=False).reshape(n, t, -1)
        deletion = s.run(lambda i, k: cumulative(morf[i, k], steps))
        insertion = s.run(lambda i, k: ~cumulative(morf[i, k], steps))
        lerf_curve = s.run(lambda i, k: cumulative(lerf[i, k], steps))
        areas = {name: auc(c, steps, s.positions) for name, c in
                 (("deletion", deletion), ("insertion", insertion), ("lerf", lerf_curve))}
        areas["gap"] = areas["lerf"] - areas["deletion"]
        fractions = steps / s.positions
        return [*mean_values(areas), *curve_values("deletion_curve", deletion, fractions),
                *curve_values("insertion_curve", insertion, fractions),
                *curve_values("lerf_curve", lerf_curve, fractions)]


class PixelFlipping(Faithfulness):
    """Pixel-flipping: area under the MoRF deletion curve, Quantus' way (lower is better)."""

    name: ClassVar[str] = "pixel-flipping"
    higher_is_better: ClassVar[bool | None] = False
    directions: ClassVar[dict[str, bool | None]] = {"auc": False, "n": None}
    headline: ClassVar[str | None] = "auc"

    class Params(FaithfulnessParams):
        features_in_step: int = Field(1, ge=1)
        """Positions removed per step."""

    def curves(self, ctx: MetricContext) -> np.ndarray:
        """Scores ``(n, T, S)`` after each step (the unperturbed input excluded)."""
        from .orders import cumulative, ranks

        s = self.setup(ctx)
        n, t = s.classes.shape
        k = self.params.features_in_step
        steps = np.minimum(np.arange(1, -(-s.positions // k) + 1) * k, s.positions)
        morf = ranks(s.maps.reshape(n * t, *s.maps.shape[2:])).reshape(n, t, -1)
        return s.run(lambda i, c: cumulative(morf[i, c], steps))

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        curve = self.curves(ctx)
        return mean_values({"auc": np.trapezoid(curve, dx=1.0, axis=-1)})


class RegionPerturbation(Faithfulness):
    """Region perturbation: AOPC of MoRF patch removal (higher is better)."""

    name: ClassVar[str] = "region-perturbation"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {"aopc": True, "n": None}
    headline: ClassVar[str | None] = "aopc"

    class Params(FaithfulnessParams):
        patch_size: int = Field(4, ge=1)
        """Side of the square patches, in the layer's positions."""
        regions: int = Field(16, ge=1)
        """Patches removed (fewer when the map has fewer)."""

    def curves(self, ctx: MetricContext) -> np.ndarray:
        """Drops ``f(x) - f(x_k)`` ``(n, T, regions)`` after each removed patch."""
        from .orders import cumulative, group_ranks, patches

        s = self.setup(ctx)
        n, t = s.classes.shape
        h, w = s.maps.shape[-2:]
        grid = patches(h, w, self.params.patch_size)
        ranked = group_ranks(s.maps.reshape(n * t, h, w), grid).reshape(n, t, -1)
        steps = np.arange(1, min(self.params.regions, int(grid.max()) + 1) + 1)
        return s.original()[:, :, None] - s.run(lambda i, k: cumulative(ranked[i, k], steps))

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        drops = self.curves(ctx)
        aopc = np.concatenate([np.zeros((*drops.shape[:2], 1)), drops], axis=-1).mean(axis=-1)
        return mean_values({"aopc": aopc})
