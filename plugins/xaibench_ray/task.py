"""What a Ray worker runs for one stage.

Kept apart from the executor so that a worker imports only this and the core.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from xaibench.stages import Stage, StageOutcome, StageRunner

# One runner per worker process, reused across tasks: its memo keeps the data and
# the loaded model decoded, so the next stage of the same model skips re-reading them.
_runner: tuple[tuple, StageRunner] | None = None


def worker_runner(state: dict[str, Any]) -> StageRunner:
    """This worker's runner for the driver's ``state`` (made once, then reused)."""
    global _runner
    ident = tuple(sorted(state.items()))
    if _runner is None or _runner[0] != ident:
        runner = StageRunner.__new__(StageRunner)
        runner.__setstate__(dict(state))  # exactly how the runner unpickles
        _runner = (ident, runner)
    return _runner[1]


def run_stage(state: dict[str, Any], stage: Stage, threads: int) -> StageOutcome:
    """Compute ``stage`` into the shared cache; return only the small outcome (never raises).

    ``state`` is the driver's runner state (cache root, memory budgets); ``threads``
    the CPUs Ray reserved for this task, which torch and OpenMP may use.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:  # a worker is reused by tasks of different sizes
        sys.modules["torch"].set_num_threads(threads)
    return worker_runner(state)(stage)
