"""Conditioning on the auxiliary vector ``aux`` ``(N, A)`` (bioclimatic variables...)."""

from __future__ import annotations

import torch
from torch import nn

from .base import AuxModule


def _context(aux: torch.Tensor) -> torch.Tensor:
    """``aux`` as a graph leaf that requires grad.

    Captum's LRP hooks the inputs of every linear layer and fails on tensors that do not
    require grad; a fresh leaf keeps the aux path hookable while gradients with respect to
    ``x`` are unchanged (an aux that already requires grad is used as is).
    """
    if aux.requires_grad or not torch.is_grad_enabled():
        return aux
    return aux.detach().requires_grad_(True)


class ConditionalBatchNorm2d(AuxModule):
    """Batch norm without affine parameters, then ``x * (1 + gamma(aux)) + beta(aux)``.

    ``gamma, beta`` come from one linear layer on ``aux``, initialised at zero so that
    training starts from plain batch norm.  Without ``aux`` it raises: the head of a
    conditioned model cannot run without the vector.
    """

    def __init__(self, channels: int, aux_dim: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.film = nn.Linear(aux_dim, 2 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        if aux is None:
            raise ValueError("conditional batch norm needs the auxiliary vector (aux=None)")
        gamma, beta = self.film(_context(aux)).chunk(2, dim=1)
        return self.bn(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class AuxEmbedding(AuxModule):
    """Adds a learned embedding of ``aux`` to a feature map: ``x + mlp(aux)[:, :, None, None]``.

    ``x``: ``(N, C, H, W)``; the MLP is ``A -> C -> C`` with a ReLU.
    """

    def __init__(self, aux_dim: int, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(aux_dim, channels)
        self.relu = nn.ReLU(inplace=False)
        self.fc2 = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        if aux is None:
            raise ValueError("the aux embedding needs the auxiliary vector (aux=None)")
        return x + self.fc2(self.relu(self.fc1(_context(aux))))[:, :, None, None]
