"""A toy attribution that reports which process computes it, so a test can kill that Ray worker."""

from __future__ import annotations

import os
import time
from pathlib import Path

from xaibench import hookimpl
from xaibench_toy.plugin import ToyGradient


class PidGradient(ToyGradient):
    """toy-gradient that first writes ``<split>-<seed>-<layer>.<pid>.<ns>.pid`` into ``pid_dir``,
    holding the CUDA_VISIBLE_DEVICES it saw (``unset`` if none)."""

    name = "pid-gradient"

    class Params(ToyGradient.Params):
        pid_dir: str

    def attribute(self, request):
        tag = f"{request.split}-{request.seed}-{request.layer}"
        seen = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        Path(self.params.pid_dir, f"{tag}.{os.getpid()}.{time.time_ns()}.pid").write_text(seen)
        return super().attribute(request)


@hookimpl
def register_attributions(register):
    register(PidGradient)
