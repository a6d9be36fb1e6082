"""Sanity checks as metrics: does an explanation depend on the model's weights and on the class?

- ``model-randomization`` (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"):
  the method's map for the trained model vs its map for the same model with weights
  re-initialised, cascading from the top layer or one block at a time;
- ``random-logit`` (Sixt et al. 2020, "When Explanations Lie"; Quantus ``RandomLogit``):
  the map for each sample's class vs the map for a random other class.

A method whose maps barely change is flagged: the statistic ``passed`` is 0.  Light at
import (torch loads inside ``evaluate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .arrays import channel_summed, select_classes

if TYPE_CHECKING:
    import torch

Similarity = Literal["spearman", "pearson", "ssim"]


# -- similarity of maps, one value per sample -------------------------------------------------
def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=1) / den
    return np.where(den > 0, np.clip(r, -1.0, 1.0), 0.0)


def _ssim_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Global ("lite") SSIM of min-max normalised maps: one window covering the whole map.

    Written here rather than taken from scikit-image: its windowed SSIM needs maps of
    at least 7 x 7 pixels, and deep-layer maps are often smaller (4 x 4).  Constants
    are SSIM's defaults for a data range of 1 (``C1 = 0.01**2``, ``C2 = 0.03**2``).
    """

    def unit(m: np.ndarray) -> np.ndarray:
        lo, hi = m.min(axis=1, keepdims=True), m.max(axis=1, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return (m - lo) / span

    a, b = unit(a), unit(b)
    c1, c2 = 0.01**2, 0.03**2
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    va, vb = a.var(axis=1), b.var(axis=1)
    cov = ((a - ma[:, None]) * (b - mb[:, None])).mean(axis=1)
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))


def similarity(a: np.ndarray, b: np.ndarray, kind: Similarity, absolute: bool) -> np.ndarray:
    """Similarity of ``a[i]`` and ``b[i]`` for each sample: ``(N, ...)`` maps -> ``(N,)`` float64.

    ``spearman``: Pearson correlation of the values' ranks (ties averaged); ``pearson``;
    ``ssim``: global SSIM of the maps min-max normalised to [0, 1].  ``absolute``
    compares ``|a|`` and ``|b|``.  Identical maps score 1; a constant map against a
    different one scores 0 for the correlations (no relationship can be shown).
    """
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if kind == "spearman":
        out = _pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))
    elif kind == "pearson":
        out = _pearson_rows(a, b)
    elif kind == "ssim":
        out = _ssim_rows(a, b)
    else:
        raise ValueError(f"unknown similarity {kind!r} (known: spearman, pearson, ssim)")
    identical = np.all(a == b, axis=1)
    return np.where(identical, 1.0, out)


# -- shared params and plumbing ----------------------------------------------------------------
class _SanityParams(Params):
    similarity: Similarity = "spearman"
    """How maps are compared per sample (then averaged over samples)."""
    absolute: bool = True
    """Compare absolute values (sign flips do not count as a change)."""
    threshold: float = Field(0.5, description="the check passes when the similarity is below it")
    target: Literal["predicted", "label"] | int = "predicted"
    """Class explained per sample: the model's top class, ``test/label``, or a fixed index."""
    max_instances: int | None = Field(16, ge=1, description="test samples used (cost control)")


def _targets(target: Any, ctx: MetricContext, rows: np.ndarray) -> np.ndarray:
    from .explain import resolve_targets

    if target == "label":
        if "test/label" not in ctx.data:
            raise ValueError("target 'label' needs test/label in the data; use target: predicted")
        return np.asarray(ctx.data["test/label"], dtype=np.int64)[rows]
    return resolve_targets(target, ctx.data, ctx.data_info.n_classes, ctx.load_model, rows=rows)


def _rows(ctx: MetricContext, max_instances: int | None) -> np.ndarray:
    n = len(ctx.data["test/x"])
    return np.arange(n if max_instances is None else min(n, max_instances))


def _verdict(value: float, threshold: float) -> MetricValue:
    """``passed`` 1.0 when ``value`` is below ``threshold``; an undefined (NaN) value fails."""
    return MetricValue("passed", float(np.isfinite(value) and value < threshold))


