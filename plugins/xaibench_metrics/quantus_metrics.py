"""Metrics computed by Quantus: Max-Sensitivity, and any Quantus metric by name.

This module stays light (no torch, no quantus at import); the work happens in
:mod:`.quantus_bridge`, imported by ``evaluate``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import AliasChoices, Field

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .targets import Target


class _QuantusParams(Params):
    target: Target = "predicted"
    """Class explained for each sample: the model's top class, or a fixed class index."""
    batch_size: int = Field(32, ge=1)
    """Samples per Quantus call (each call explains them together)."""
    max_instances: int | None = Field(None, ge=1)
    """Evaluate only the first ``max_instances`` test samples (cost control)."""


class _QuantusBase(Metric):
    """Shared by the Quantus-backed metrics: targets, model and re-explainer from a context."""

    scope: ClassVar[Scope] = "attribution"
    headline: ClassVar[str | None] = "mean"
    directions: ClassVar[dict[str, bool | None]] = {"std": None, "rejected": None}
    """``mean`` (per sample_key) is the score; its spread and the count of rejected samples are not."""
    needs_raw_attributions: ClassVar[bool] = False
    """True when the metric measures the method's raw output (it re-explains inputs
    itself), so its value is the same under every post-processor.  Proposed core
    contract: the planner then feeds it the raw attributions, which makes the stage
    key, hence the computation, shared by all post-processors."""

    def _setup(self, ctx: MetricContext, fresh_draws: bool = False) -> tuple[Any, np.ndarray, Any]:
        """The model, the targets ``(n,)`` and the re-explainer for the evaluated samples."""
        from .explain import Reexplainer, resolve_targets

        if ctx.method is None or ctx.layer is None:
            raise ValueError(f"{self.name} needs an attribution-scope context (method and layer)")
        model = ctx.load_model()
        n = len(ctx.data.rows("test/x"))
        if self.params.max_instances is not None:
            n = min(n, self.params.max_instances)
        targets = resolve_targets(
            self.params.target, ctx.data, ctx.data_info.n_classes, lambda: model, rows=np.arange(n)
        )
        reexplainer = Reexplainer(ctx.method, ctx.data, ctx.data_info, ctx.layer, ctx.seed,
                                  memory_budget_mb=ctx.memory_budget_mb, fresh_draws=fresh_draws)
        return model, targets, reexplainer


class MaxSensitivity(_QuantusBase):
    """Max-Sensitivity (Yeh et al. 2019) of the method, through ``quantus.MaxSensitivity``.

    For each test sample, ``nr_samples`` copies of the input receive uniform noise in
    ``[-radius, radius]`` (every band and pixel, in input units: reflectance 0-1 for
    optical bands) and are re-explained by the very same method and layer, a batch of
    samples at a time; the score is
    ``max_k ||a(x + noise_k) - a(x)||_F / ||a(x)||_F`` over the target class's map.
    Maps from a deep layer are upsampled bilinearly to the input size first (Quantus
    requires attributions laid out like the input); as the same upsampling is applied
    to both maps, the ratio still compares the layer's maps.

    The original input is re-explained as well (not taken from the stored, possibly
    post-processed attributions) so both terms come from one code path: the value
    describes the method, whatever the post-processor.  A method whose map ignores
    the input scores exactly 0.

    Stochastic methods (SmoothGrad, Gradient-SHAP...) re-explain each perturbed input with fresh
    random draws (a seed derived from the grid's seed and the call, see
    :class:`~.explain.Reexplainer`), as they would explain a new input; with
    ``common_random_numbers`` every explanation reuses the grid's seed instead, which measures
    the sensitivity to the input alone but hides the method's own variance (a seeded SmoothGrad
    then looks more robust than it is).  Deterministic methods score the same either way.

    Statistics over samples: ``mean``, ``std`` (NaN-aware), and ``rejected``: samples
    whose maps Quantus refuses (all zero, constant or all negative), scored NaN.
    """

    name: ClassVar[str] = "max-sensitivity"
    version: ClassVar[str] = "2"
    category: ClassVar[str | None] = "robustness"
    higher_is_better: ClassVar[bool | None] = False
    needs_raw_attributions: ClassVar[bool] = True

    class Params(_QuantusParams):
        radius: float = Field(0.02, gt=0, validation_alias=AliasChoices("radius", "perturb_radius"))
        """Half-width of the uniform noise, in input units (Quantus ``lower_bound``;
        ``perturb_radius`` in Quantus < 0.5, accepted as an alias)."""
        nr_samples: int = Field(10, ge=1)
        """Perturbed copies per sample; the score is the maximum over them."""
        common_random_numbers: bool = False
        """Re-explain with the grid's seed every time (the same noise for original and perturbed
        inputs) instead of fresh draws per explanation."""

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        import quantus

        from . import quantus_bridge as qb

        model, targets, reexplainer = self._setup(ctx, fresh_draws=not self.params.common_random_numbers)
        metric = quantus.MaxSensitivity(
            nr_samples=self.params.nr_samples,
            lower_bound=self.params.radius,
            perturb_func=qb.uniform_noise(np.random.default_rng(ctx.seed)),
            normalise=False,
            abs=False,
            disable_warnings=True,
            display_progressbar=False,
        )
        scores, rejected = qb.evaluate(
            metric,
            model=model,
            data=ctx.data,
            targets=targets,
            reexplainer=reexplainer,
            given=None,
            s_batch=None,
            chunk_size=self.params.batch_size,
        )
        return qb.summarise(scores, rejected)


class _FromQuantus:
    """Class attribute read from the Quantus metric an instance's params name.

    On the class it is ``None`` (the adapter has no direction of its own); on an
    instance it is resolved on first access, so constructing the component does not
    import Quantus.
    """

    def __init__(self, key: str) -> None:
        self.key = key

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return None
        return obj.quantus_info()[self.key]


