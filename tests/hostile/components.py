"""Hostile components for the integrity and isolation tests: each misbehaves as its ``mode`` says.

Module-level classes, so that process-pool workers can import them by name.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

import numpy as np

from xaibench.components import AttributionMethod, Metric, MetricValue, Params, PostProcessor


class HostileMethod(AttributionMethod):
    """The toy model's exact gradient, or a broken map: ``mode`` one of ok, nan, inf, misshaped,
    huge, sleep, exit, interrupt, segfault."""

    name = "hostile-method"

    class Params(Params):
        mode: str = "ok"

    def attribute(self, request) -> np.ndarray:
        x = request.data[f"{request.split}/x"]
        maps = np.einsum("cd,ndhw->nchw", request.model, x).astype(np.float32)
        mode = self.params.mode
        if mode == "nan":
            return np.full_like(maps, np.nan)
        if mode == "inf":
            return np.full_like(maps, np.inf)
        if mode == "misshaped":
            return np.ones((len(x), maps.shape[1], 3, 5), np.float32)
        if mode == "huge":
            return np.ones((len(x), maps.shape[1], 4096, *maps.shape[2:]), np.float32)  # the layer's H x W, 4096 deep
        if mode == "sleep":
            time.sleep(3600)
        if mode == "exit":
            sys.exit(3)
        if mode == "interrupt":
            raise KeyboardInterrupt
        if mode == "segfault":
            os.environ["XAIBENCH_HOSTILE_SEGFAULT"] = "1"
            ctypes.string_at(0)
        return maps


class HostileMetric(Metric):
    """Mean attribution, or a value that is not a finite number (``mode``: ok, string, nan, inf, none)."""

    name = "hostile-metric"

    class Params(Params):
        mode: str = "ok"

    def evaluate(self, ctx) -> list[MetricValue]:
        value = float(np.asarray(ctx.attributions).mean())
        bad = {"string": "0.5", "nan": float("nan"), "inf": float("inf"), "none": None}
        return [MetricValue("value", bad.get(self.params.mode, value)),  # type: ignore[arg-type]
                MetricValue("spread", float(np.asarray(ctx.attributions).std()))]


class HostilePostprocessor(PostProcessor):
    """Divides the maps by their per-sample sum: NaN where a sample's maps sum to zero (``mode: nan``
    zeroes them first)."""

    name = "hostile-postprocessor"

    class Params(Params):
        mode: str = "ok"

    def apply(self, state, test, train):
        maps = np.zeros_like(test) if self.params.mode == "nan" else test
        with np.errstate(invalid="ignore", divide="ignore"):
            return maps / maps.sum(axis=(1, 2, 3), keepdims=True)


CLASSES = [HostileMethod, HostileMetric, HostilePostprocessor]


class HostileTimed(HostileMethod):
    """A method with its own time limit of one second (``stage_seconds``)."""

    name = "hostile-timed"
    stage_seconds = 1.0


CLASSES.append(HostileTimed)
