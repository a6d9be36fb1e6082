"""An attribution method and a metric, written against xaibench's public interfaces only."""

from __future__ import annotations

import numpy as np

from xaibench.components import AttributionMethod, AttributionRequest, Metric, MetricContext, MetricValue, Params


class EdgeDetector(AttributionMethod):
    """Edge magnitude of the band-mean image, identical for every class (ignores the model)."""

    name = "example-edge"
    version = "1"
    class_specific = False

    class Params(Params):
        scale: float = 1.0

    def incompatibility(self, model_info, layer):
        return None if layer == "input" else "example-edge only explains the input layer"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        x = np.asarray(request.data[f"{request.split}/x"], dtype=np.float32)  # (N, C, H, W)
        mean = x.mean(axis=1)
        gy, gx = np.gradient(mean, axis=(1, 2))
        edges = self.params.scale * np.sqrt(gx**2 + gy**2)  # (N, H, W)
        n_classes = request.data_info.n_classes
        return np.repeat(edges[:, None], n_classes, axis=1).astype(np.float32)


class GiniSparsity(Metric):
    """Gini index of |attributions| per sample and class, averaged (1 = one pixel holds everything)."""

    name = "example-gini"
    higher_is_better = True

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        a = np.abs(np.asarray(ctx.attributions, dtype=np.float64))
        flat = np.sort(a.reshape(a.shape[0] * a.shape[1], -1), axis=1)
        n = flat.shape[1]
        total = flat.sum(axis=1)
        idx = np.arange(1, n + 1)
        gini = np.where(total > 0, 1 - 2 * ((flat * (n + 1 - idx)).sum(axis=1) / (n * np.maximum(total, 1e-30))) + 1 / n, 0.0)
        return [MetricValue("value", float(gini.mean()))]