class QuantusMetric(_QuantusBase):
    """Any Quantus metric, by name: ``metric: "Sparseness"`` (class or display name).

    ``metric_params`` go to the Quantus constructor (string values of ``*_func`` keys
    name functions of ``quantus.functions`` or numpy); ``call_params`` to its call
    (``softmax``...).  The model is wrapped so Quantus sees ``forward(x)``, the
    explain function re-explains with the context's method, layer and seed, and each
    sample is explained for ``target`` (multi-label models: the top class).
    Multi-band inputs are passed as they are (channel first); attributions are the
    target's map, channel-summed and upsampled to the input size unless the method
    kept one map per band at the input.

    ``attributions``: ``"given"`` hands Quantus the stored (post-processed) maps;
    ``"explain"`` lets it explain the originals itself; ``"auto"`` explains for the
    metrics that compare with re-explanations (Robustness, Randomisation, Input
    Invariance), whose value then describes the method whatever the post-processor
    (``needs_raw_attributions`` is true).
    Localisation metrics get ``s_batch`` = (``test/mask`` == target).  Robustness metrics
    re-explain with fresh random draws, as :class:`MaxSensitivity` does (``common_random_numbers``
    to reuse the grid's seed); Randomisation metrics keep the seed, so that only the weights differ.

    Score direction and category come from Quantus: ``higher_is_better`` (instance
    attribute) and ``category``.  Statistics: ``mean``/``std`` over samples, per
    ``sub_key`` for metrics returning several scores (MPRT: per layer), and
    ``rejected`` (samples whose maps Quantus refuses, scored NaN).
    """

    name: ClassVar[str] = "quantus"
    version: ClassVar[str] = "2"
    higher_is_better = _FromQuantus("higher_is_better")  # type: ignore[assignment]
    category = _FromQuantus("category")
    needs_raw_attributions = _FromQuantus("explain")  # type: ignore[assignment]

    _REEXPLAINING_CATEGORIES: ClassVar[frozenset[str]] = frozenset({"Robustness", "Randomisation"})
    _REEXPLAINING_METRICS: ClassVar[frozenset[str]] = frozenset({"InputInvariance"})

    class Params(_QuantusParams):
        metric: str
        metric_params: dict[str, Any] = {}
        call_params: dict[str, Any] = {}
        attributions: Literal["auto", "given", "explain"] = "auto"
        common_random_numbers: bool = False
        """Robustness metrics: re-explain perturbed inputs with the grid's seed (the same noise for a
        stochastic method's original and perturbed inputs) instead of fresh draws per explanation."""

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self._info: dict[str, Any] | None = None

    def quantus_info(self) -> dict[str, Any]:
        """``cls``, ``higher_is_better``, ``category`` (``"Robustness"``...) and ``explain``
        (whether Quantus explains the originals) of the named metric."""
        if self._info is None:
            from quantus.helpers.enums import ScoreDirection

            from .quantus_bridge import resolve_metric

            cls = resolve_metric(self.params.metric)
            direction = getattr(cls, "score_direction", None)
            category = getattr(getattr(cls, "evaluation_category", None), "value", "None")
            mode = self.params.attributions
            if mode == "auto":
                reexplains = category in self._REEXPLAINING_CATEGORIES or cls.__name__ in self._REEXPLAINING_METRICS
                mode = "explain" if reexplains else "given"
            self._info = {
                "cls": cls,
                "higher_is_better": None if direction is None else direction == ScoreDirection.HIGHER,
                "category": category,
                "explain": mode == "explain",
            }
        return self._info

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        from . import quantus_bridge as qb
        from .explain import to_input_space

        info = self.quantus_info()
        forbidden = {"return_aggregate"} & set(self.params.metric_params)
        if forbidden:
            raise ValueError(f"metric_params {sorted(forbidden)}: xaibench aggregates over samples itself")
        # Some Quantus metrics aggregate by default (Faithfulness Correlation): per
        # chunk that would average chunk means, so per-sample scores are requested.
        kwargs = {
            "disable_warnings": True,
            "display_progressbar": False,
            **self.params.metric_params,
            "return_aggregate": False,
        }
        metric = info["cls"](**qb.resolve_functions(kwargs))

        fresh = info["category"] == "Robustness" and not self.params.common_random_numbers
        model, targets, reexplainer = self._setup(ctx, fresh_draws=fresh)
        x = ctx.data.rows("test/x")
        given = None
        if not info["explain"]:
            if ctx.attributions is None:
                raise ValueError("quantus: no stored attributions to evaluate")
            given = to_input_space(ctx.attributions[: len(targets)], targets, x.shape[1:])
        s_batch = self._segments(ctx, targets) if info["category"] == "Localisation" else None
        # With auxiliary inputs, chunks of one sample let every model call of the
        # metric (batches of perturbations of one sample included) get the right vector.
        chunk = 1 if "test/aux" in ctx.data else self.params.batch_size
        with qb.seeded(ctx.seed):
            scores, rejected = qb.evaluate(
                metric,
                model=model,
                data=ctx.data,
                targets=targets,
                reexplainer=reexplainer,
                given=given,
                s_batch=s_batch,
                chunk_size=chunk,
                call_params=self.params.call_params,
            )
        return qb.summarise(scores, rejected)

    @staticmethod
    def _segments(ctx: MetricContext, targets: np.ndarray) -> np.ndarray:
        if "test/mask" not in ctx.data:
            raise ValueError("Quantus localisation metrics need a segmentation mask (test/mask)")
        mask = ctx.data.rows("test/mask")[: len(targets)]
        return (mask == targets[:, None, None])[:, None].astype(np.float32)
