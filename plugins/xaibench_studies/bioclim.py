"""Model-level metrics of the bioclimatic-context study (Leonhardt et al.): generalization,
auxiliary-vector shuffling and training efficiency."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

import xaibench.components as xc
from xaibench.capabilities import AUX, AUX_INPUT

from .params import PerformanceName

SplitName = Literal["train", "val", "test"]


def _uses_aux(ctx: xc.MetricContext) -> bool:
    return AUX_INPUT in ctx.model_info.provides


class Generalization(xc.Metric):
    """Gen-ML (train minus test performance) and Gen-Geo (spread of per-region performance).

    ``Gen-Geo = sqrt(1/B * sum_b (V_b - V)^2)`` over the ``B`` regions present in the test
    split (``<split>/region``; skipped when the data has none), ``V`` the overall test
    performance.  Statistics: ``gen_ml``, ``gen_geo``, ``<measure>`` with sub_key ``train``,
    ``test`` or ``region:<name>``; all in [0, 1], lower gaps are better.
    """

    name: ClassVar[str] = "generalization"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "model"
    higher_is_better: ClassVar[bool | None] = False
    headline: ClassVar[str | None] = "gen_ml"

    class Params(xc.Params):
        performance: PerformanceName = Field("accuracy", description="measure compared across splits and regions")
        train_split: SplitName = Field("train", description="the split the model was fitted on")
        test_split: SplitName = Field("test", description="the held-out split")
        batch_size: int = Field(64, ge=1, description="samples per prediction batch")

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        import numpy as np

        from .scoring import decisions, model_aux, performance, predict, targets

        p = self.params
        task = ctx.data_info.task
        model = ctx.load_model()
        scores, preds = {}, {}
        for role, split in (("train", p.train_split), ("test", p.test_split)):
            logits = predict(model, ctx.data[f"{split}/x"], model_aux(ctx.data, split, _uses_aux(ctx)), p.batch_size)
            preds[role] = decisions(logits, task)
            scores[role] = performance(targets(ctx.data, split, task), preds[role], p.performance)
        m = p.performance
        out = [xc.MetricValue(m, scores[r], sub_key=r) for r in ("train", "test")]
        out.append(xc.MetricValue("gen_ml", scores["train"] - scores["test"]))
        region_key = f"{p.test_split}/region"
        if region_key in ctx.data:
            region = ctx.data[region_key]
            names = list(ctx.data_info.extra.get("regions", []))
            truth = targets(ctx.data, p.test_split, task)
            per_region = []
            for r in np.unique(region):
                sel = region == r
                v = performance(truth[sel], preds["test"][sel], m)
                per_region.append(v)
                label = names[int(r)] if int(r) < len(names) else str(int(r))
                out.append(xc.MetricValue(m, v, sub_key=f"region:{label}"))
            gen_geo = float(np.sqrt(np.mean((np.asarray(per_region) - scores["test"]) ** 2)))
            out.append(xc.MetricValue("gen_geo", gen_geo))
        return out


class AuxShuffle(xc.Metric):
    """Sanity check: performance drop when the auxiliary vectors are shuffled within the split.

    Each of ``repeats`` permutations (drawn from the grid seed) pairs every image with
    another sample's ``aux``.  Statistics: ``drop`` (original minus mean shuffled
    performance; about 0 when the model ignores ``aux``), ``drop_std``, ``<measure>``
    with sub_key ``original`` / ``shuffled``.
    """

    name: ClassVar[str] = "aux-shuffle"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "model"
    higher_is_better: ClassVar[bool | None] = True
    headline: ClassVar[str | None] = "drop"
    directions: ClassVar[dict[str, bool | None]] = {"drop_std": None}
    requires: ClassVar[frozenset[str]] = frozenset({AUX})

    class Params(xc.Params):
        performance: PerformanceName = Field("accuracy", description="measure V")
        split: SplitName = Field("test", description="split whose aux vectors are shuffled")
        repeats: int = Field(5, ge=1, le=100, description="permutations averaged")
        batch_size: int = Field(64, ge=1, description="samples per prediction batch")

    def incompatibility(self, model_info: xc.ModelInfo, layer: str | None) -> str | None:
        if AUX_INPUT not in model_info.provides:
            return "the model takes no auxiliary vector (no 'aux-input')"
        return None

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        import numpy as np

        from .scoring import decisions, performance, predict, targets

        p = self.params
        task = ctx.data_info.task
        x, aux = ctx.data[f"{p.split}/x"], ctx.data[f"{p.split}/aux"]
        truth = targets(ctx.data, p.split, task)
        model = ctx.load_model()

        def score(a: np.ndarray) -> float:
            return performance(truth, decisions(predict(model, x, a, p.batch_size), task), p.performance)

        original = score(aux)
        gen = np.random.default_rng([ctx.seed, 0x5AF])
        shuffled = np.array([score(aux[gen.permutation(len(aux))]) for _ in range(p.repeats)])
        drops = original - shuffled
        m = p.performance
        return [
            xc.MetricValue("drop", float(drops.mean())),
            xc.MetricValue("drop_std", float(drops.std())),
            xc.MetricValue(m, original, sub_key="original"),
            xc.MetricValue(m, float(shuffled.mean()), sub_key="shuffled"),
        ]


def epochs_to_threshold(curve: list[float], threshold: float, alpha: float = 1.0) -> float:
    """Eff-p: ``alpha`` times the first (1-based) epoch whose value reaches ``threshold``; NaN if none
    (undefined: the model never reached it; NaN keeps it out of means and rankings)."""
    for epoch, value in enumerate(curve, start=1):
        if value >= threshold:
            return alpha * epoch
    return float("nan")


class Efficiency(xc.Metric):
    """Eff-p: epochs (times a walltime multiplier alpha) until validation accuracy reaches ``p``.

    Reads the trainer's per-epoch history (``MetricContext.history``, entry ``key``);
    ``eff`` is NaN when the threshold is never reached.
    """

    name: ClassVar[str] = "efficiency"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "model"
    higher_is_better: ClassVar[bool | None] = False

    class Params(xc.Params):
        threshold: float = Field(0.95, gt=0.0, le=1.0, description="validation accuracy p to reach")
        alpha: float = Field(1.0, gt=0.0, description="relative walltime per epoch vs the baseline model")
        key: str = Field("val_accuracy", description="history entry holding the per-epoch validation accuracy")

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        history = getattr(ctx, "history", None)
        if not history or self.params.key not in history[0]:
            raise ValueError(f"needs the per-epoch training history with {self.params.key!r} "
                             "(MetricContext.history); this model's trainer kept none")
        curve = [float(h[self.params.key]) for h in history]
        return [xc.MetricValue("eff", epochs_to_threshold(curve, self.params.threshold, self.params.alpha))]
