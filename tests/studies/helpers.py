"""Tiny contexts for the studies' metrics: hand-built bundles and closed-form torch models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

import xaibench.components as xc
from xaibench.bundle import Bundle


class FnModel(nn.Module):
    """``model(x, aux) = fn(x, aux)``: logits from a closed-form function (no parameters)."""

    layer_names = ("input",)

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.fn(x, aux)


def context(data: Bundle, info: xc.DatasetInfo, model: nn.Module, provides: frozenset[str] = frozenset(),
            training: dict[str, float] | None = None) -> xc.MetricContext:
    return xc.MetricContext(
        data=data,
        data_info=info,
        model_info=xc.ModelInfo(provides=provides),
        seed=0,
        load_model=lambda: model,
        training=dict(training or {}),
    )


def values(out: list[xc.MetricValue], statistic: str) -> dict[str, float]:
    """``sub_key -> value`` of one statistic."""
    return {v.sub_key: v.value for v in out if v.statistic == statistic}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
