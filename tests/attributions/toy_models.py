"""Tiny models implementing :class:`xaibench.components.SplittableModel`, and request helpers.

- :class:`ToyConvNet`: conv net with a ``"deep"`` layer at half resolution; its body has no
  biases, so ``body(0) == 0`` and a zero baseline at the layer is also the image of a zero
  input (Captum's Layer* methods take input baselines); its head has batch norm and an
  optional aux vector concatenated before the last linear layer.
- :class:`LinearModel`: logits ``W vec(x) + b``, layer ``"input"`` only.
- :class:`ReluNet`: piecewise-linear ReLU network with biases and max pooling, no residual sums.

``model.layer_module(layer)`` gives the module whose output is the layer, for Captum's
Layer* references.  Heads hold the whole model (as many real ``split`` implementations do),
which the LRP shim must cope with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from xaibench.bundle import Bundle
from xaibench.components import AttributionRequest, Band, DatasetInfo


def _init_weights(model: nn.Module) -> None:
    """Variance-preserving weights so that attributions are of order one, not vanishing."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)


class _Part(nn.Module):
    """One side of a split: ``fn(x, aux)`` of the owning model."""

    def __init__(self, model: nn.Module, fn: Callable) -> None:
        super().__init__()
        self.model = model
        self._fn = fn

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self._fn(x, aux)


class _Splittable(nn.Module):
    layer_names: tuple[str, ...] = ("input", "deep")

    def body_forward(self, x: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def head_forward(self, f: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.head_forward(self.body_forward(self.inp(x), aux), aux)

    def split(self, layer: str) -> tuple[nn.Module, nn.Module]:
        if layer == "input":
            return _Part(self, lambda x, aux: x), _Part(self, self.forward)
        if layer == "deep":
            return _Part(self, lambda x, aux: self.body_forward(self.inp(x), aux)), _Part(self, self.head_forward)
        raise KeyError(layer)

    def layer_module(self, layer: str) -> nn.Module:
        return self.inp if layer == "input" else self.deep


class ToyConvNet(_Splittable):
    """``(N, C, H, W)`` -> deep ``(N, width, H/2, W/2)`` -> logits ``(N, n_classes)``;
    ``head_activation`` is the head's nonlinearity (``nn.Tanh`` exercises other rules)."""

    def __init__(self, in_ch: int = 3, n_classes: int = 3, width: int = 5, n_aux: int = 0, seed: int = 0,
                 head_activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Identity()
        self.conv1 = nn.Conv2d(in_ch, width, 3, padding=1, bias=False)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.deep = nn.ReLU()
        self.conv3 = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = head_activation()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width + n_aux, n_classes)
        _init_weights(self)
        with torch.no_grad():  # non-trivial eval statistics
            self.bn3.running_mean.uniform_(-0.2, 0.2)
            self.bn3.running_var.uniform_(0.5, 1.5)
            self.bn3.weight.uniform_(0.5, 1.5)
            self.bn3.bias.uniform_(-0.2, 0.2)
        self.eval()

    def body_forward(self, x, aux):
        return self.deep(self.conv2(self.pool1(self.relu1(self.conv1(x)))))

    def head_forward(self, f, aux):
        z = torch.flatten(self.gap(self.relu3(self.bn3(self.conv3(f)))), 1)
        if aux is not None:
            z = torch.cat([z, aux], dim=1)
        return self.fc(z)


class ReluNet(_Splittable):
    """Piecewise-linear: conv+bias, ReLU, max pooling, linear; no residual sums."""

    def __init__(self, in_ch: int = 3, n_classes: int = 3, width: int = 4, size: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Identity()
        self.conv1 = nn.Conv2d(in_ch, width, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.deep = nn.ReLU()
        self.conv3 = nn.Conv2d(width, width, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(width * (size // 2) ** 2, 8)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(8, n_classes)
        _init_weights(self)
        self.eval()

    def body_forward(self, x, aux):
        return self.deep(self.conv2(self.relu1(self.conv1(x))))

    def head_forward(self, f, aux):
        z = torch.flatten(self.pool(self.relu3(self.conv3(f))), 1)
        return self.fc2(self.relu4(self.fc1(z)))


class LinearModel(nn.Module):
    """Logits ``W vec(x) + b``: the exact contribution of feature ``i`` to class ``k`` is ``W[k, i] x_i``."""

    layer_names: tuple[str, ...] = ("input",)

    def __init__(self, in_ch: int = 3, size: int = 8, n_classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Identity()
        self.fc = nn.Linear(in_ch * size * size, n_classes)
        _init_weights(self)
        self.eval()

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(torch.flatten(self.inp(x), 1))

    def split(self, layer: str) -> tuple[nn.Module, nn.Module]:
        if layer != "input":
            raise KeyError(layer)
        return _Part(self, lambda x, aux: x), _Part(self, self.forward)

    def layer_module(self, layer: str) -> nn.Module:
        return self.inp


def make_bundle(n: int = 3, n_train: int = 6, in_ch: int = 3, size: int = 8, n_aux: int = 0,
                seed: int = 0) -> Bundle:
    """Random ``train``/``test`` inputs in [0, 1) (and aux vectors when ``n_aux``)."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, count in (("train", n_train), ("test", n)):
        fields = {"x": rng.random((count, in_ch, size, size), dtype=np.float32)}
        if n_aux:
            fields["aux"] = rng.normal(size=(count, n_aux)).astype(np.float32)
        splits[split] = fields
    return Bundle.from_splits(splits)


def data_info(in_ch: int = 3, n_classes: int = 3) -> DatasetInfo:
    return DatasetInfo(name="toy", task="multilabel", classes=tuple(f"c{i}" for i in range(n_classes)),
                       bands=tuple(Band(f"b{i}") for i in range(in_ch)))


def make_request(model, data: Bundle, layer: str, seed: int = 0, memory_budget_mb: int = 2048) -> AttributionRequest:
    in_ch = data["test/x"].shape[1]
    device = next(model.parameters()).device
    x = torch.from_numpy(data["test/x"][:1]).to(device)
    aux = torch.from_numpy(data["test/aux"][:1]).to(device) if "test/aux" in data else None
    with torch.no_grad():
        n_classes = model(x, aux).shape[1]
    return AttributionRequest(model=model, data=data, data_info=data_info(in_ch, n_classes), split="test",
                              layer=layer, seed=seed, memory_budget_mb=memory_budget_mb)
