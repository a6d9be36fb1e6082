"""The stage runner: computes one stage from its inputs in the cache and stores its output there.

:class:`StageRunner` is what executors call, in the driver or in a worker process.  It is
picklable: it travels as the plugin session's description, the cache location and the
memory budgets, and the receiving process rebuilds the session (so components registered
in-process reach pool and Ray workers as long as they can be pickled).
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cache import Cache
from .attribute import compute_attribute
from .data import compute_data
from .features import compute_features
from .graph import Stage, StageOutcome
from .inputs import StageInputs
from .metric import compute_metric
from .postprocess import compute_postprocess, compute_prepare
from .train import compute_train

if TYPE_CHECKING:
    from ..bundle import Bundle
    from ..plugins import PluginSession, SessionDescription

COMPUTE: dict[str, Callable[[Stage, StageInputs], Bundle]] = {
    "data": compute_data,
    "train": compute_train,
    "features": compute_features,
    "attribute": compute_attribute,
    "prepare": compute_prepare,
    "postprocess": compute_postprocess,
    "metric": compute_metric,
}


@dataclass(frozen=True)
class RunnerSpec:
    """What a worker needs to make the driver's runner: small, picklable and hashable."""

    session: SessionDescription
    cache_root: str
    memory_budget_mb: int = 2048
    memo_mb: int = 3072


class StageRunner:
    """Computes stages against a cache with the components of ``session``.

    Calling the runner never raises: failures come back in the outcome.
    """

    def __init__(self, session: PluginSession, cache_root: str, memory_budget_mb: int = 2048,
                 memo_mb: int = 3072) -> None:
        self.session = session
        self.cache_root = str(cache_root)
        self.memory_budget_mb = memory_budget_mb
        self.memo_mb = memo_mb
        self.cache = Cache(self.cache_root)
        self.inputs = StageInputs(session, self.cache, self.compute, memory_budget_mb, memo_mb)

    def spec(self) -> RunnerSpec:
        return RunnerSpec(self.session.description(), self.cache_root, self.memory_budget_mb, self.memo_mb)

    @classmethod
    def from_spec(cls, spec: RunnerSpec) -> StageRunner:
        from ..plugins import PluginSession

        return cls(PluginSession.rebuild(spec.session), spec.cache_root, spec.memory_budget_mb, spec.memo_mb)

    def __reduce__(self) -> tuple[Any, ...]:
        return (StageRunner.from_spec, (self.spec(),))

    def __call__(self, stage: Stage) -> StageOutcome:
        start = time.perf_counter()
        if self.cache.has(stage.key):
            return StageOutcome(stage.key, "cached")
        try:
            self.compute(stage)
        except Exception as exc:
            return StageOutcome(
                stage.key, "failed", time.perf_counter() - start,
                error=f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__,
                traceback=traceback.format_exc(),
            )
        return StageOutcome(stage.key, "computed", time.perf_counter() - start)

    def compute(self, stage: Stage) -> Bundle:
        """Compute ``stage`` (its missing inputs too), store it in the cache and return it."""
        seed_everything(int(stage.key[:8], 16) ^ int(stage.spec.get("seed", 0)))
        bundle = COMPUTE[stage.kind](stage, self.inputs)
        self.cache.put(stage.key, bundle)
        self.inputs.remember(stage, bundle)
        return bundle


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch from one integer."""
    import sys

    import numpy as np

    seed = seed % 2**32
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