# -- model-parameter randomization --------------------------------------------------------------
def parameter_blocks(model: torch.nn.Module, n_blocks: int) -> list[list[tuple[str, torch.nn.Module]]]:
    """The model's modules that own parameters and can ``reset_parameters()``, in registration
    order (input to output for sequentially written networks), in ``n_blocks`` contiguous groups."""
    modules = [(name, m) for name, m in model.named_modules()
               if callable(getattr(m, "reset_parameters", None)) and any(True for _ in m.parameters(recurse=False))]
    if not modules:
        raise ValueError("model-randomization: the model has no module with parameters and reset_parameters()")
    bounds = np.linspace(0, len(modules), min(n_blocks, len(modules)) + 1).round().astype(int)
    return [modules[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def randomized(model: torch.nn.Module, blocks: list[list[tuple[str, Any]]], seed: int) -> torch.nn.Module:
    """A copy of ``model`` whose modules in ``blocks`` are re-initialised by their own
    ``reset_parameters()`` (as Quantus' MPRT does), on CPU from ``seed`` so the weights
    do not depend on the device; moved back to the model's device, in eval mode."""
    import copy

    import torch

    device = next(model.parameters()).device
    names = {name for block in blocks for name, _ in block}
    clone = copy.deepcopy(model).cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name, module in clone.named_modules():
            if name in names:
                module.reset_parameters()
    return clone.to(device).eval()


def _block_name(block: list[tuple[str, Any]]) -> str:
    first, last = block[0][0] or "model", block[-1][0] or "model"
    return first if first == last else f"{first}..{last}"


class ModelRandomization(Metric):
    """Model-parameter randomization check (Adebayo et al. 2018): do maps change when weights are random?

    The parameterised modules of the trained model (those with ``reset_parameters()``,
    in registration order) are cut into ``n_blocks`` contiguous blocks.  ``cascading``
    re-initialises blocks from the top (output side) down, cumulatively; ``independent``
    re-initialises one block at a time.  Each randomised model is explained by the very
    same method, layer and seed on the first ``max_instances`` test samples, and the
    target class's map is compared per sample with the trained model's (raw attributions,
    so the value is shared by every post-processor).

    Statistics: ``step_similarity`` per step (``sub_key`` = the randomised block,
    ``to:<module>`` for cascading); ``value`` = the similarity after the last cascading
    step (every weight random), or the mean over blocks for ``independent``; ``passed`` = 1
    when ``value`` < ``threshold``.  A method that ignores the model (an edge detector)
    scores 1 and fails.  Needs a torch ``nn.Module`` model.
    """

    name: ClassVar[str] = "model-randomization"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "attribution"
    higher_is_better: ClassVar[bool | None] = False
    headline: ClassVar[str | None] = "value"
    directions: ClassVar[dict[str, bool | None]] = {"passed": True}
    needs_raw_attributions: ClassVar[bool] = True

    class Params(_SanityParams):
        mode: Literal["cascading", "independent"] = "cascading"
        n_blocks: int = Field(3, ge=1, description="groups of modules randomised per step")

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        import torch

        from .explain import rows_bundle

        if ctx.method is None or ctx.layer is None or ctx.attributions is None:
            raise ValueError("model-randomization needs an attribution-scope context (method, layer, attributions)")
        model = ctx.load_model()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model-randomization needs a torch nn.Module, got {type(model).__name__}")
        q = self.params
        rows = _rows(ctx, q.max_instances)
        targets = _targets(q.target, ctx, rows)
        original = select_classes(channel_summed(np.asarray(ctx.attributions)[rows]), targets)
        data = rows_bundle(ctx.data, "test", rows, ctx.data["test/x"][rows])
        blocks = parameter_blocks(model, q.n_blocks)

        def explain(net: torch.nn.Module) -> np.ndarray:
            from xaibench.components import AttributionRequest

            request = AttributionRequest(model=net, data=data, data_info=ctx.data_info, split="test",
                                         layer=ctx.layer, seed=ctx.seed, memory_budget_mb=ctx.memory_budget_mb)
            return select_classes(channel_summed(np.asarray(ctx.method.attribute(request))), targets)

        values: list[MetricValue] = []
        sims: list[float] = []
        for i in range(len(blocks)):
            if q.mode == "cascading":
                chosen = blocks[len(blocks) - 1 - i:]
                key = f"to:{chosen[0][0][0] or 'model'}"
            else:
                chosen = [blocks[i]]
                key = _block_name(blocks[i])
            net = randomized(model, chosen, ctx.seed + i)
            sim = float(np.mean(similarity(original, explain(net), q.similarity, q.absolute)))
            sims.append(sim)
            values.append(MetricValue("step_similarity", sim, sub_key=key))
        value = sims[-1] if q.mode == "cascading" else float(np.mean(sims))
        return [MetricValue("value", value), _verdict(value, q.threshold), *values]


# -- random logit ------------------------------------------------------------------------------
class RandomLogit(Metric):
    """Random-logit check (Sixt et al. 2020): is the map for a sample's class unlike the map for another class?

    For each of the first ``max_instances`` test samples, the map of its ``target``
    class is compared with the map of a class drawn uniformly (from the seed) among
    the others, both taken from the stored attributions (every class is explained).
    With ``test/labels`` (multi-label), classes present in the sample are avoided
    when another class is left.  Statistics: ``value`` = mean similarity (default
    global SSIM of signed maps, as Quantus' ``RandomLogit``), ``passed`` = 1 when it is
    below ``threshold``.  A method that returns one map for every class scores 1 and fails.
    """

    name: ClassVar[str] = "random-logit"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "attribution"
    higher_is_better: ClassVar[bool | None] = False
    headline: ClassVar[str | None] = "value"
    directions: ClassVar[dict[str, bool | None]] = {"passed": True}

    class Params(_SanityParams):
        similarity: Similarity = "ssim"
        absolute: bool = False
        threshold: float = Field(0.5, description="the check passes when the similarity is below it")

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        if ctx.attributions is None:
            raise ValueError("random-logit needs the attributions of an attribution-scope context")
        maps = channel_summed(np.asarray(ctx.attributions))
        k = maps.shape[1]
        if k < 2:
            raise ValueError("random-logit needs at least two classes")
        q = self.params
        rows = _rows(ctx, q.max_instances)
        targets = _targets(q.target, ctx, rows)
        present = np.asarray(ctx.data["test/labels"])[rows] > 0 if "test/labels" in ctx.data else None
        rng = np.random.default_rng(ctx.seed)
        others = np.empty_like(targets)
        for i, t in enumerate(targets):
            candidates = [c for c in range(k) if c != t and (present is None or not present[i, c])]
            others[i] = rng.choice(candidates or [c for c in range(k) if c != t])
        sims = similarity(maps[rows, targets], maps[rows, others], q.similarity, q.absolute)
        value = float(np.mean(sims))
        return [MetricValue("value", value), _verdict(value, q.threshold)]
