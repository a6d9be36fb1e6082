"""A process-pool executor: several stages at once on one machine."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

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
        queue: list[Stage] = []
        suspects: list[Stage] = []
        """Stages that were running when a worker died: each runs alone, so a crash names its stage."""
        while True:
            crashed = self._run_pool(deps, queue, suspects, runner, notify)
            if not crashed:
                return
            if len(crashed) == 1:  # it ran alone, or it alone was running: it is the one that crashed
                stage, why = crashed[0]
                outcome = StageOutcome(stage.key, "failed", error=f"worker lost: {why}")
                notify(stage, outcome)
                for blocked, reason in deps.done(stage, outcome):
                    notify(blocked, reason)
            else:
                suspects.extend(stage for stage, _ in crashed)

    def _run_pool(self, deps: DependencyTracker, queue: list[Stage], suspects: list[Stage], runner: Callable,
                  notify: Callable[[Stage, StageOutcome], None]) -> list[tuple[Stage, str]]:
        """Run stages in a fresh pool until all are done (returns ``[]``) or a worker dies (returns the
        stages that were running, with what is known of the death)."""
        ctx = mp.get_context("spawn")
        running: dict[Future, Stage] = {}
        workers: dict[int, Any] = {}
        pool = ProcessPoolExecutor(self.params.workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(self.params.threads_per_worker, runner))
        try:
            while True:
                queue.extend(deps.ready())
                if suspects:  # one suspect at a time, alone in the pool
                    if not running:
                        stage = suspects.pop(0)
                        running[pool.submit(_run, stage)] = stage
                else:
                    while queue:
                        stage = queue.pop(0)
                        running[pool.submit(_run, stage)] = stage
                if not running:
                    return []
                workers.update(getattr(pool, "_processes", None) or {})  # kept to read a dead worker's exit code
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    stage = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        workers.update(getattr(pool, "_processes", None) or {})
                        why = _death(list(workers.values()))
                        lost = [(stage, why)] + [(s, why) for s in running.values()]
                        running.clear()
                        return lost
                    except Exception as exc:  # the stage could not be sent or its result not returned
                        outcome = StageOutcome(stage.key, "failed", error=f"worker lost: {type(exc).__name__}: {exc}")
                    notify(stage, outcome)
                    for blocked, why in deps.done(stage, outcome):
                        notify(blocked, why)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _death(workers: list[Any]) -> str:
    """How a worker died, from the exit codes of the pool's processes (a negative code is the
    signal that killed it).  The pool's ``_processes`` is private: it is read only for this message."""
    for p in workers:
        p.join(timeout=1)
    codes = [p.exitcode for p in workers if p.exitcode]
    for code in codes:
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"the worker process was killed by {signal.Signals(-code).name}"
    return f"the worker process died (exit code {codes[0]})" if codes else "the worker process died"
