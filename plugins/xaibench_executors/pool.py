"""A process-pool executor: several stages at once on one machine."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from xaibench.components import Executor, Params
from xaibench.scheduling import DependencyTracker
from xaibench.stages import Stage, StageOutcome, StageRunner


def _init_worker(threads: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


class PoolExecutor(Executor):
    """Runs independent stages in parallel worker processes (spawned, so torch is safe).

    Workers load plugins through entry points; components registered only
    in-process (tests) are not visible to them.
    """

    name = "process-pool"

    class Params(Params):
        workers: int = 2
        """Number of worker processes."""
        threads_per_worker: int = 1
        """Torch/OpenMP threads per worker (workers x threads should not exceed the cores)."""

    def execute(self, stages: Sequence[Stage], runner: StageRunner, notify: Callable[[Stage, StageOutcome], None]) -> None:
        deps = DependencyTracker(stages)
        running: dict[Future, Stage] = {}
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.params.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(self.params.threads_per_worker,)) as pool:
            while True:
                for stage in deps.ready():
                    running[pool.submit(runner, stage)] = stage
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
                    for failed, why in deps.done(stage, outcome):
                        notify(failed, why)
