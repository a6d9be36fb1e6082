"""``shape``: SHAPE modality relevance (Hu et al. 2022) of a multimodal classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

import xaibench.components as xc

from .params import PerformanceName

if TYPE_CHECKING:
    import numpy as np


def modality_bands(info: xc.DatasetInfo) -> dict[str, list[int]]:
    """Band indices of each modality, modalities in order of first appearance in ``info.bands``."""
    groups: dict[str, list[int]] = {}
    for i, band in enumerate(info.bands):
        groups.setdefault(band.modality, []).append(i)
    return groups


class Shape(xc.Metric):
    """SHAPE: Shapley value of each modality's availability on a performance measure.

    Every subset of modalities is evaluated on the ``split`` with the absent modalities'
    bands replaced by a baseline (zeros, or each band's training mean); the performance
    ``V`` of each subset gives exact Shapley values divided by ``scale`` (``Z_f``).
    Statistics, per measure ``m`` of ``performance``:

    - ``shape_<m>`` (sub_key: modality): the modality's Shapley value;
    - ``interaction_<m>``: ``V(all) - V(none) - sum_i (V({i}) - V(none))``, divided by ``Z_f``;
    - ``<m>`` (sub_key: the present modalities joined by ``+``, ``none``): the ``V`` table.

    Cost: ``2**M`` prediction passes over the split (M modalities).
    """

    name: ClassVar[str] = "shape"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "model"
    higher_is_better: ClassVar[bool | None] = None

    class Params(xc.Params):
        performance: tuple[PerformanceName, ...] = Field(("accuracy",), min_length=1, description="measures V")
        baseline: Literal["zeros", "train-mean"] = Field("zeros", description="value of an absent modality's bands")
        scale: float = Field(1.0, gt=0.0, description="Z_f, the model's scaling value")
        split: Literal["train", "val", "test"] = Field("test", description="split the performance is measured on")
        batch_size: int = Field(64, ge=1, description="samples per prediction batch")

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        from .scoring import decisions, model_aux, performance, predict, targets
        from .shapley import coalitions, interaction, shapley_values

        p = self.params
        info = ctx.data_info
        groups = modality_bands(info)
        players = list(groups)
        x = ctx.data[f"{p.split}/x"]
        aux = model_aux(ctx.data, p.split, "aux-input" in ctx.model_info.provides)
        truth = targets(ctx.data, p.split, info.task)
        fill = self._baseline(ctx, x)
        model = ctx.load_model()

        values: dict[str, dict[frozenset[str], float]] = {m: {} for m in p.performance}
        out: list[xc.MetricValue] = []
        for present in coalitions(players):
            xs = x.copy()
            for modality in players:
                if modality not in present:
                    idx = groups[modality]
                    xs[:, idx] = fill[idx][None, :, None, None]
            pred = decisions(predict(model, xs, aux, p.batch_size), info.task)
            key = "+".join(m for m in players if m in present) or "none"
            for m in p.performance:
                values[m][present] = performance(truth, pred, m)
                out.append(xc.MetricValue(m, values[m][present], sub_key=key))
        for m in p.performance:
            for modality, phi in shapley_values(players, values[m], p.scale).items():
                out.append(xc.MetricValue(f"shape_{m}", phi, sub_key=modality))
            out.append(xc.MetricValue(f"interaction_{m}", interaction(players, values[m], p.scale)))
        return out

    def _baseline(self, ctx: xc.MetricContext, x: np.ndarray) -> np.ndarray:
        """Per-band fill value ``(C,)``: zeros, or the training split's band means."""
        import numpy as np

        if self.params.baseline == "zeros":
            return np.zeros(x.shape[1], dtype=x.dtype)
        train = ctx.data["train/x"]
        return train.mean(axis=(0, 2, 3)).astype(x.dtype)
