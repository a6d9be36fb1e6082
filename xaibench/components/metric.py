"""Metrics: scores of a model, of one attribution, or of a group of attributions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .base import Component

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle
    from .attribution import AttributionMethod
    from .dataset import DatasetInfo
    from .model import ModelInfo

Scope = Literal["model", "attribution", "methods", "postprocessors", "models"]


@dataclass(frozen=True)
class MetricValue:
    """One number a metric produces.

    ``statistic`` names it (``"f1_micro"``; ``"value"`` when there is one);
    ``sub_key`` qualifies it (a class name, the second method of a pair).
    For group scopes, ``attribution`` / ``postprocessor`` / ``model`` say which member
    of the group the value belongs to (the first method of a pair).
    """

    statistic: str
    value: float
    sub_key: str = ""
    attribution: str | None = None
    postprocessor: str | None = None
    model: str | None = None


@dataclass
class MetricContext:
    """What a metric sees.  The core loads the arrays before :meth:`Metric.evaluate` runs;
    the trained model is loaded only when the metric calls ``load_model()``.

    - always: ``data`` (Bundle), ``data_info``, ``model_info``, ``seed`` and
      ``load_model()`` (the trained model);
    - scope ``attribution``: ``layer``, ``method`` (the method component, to re-explain
      perturbed inputs with the very same method) and ``attributions`` — test
      attributions ``(N, classes, H_l, W_l)``, post-processed unless the metric sets
      ``needs_raw_attributions`` (then one evaluation is shared by every post-processor);
    - scope ``methods``: ``group`` maps each method alias to its attributions
      (same dataset, model, seed, layer, post-processor);
    - scope ``postprocessors``: ``group`` maps each post-processor alias to the
      same method's attributions (``"none"``-like identity first when present);
    - scope ``models``: ``group`` maps each model alias to its attributions (same dataset,
      seed, layer, method, post-processor) and ``group_info`` to its :class:`ModelInfo`;
      ``model_info`` / ``load_model`` are the first member's.
    """

    data: Bundle
    data_info: DatasetInfo
    model_info: ModelInfo
    seed: int
    load_model: Callable[[], Any]
    layer: str | None = None
    memory_budget_mb: int = 2048
    method: AttributionMethod | None = None
    attributions: np.ndarray | None = None
    group: dict[str, np.ndarray] = field(default_factory=dict)
    group_info: dict[str, ModelInfo] = field(default_factory=dict)
    training: dict[str, float] = field(default_factory=dict)
    """The trainer's flat metrics (``meta["metrics"]`` of the model's weights)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """The trainer's per-epoch records (``meta["history"]``), when the model plugin keeps them."""


class Metric(Component):
    """A score.  ``scope`` decides how often it runs in the grid:

    - ``"model"``: once per (dataset, model, seed); never multiplied by methods;
    - ``"attribution"``: once per (dataset, model, seed, layer, method, post-processor);
    - ``"methods"``: once per (dataset, model, seed, layer, post-processor) over all methods;
    - ``"postprocessors"``: once per (dataset, model, seed, layer, method) over all post-processors;
    - ``"models"``: once per (dataset, seed, layer, method, post-processor) over all models
      (the same layer name in each; models without it are not members).

    ``higher_is_better`` (``None`` when there is no direction) is used by rankings;
    it may be overridden per instance (an adapter whose direction depends on params).
    """

    kind: ClassVar[str] = "metric"
    scope: ClassVar[Scope] = "attribution"
    higher_is_better: ClassVar[bool | None] = True
    directions: ClassVar[dict[str, bool | None]] = {}
    """Direction per statistic where it differs from ``higher_is_better``: ``{"deletion": False,
    "insertion": True, "n_samples": None}``; ``None`` marks a statistic that is not a score
    (a count, a std, a p-value) and is never ranked.  See :meth:`direction`."""
    headline: ClassVar[str | None] = None
    """The statistic ``rank``, the report and the end-of-run table use by default (``None``: the
    metric's only statistic, or ``"value"``)."""
    category: ClassVar[str | None] = None
    """The family the metric belongs to (``"faithfulness"``, ``"robustness"``, ``"localisation"``,
    ``"complexity"``, ``"randomisation"``, ``"agreement"``), shown by ``rank`` and the report."""
    needs_raw_attributions: ClassVar[bool] = False
    """Evaluate the method's raw attributions (before post-processing) once, for every post-processor."""
    streams: ClassVar[bool] = False
    """True for metrics that reduce a chunk of samples at a time: ``ctx.attributions`` and the
    values of ``ctx.group`` are then the stored arrays, possibly lazy (iterate them with
    :func:`xaibench.arrays.iter_chunks`), and large data arrays are read with ``ctx.data.rows``.
    Otherwise they are numpy arrays read whole."""

    def direction(self, statistic: str) -> bool | None:
        """``True`` when a higher ``statistic`` is better, ``False`` when lower is, ``None`` when it is
        not a score."""
        return self.directions.get(statistic, self.higher_is_better)

    def incompatibility(self, model_info: ModelInfo, layer: str | None) -> str | None:
        return None

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        raise NotImplementedError
