"""A tiny torch classifier implementing :class:`xaibench.components.SplittableModel`.

The conformance checks explain it instead of a zoo model so that the kit depends on
no plugin.  Architecture (``C`` bands, ``K`` classes, width ``W``)::

    x (N, C, H, W) -conv3x3-ReLU-avgpool2-> "deep" (N, W, H/2, W/2)
        -conv3x3-ReLU-global mean-> (N, W) [concat aux (N, A)] -linear-> logits (N, K)

Each class has its own weights in the last layer, so a method that explains every
class gets a different map per class.  ``split`` returns ``nn.Module`` parts that own
only their layers (Captum's hooks and LRP rules see ordinary modules).
"""

from __future__ import annotations

import torch
from torch import nn

LAYERS = ("input", "deep")


class _Identity(nn.Module):
    """The body at ``"input"``: ``(x, aux) -> x``."""

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return x


class _Body(nn.Module):
    def __init__(self, net: KitNet) -> None:
        super().__init__()
        self.conv1, self.relu1, self.pool1 = net.conv1, net.relu1, net.pool1

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.pool1(self.relu1(self.conv1(x)))


class _Head(nn.Module):
    def __init__(self, net: KitNet) -> None:
        super().__init__()
        self.conv2, self.relu2, self.gap, self.fc = net.conv2, net.relu2, net.gap, net.fc
        self.aux_dim = net.aux_dim

    def forward(self, f: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        z = torch.flatten(self.gap(self.relu2(self.conv2(f))), 1)
        if self.aux_dim:
            if aux is None:
                raise ValueError(f"this model takes an aux vector of size {self.aux_dim}; got aux=None")
            z = torch.cat([z, aux], dim=1)
        return self.fc(z)


class KitNet(nn.Module):
    """``forward(x, aux=None)`` -> logits ``(N, n_classes)``; layers ``"input"`` and ``"deep"``.

    Weights are drawn from ``seed`` without touching the global torch RNG.  The model
    is returned in eval mode.
    """

    layer_names: tuple[str, ...] = LAYERS

    def __init__(self, n_bands: int, n_classes: int, aux_dim: int = 0, width: int = 6, seed: int = 0) -> None:
        super().__init__()
        self.aux_dim = aux_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(n_bands, width, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.pool1 = nn.AvgPool2d(2)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.relu2 = nn.ReLU()
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(width + aux_dim, n_classes)
            with torch.no_grad():  # spread the classes apart so each has a distinct explanation
                self.fc.weight.mul_(4.0)
        self.eval()

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return _Head(self)(_Body(self)(x, aux), aux)

    def split(self, layer: str) -> tuple[nn.Module, nn.Module]:
        """``(body, head)`` with ``head(body(x, aux), aux) == self(x, aux)``."""
        if layer == "input":
            return _Identity(), self
        if layer == "deep":
            return _Body(self), _Head(self)
        raise KeyError(f"KitNet has no layer {layer!r} (layers: {', '.join(LAYERS)})")


def layer_shape(model: KitNet, layer: str, x_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(D_l, H_l, W_l)`` of ``layer`` for inputs of shape ``(N, C, H, W)``."""
    n_bands, h, w = x_shape[1:]
    if layer == "input":
        return n_bands, h, w
    return model.conv1.out_channels, h // 2, w // 2
