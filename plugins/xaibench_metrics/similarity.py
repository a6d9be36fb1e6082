"""Correlation between attributions: method vs method, and original vs post-processed."""

from __future__ import annotations

from itertools import combinations
from typing import ClassVar

import numpy as np

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .arrays import channel_summed, pearson


def _correlate(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson over all values; a method that kept per-channel maps ``(N, classes, D, H, W)``
    is compared with a channel-summed one ``(N, classes, H, W)`` through its sum over ``D``."""
    if a.ndim != b.ndim:
        a, b = channel_summed(a), channel_summed(b)
    return pearson(a, b)


class PearsonSimilarity(Metric):
    """Pearson correlation between the attributions of every pair of methods.

    Runs once per (dataset, model, seed, layer, post-processor) over all methods.
    For each ordered pair ``(a, b)``, ``a != b``, the correlation over all test
    attribution values (every sample, class and position) is recorded as
    ``MetricValue("value", r, sub_key=b, attribution=a)``.  Both orders are emitted
    (the value is symmetric) so the method x method matrix can be rebuilt from
    rows of either method.  ``r`` is NaN when a method's attributions are constant.
    Per-channel maps ``(N, classes, D, H, W)`` are compared with channel-summed ones
    through their sum over ``D``.
    """

    name: ClassVar[str] = "pearson-similarity"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "methods"
    higher_is_better: ClassVar[bool | None] = None

    class Params(Params):
        pass

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        values: list[MetricValue] = []
        for a, b in combinations(sorted(ctx.group), 2):
            r = _correlate(ctx.group[a], ctx.group[b])
            values.append(MetricValue("value", r, sub_key=b, attribution=a))
            values.append(MetricValue("value", r, sub_key=a, attribution=b))
        return values


class OriginalVsHarmonized(Metric):
    """Pearson correlation between a method's original attributions and each post-processed version.

    Runs once per (dataset, model, seed, layer, method) over all post-processors.
    For every post-processor alias other than ``reference`` (the identity, ``"none"``
    by default) it records ``MetricValue("value", r, sub_key=<alias>,
    postprocessor=<reference>)``; ``r`` is taken over all test values.
    """

    name: ClassVar[str] = "original-vs-harmonized"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "postprocessors"
    higher_is_better: ClassVar[bool | None] = None

    class Params(Params):
        reference: str = "none"
        """Alias of the identity post-processor the others are compared with."""

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        ref = self.params.reference
        if ref not in ctx.group:
            raise ValueError(
                f"original-vs-harmonized: reference post-processor {ref!r} is not in the group "
                f"({', '.join(sorted(ctx.group))}); add it to the registry or set params.reference"
            )
        original = ctx.group[ref]
        return [
            MetricValue("value", _correlate(original, other), sub_key=alias, postprocessor=ref)
            for alias, other in sorted(ctx.group.items())
            if alias != ref
        ]
