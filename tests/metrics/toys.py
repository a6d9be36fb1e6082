"""Tiny stand-ins for the other plugins: a SplittableModel, two attribution methods, a context.

Kept independent of the real zoo/attribution plugins so these tests pin the metrics alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from xaibench.bundle import Bundle
from xaibench.components import (
    AttributionMethod,
    AttributionRequest,
    Band,
    DatasetInfo,
    MetricContext,
    ModelInfo,
    Params,
)

CLASSES = ("water", "forest", "urban")


class ToyNet(nn.Module):
    """conv 3x3 -> ReLU -> 2x2 average pool (layer ``"deep"``, ``(N, 8, H/2, W/2)``) -> mean -> linear.

    With ``aux_dim > 0`` a linear map of ``aux`` is added to the logits.
    """

    layer_names: ClassVar[tuple[str, ...]] = ("input", "deep")

    def __init__(self, bands: int = 3, classes: int = len(CLASSES), aux_dim: int = 0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(bands, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)
        self.aux_fc = nn.Linear(aux_dim, classes) if aux_dim else None
        self.eval()

    def _body(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2)

    def _head(self, features: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.fc(features.mean(dim=(2, 3)))
        if self.aux_fc is not None:
            if aux is None:
                raise ValueError("this ToyNet needs aux")
            logits = logits + self.aux_fc(aux)
        return logits

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self._head(self._body(x, aux), aux)

    def split(self, layer: str):
        if layer == "input":
            return (lambda x, aux=None: x), self.forward
        if layer == "deep":
            return self._body, self._head
        raise KeyError(layer)


def _tensors(request: AttributionRequest) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.as_tensor(request.data[f"{request.split}/x"], dtype=torch.float32)
    aux_key = f"{request.split}/aux"
    aux = torch.as_tensor(request.data[aux_key], dtype=torch.float32) if aux_key in request.data else None
    return x, aux


class GradTimesActivation(AttributionMethod):
    """Gradient x activation at the layer, summed over channels: ``(N, classes, H_l, W_l)``."""

    name: ClassVar[str] = "toy-grad"

    class Params(Params):
        pass

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        x, aux = _tensors(request)
        body, head = request.model.split(request.layer)
        with torch.no_grad():
            feats = body(x, aux)
        feats = feats.detach().requires_grad_(True)
        logits = head(feats, aux)
        maps = []
        for c in range(logits.shape[1]):
            (grad,) = torch.autograd.grad(logits[:, c].sum(), feats, retain_graph=True)
            maps.append((grad * feats).sum(dim=1))
        return torch.stack(maps, dim=1).detach().numpy().astype(np.float32)


class ConstantMethod(AttributionMethod):
    """Ignores the input: a fixed random pattern per class, the same for every sample
    (strictly negative everywhere with ``negative=True``)."""

    name: ClassVar[str] = "toy-constant"

    class Params(Params):
        negative: bool = False

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        x, aux = _tensors(request)
        body, head = request.model.split(request.layer)
        with torch.no_grad():
            shape = body(x, aux).shape
            n_classes = head(body(x, aux), aux).shape[1]
        pattern = np.random.default_rng(request.seed).normal(size=(n_classes, shape[2], shape[3]))
        if self.params.negative:
            pattern = -np.abs(pattern) - 0.1
        return np.broadcast_to(pattern, (shape[0], *pattern.shape)).astype(np.float32)


def toy_data(n: int = 6, bands: int = 3, size: int = 8, aux_dim: int = 0, seed: int = 0) -> tuple[Bundle, DatasetInfo]:
    """Random test split: ``x`` ``(n, bands, size, size)`` in 0-1, ``mask``, ``labels``, ``label`` (and ``aux``)."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    test: dict[str, np.ndarray] = {
        "x": rng.uniform(0, 1, (n, bands, size, size)).astype(np.float32),
        "mask": rng.integers(0, k, (n, size, size)).astype(np.int64),
        "label": rng.integers(0, k, n).astype(np.int64),
    }
    test["labels"] = np.eye(k, dtype=np.float32)[test["label"]]
    if aux_dim:
        test["aux"] = rng.normal(size=(n, aux_dim)).astype(np.float32)
    info = DatasetInfo(
        name="toy",
        task="singlelabel",
        classes=CLASSES,
        bands=tuple(Band(f"B{i}") for i in range(bands)),
        provides=frozenset({"mask"} | ({"aux"} if aux_dim else set())),
    )
    return Bundle.from_splits({"test": test}), info


def make_ctx(
    data: Bundle,
    info: DatasetInfo,
    model: Any = None,
    method: AttributionMethod | None = None,
    layer: str = "input",
    attributions: np.ndarray | None = None,
    group: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> MetricContext:
    """A metric context as the core would build it; with ``method`` and no ``attributions``
    the attributions are computed by ``method``."""
    if method is not None and attributions is None:
        attributions = method.attribute(AttributionRequest(model, data, info, "test", layer, seed))
    return MetricContext(
        data=data,
        data_info=info,
        model_info=ModelInfo(layers=ToyNet.layer_names),
        seed=seed,
        load_model=lambda: model,
        layer=layer,
        method=method,
        attributions=attributions,
        group=dict(group or {}),
    )
