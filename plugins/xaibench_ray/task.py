"""What a Ray worker runs for one stage.

Kept apart from the executor so that a worker imports only this and the core.
"""

from __future__ import annotations

import os
import sys

from xaibench.stages import Shard, Stage, StageOutcome
from xaibench.stages.runner import RunnerSpec, StageRunner

# One runner per worker process, reused across tasks: its plugin session is rebuilt once and its
# memo keeps the data and the loaded model decoded, so the next stage of the same model skips
# re-reading them.
_runner: tuple[tuple, StageRunner] | None = None


def worker_runner(spec: RunnerSpec) -> StageRunner:
    """This worker's runner for the driver's ``spec`` (made once, then reused)."""
    global _runner
    ident = (spec.session.token, spec.cache_root, spec.memory_budget_mb, spec.memo_mb)
    if _runner is None or _runner[0] != ident:
        _runner = (ident, StageRunner.from_spec(spec))
    return _runner[1]


def run_stage(spec: RunnerSpec, stage: Stage, threads: int) -> StageOutcome:
    """Compute ``stage`` into the shared cache; return only the small outcome (never raises).

    ``spec`` describes the driver's runner (plugin session, cache root, memory budgets);
    ``threads`` the CPUs Ray reserved for this task, which torch and OpenMP may use.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:  # a worker is reused by tasks of different sizes
        sys.modules["torch"].set_num_threads(threads)
    return worker_runner(spec)(stage)


def run_shard(spec: RunnerSpec, shard: Shard, threads: int) -> StageOutcome:
    """Compute one shard of a stage into its own cache entry; return the small outcome (never raises)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return worker_runner(spec).run_shard(shard)
