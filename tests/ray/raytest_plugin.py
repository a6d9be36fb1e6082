"""A toy attribution that reports which process computes it, so a test can kill that Ray worker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from xaibench import hookimpl
from xaibench.bundle import Bundle
from xaibench.components import Band, Dataset, DatasetInfo, Params
from xaibench_toy.plugin import ToyGradient


class PidGradient(ToyGradient):
    """toy-gradient that first writes ``<split>-<seed>-<layer>.<pid>.<ns>.<offset>.pid`` into ``pid_dir``
    (``offset``: the request's first sample in its split), holding the CUDA_VISIBLE_DEVICES it saw
    (``unset`` if none)."""

    name = "pid-gradient"

    class Params(ToyGradient.Params):
        pid_dir: str

    def attribute(self, request):
        tag = f"{request.split}-{request.seed}-{request.layer}"
        seen = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        Path(self.params.pid_dir, f"{tag}.{os.getpid()}.{time.time_ns()}.{request.offset}.pid").write_text(seen)
        return super().attribute(request)


@hookimpl
def register_attributions(register):
    register(PidGradient)


class InProcessData(Dataset):
    """Not registered by this plugin's hooks: a test registers it in-process only (``ComponentsPlugin``)."""

    name = "ray-inprocess-data"

    class Params(Params):
        n: int = 4

    def info(self) -> DatasetInfo:
        return DatasetInfo("inprocess", "multilabel", ("a", "b", "c"), (Band("u", 500.0), Band("v", 800.0)))

    def load(self, seed: int) -> Bundle:
        rng = np.random.default_rng(seed)
        return Bundle.from_splits({s: {"x": rng.random((self.params.n, 2, 4, 4), dtype=np.float32),
                                       "labels": np.eye(3, dtype=np.float32)[rng.integers(0, 3, self.params.n)]}
                                   for s in ("train", "val", "test")})
