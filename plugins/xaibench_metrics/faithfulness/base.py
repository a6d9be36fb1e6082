"""What every faithfulness metric shares: its params (target, baseline, scored output, sample cap)
and the plumbing from a context to an :class:`~.engine.Setup`.  Light at import (no torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

if TYPE_CHECKING:
    from .engine import Setup


class FaithfulnessParams(Params):
    target: Literal["predicted", "all"] | int = "predicted"
    """Maps evaluated per sample: the model's top class, every class (each map scored on its own
    class, all in the same batches), or a fixed class index."""
    baseline: Literal["zero", "mean", "blur"] | float = "zero"
    """What a removed position becomes: 0, the sample's per-channel mean, the features blurred by a
    Gaussian of ``blur_sigma`` positions, or a constant.  All channels (bands) of a position are
    removed together."""
    blur_sigma: float = Field(2.0, gt=0)
    output: Literal["auto", "logit", "probability"] = "probability"
    """What is scored: the class's logit, or its probability (softmax for single-label tasks,
    sigmoid for multi-label ones; ``auto`` is the same)."""
    max_instances: int | None = Field(None, ge=1)
    """Evaluate only the first ``max_instances`` test samples (cost control)."""


class Faithfulness(Metric):
    """Base of the faithfulness family: scope ``attribution``, category ``faithfulness``.

    The maps are the cell's (post-processed) attributions at their layer; at ``input`` the input is
    perturbed and the whole model runs, at a layer the layer's features are perturbed and only the
    head runs.  Per-sample values are averaged over samples (and maps with ``target: all``);
    ``n`` counts them.
    """

    scope: ClassVar[Scope] = "attribution"
    category: ClassVar[str | None] = "faithfulness"
    version: ClassVar[str] = "1"

    Params = FaithfulnessParams

    def setup(self, ctx: MetricContext) -> Setup:
        from .engine import prepare

        q: Any = self.params
        return prepare(ctx, q.target, q.max_instances, q.baseline, q.output, q.blur_sigma)


def mean_values(values: dict[str, np.ndarray]) -> list[MetricValue]:
    """``MetricValue``s of the NaN-aware means of per-(sample, map) values, and their count ``n``."""
    out = [MetricValue(k, float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")) for k, v in values.items()]
    first = next(iter(values.values()))
    return [*out, MetricValue("n", float(np.isfinite(first).sum()))]


def curve_values(name: str, curve: np.ndarray, fractions: np.ndarray) -> list[MetricValue]:
    """The mean curve ``(..., S)`` over samples as one value per step, ``sub_key`` the removed fraction."""
    mean = np.nanmean(curve.reshape(-1, curve.shape[-1]), axis=0)
    return [MetricValue(name, float(v), sub_key=f"{f:.4f}") for f, v in zip(fractions, mean)]
