"""Correlation between attributions: method vs method, and original vs post-processed."""

from __future__ import annotations

from itertools import combinations
from typing import ClassVar

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .arrays import pearson_pairs


def _rows(ctx: MetricContext) -> int:
    """Samples correlated at once: the group's maps of that many samples stay within a quarter of the budget."""
    from xaibench.arrays import rows_for

    return rows_for(ctx.memory_budget_mb * 2**20 // 4, *ctx.group.values())


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

    streams: ClassVar[bool] = True

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        values: list[MetricValue] = []
        pairs = list(combinations(sorted(ctx.group), 2))
        found = pearson_pairs(ctx.group, pairs, _rows(ctx))
        for a, b in pairs:
            values.append(MetricValue("value", found[a, b], sub_key=b, attribution=a))
            values.append(MetricValue("value", found[a, b], sub_key=a, attribution=b))
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
    streams: ClassVar[bool] = True

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
        pairs = [(ref, alias) for alias in sorted(ctx.group) if alias != ref]
        found = pearson_pairs(ctx.group, pairs, _rows(ctx))
        return [MetricValue("value", found[ref, alias], sub_key=alias, postprocessor=ref) for _, alias in pairs]
