"""A process-pool executor: several stages at once on one machine."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from pydantic import Field

from xaibench.components import Executor, Params
from xaibench.errors import PluginError
from xaibench.scheduling import DependencyTracker
from xaibench.stages import Stage, StageOutcome

# The runner this worker process received once, at start (its memo of decoded entries and
# loaded models then serves every stage the worker computes).
_runner: Callable[[Stage], StageOutcome] | None = None


def _init_worker(threads: int, runner: Callable[[Stage], StageOutcome]) -> None:
    global _runner
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    _runner = runner


def _run(stage: Stage) -> StageOutcome:
    assert _runner is not None, "worker started without its runner"
    return _runner(stage)


class PoolExecutor(Executor):
    """Runs independent stages in parallel worker processes (spawned, so torch is safe).

    Each worker rebuilds the driver's plugin session (plugins registered in-process included,
    by module name or by pickling), so it computes with exactly the driver's components.
    """

    name = "process-pool"

    class Params(Params):
        workers: int = Field(2, ge=1, le=1024)
        """Number of worker processes."""
        threads_per_worker: int = Field(1, ge=1, le=1024)
        """Torch/OpenMP threads per worker (workers x threads should not exceed the cores)."""

    def execute(self, stages: Sequence[Stage], runner: Callable[[Stage], StageOutcome],
                notify: Callable[[Stage, StageOutcome], None]) -> None:
        if not stages:
            return
        try:
            pickle.dumps(runner)
        except Exception as exc:
            raise PluginError(f"process-pool: the plugin session cannot be sent to worker processes ({exc}); "
                              f"define in-process plugins' classes at module level, or use the local executor") from None
        deps = DependencyTracker(stages)
        running: dict[Future, Stage] = {}
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.params.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(self.params.threads_per_worker, runner)) as pool:
            while True:
                for stage in deps.ready():
                    running[pool.submit(_run, stage)] = stage
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    stage = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except Exception as exc:  # the worker died (killed, out of memory)
                        outcome = StageOutcome(stage.key, "failed", error=f"worker lost: {type(exc).__name__}: {exc}")
                    notify(stage, outcome)
                    for blocked, why in deps.done(stage, outcome):
                        notify(blocked, why)
