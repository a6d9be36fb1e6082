"""Which way each statistic of a metric points, and which statistic speaks for a metric.

A metric declares ``higher_is_better`` (its default direction), ``directions`` per statistic
(``None``: not a score, e.g. a count, a std, a p-value) and a ``headline`` statistic
(:class:`xaibench.components.Metric`).  A run stores them per metric alias in the results
table's metadata (``xaibench.metric_directions``), so ``rank``, the report and the end-of-run
table read the same facts later, without the registry.

**The default statistic of a metric** (one rule, :meth:`MetricDirection.default_statistic`,
used by ``xaibench rank``, the report's leaderboard and the end-of-run table):

1. its declared ``headline``, when the results hold it;
2. else ``value``, else ``mean``;
3. else its only score statistic (direction not ``None``), else its only statistic;
4. else none: the user names one (``--metric alias.statistic``).

A statistic whose direction is ``None`` is shown but never ranked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .components import Metric

FALLBACK_STATISTICS = ("value", "mean")
"""Step 2 of the default-statistic rule, in order."""


@dataclass(frozen=True)
class MetricDirection:
    """The directions of one metric alias's statistics and its headline statistic."""

    higher_is_better: bool | None = None
    """Direction of every statistic not in :attr:`statistics` (``None``: no direction)."""
    statistics: dict[str, bool | None] = field(default_factory=dict)
    headline: str | None = None

    def direction(self, statistic: str) -> bool | None:
        """``True``: higher is better; ``False``: lower is; ``None``: not a score (never ranked)."""
        return self.statistics.get(statistic, self.higher_is_better)

    def default_statistic(self, available: Iterable[str]) -> str | None:
        """The statistic that stands for the metric among ``available`` (the rule in the module docstring)."""
        stats = sorted(set(available))
        if self.headline in stats:
            return self.headline
        for name in FALLBACK_STATISTICS:
            if name in stats:
                return name
        scores = [s for s in stats if self.direction(s) is not None]
        if len(scores) == 1:
            return scores[0]
        return stats[0] if len(stats) == 1 else None

    def to_json(self) -> dict[str, Any]:
        return {"higher_is_better": self.higher_is_better, "statistics": dict(self.statistics),
                "headline": self.headline}

    @classmethod
    def from_json(cls, data: Any) -> MetricDirection:
        """From :meth:`to_json`, or a bare ``bool | None`` (tables written before per-statistic directions)."""
        if not isinstance(data, Mapping):
            return cls(data if isinstance(data, bool) else None)
        return cls(data.get("higher_is_better"), dict(data.get("statistics") or {}), data.get("headline"))

    @classmethod
    def of(cls, metric: Metric) -> MetricDirection:
        """Read from a metric component (an instance: adapters take their direction from their params)."""
        return cls(metric.higher_is_better, dict(metric.directions), metric.headline)


@dataclass(frozen=True)
class MetricDirections:
    """:class:`MetricDirection` per metric alias; an unknown alias has no direction."""

    metrics: dict[str, MetricDirection] = field(default_factory=dict)

    def __getitem__(self, alias: str) -> MetricDirection:
        return self.metrics.get(alias, MetricDirection())

    def __contains__(self, alias: str) -> bool:
        return alias in self.metrics

    def direction(self, alias: str, statistic: str) -> bool | None:
        return self[alias].direction(statistic)

    def default_statistic(self, alias: str, available: Iterable[str]) -> str | None:
        return self[alias].default_statistic(available)

    def to_json(self) -> dict[str, Any]:
        return {alias: d.to_json() for alias, d in sorted(self.metrics.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MetricDirections:
        return cls({alias: MetricDirection.from_json(d) for alias, d in (data or {}).items()})

    @classmethod
    def of(cls, metrics: Mapping[str, Metric]) -> MetricDirections:
        """From metric components by alias (a plan's ``components["metric"]``)."""
        return cls({alias: MetricDirection.of(m) for alias, m in metrics.items()})
