"""The ``ray`` executor: each stage a Ray task, submitted as soon as its inputs are stored.

Tasks exchange nothing but stage specs and outcomes: a worker reads its inputs
from the shared cache and writes its output there, so the cache root must be a
path every node sees (NFS, Lustre) or an object-store URL (``s3://...``).  The
driver (the ``xaibench run`` process) keeps the dependency book-keeping, the
progress bar and all tracking; workers never talk to the tracking server.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from xaibench.components import Executor, Params
from xaibench.scheduling import DependencyTracker
from xaibench.stages import STAGE_KINDS, Shard, Stage, StageOutcome
from xaibench.stages.runner import StageRunner

log = logging.getLogger("xaibench")


class RayExecutor(Executor):
    """Runs every stage as a Ray task on a local Ray or a Ray cluster (shared cache required)."""

    name = "ray"

    class Params(Params):
        address: str | None = None
        """Cluster to join (``auto``, ``HOST:6379``, ``ray://HOST:10001``); default ``$RAY_ADDRESS``,
        else a new local Ray on this machine."""
        num_cpus: int | None = None
        """CPUs of a new local Ray (default: all cores); ignored when joining a cluster."""
        num_gpus: int | None = None
        """GPUs of a new local Ray (default: those Ray detects); ignored when joining a cluster."""
        cpus_per_stage: dict[str, float] = Field(default_factory=dict)
        """CPUs reserved per task, by stage kind (e.g. ``{train: 4}``); default: the stage's own request (1)."""
        gpus_per_stage: dict[str, float] = Field(default_factory=dict)
        """GPUs per task by stage kind; fractions share a GPU (``{train: 1, attribute: 0.5}``); default 0."""
        max_retries: int = Field(3, ge=0)
        """Times a task is re-run after its worker or node died (stage errors are never retried)."""
        runtime_env: dict[str, Any] | None = None
        """Ray runtime environment for the job (``env_vars``, ``py_modules``, ``pip``...)."""
        worker_memo_mb: int = Field(1024, ge=0)
        """Decoded cache entries and models each worker keeps between its tasks (MB)."""
        hide_gpus_from_cpu_stages: bool = True
        """Run stages given no GPU with ``CUDA_VISIBLE_DEVICES=""``: Ray leaves every GPU visible to
        them, and a model loaded for a metric would otherwise take GPU memory nobody reserved."""
        check_resources: bool = True
        """Fail a stage at once if no node could ever satisfy its request (instead of waiting);
        turn off on an autoscaling cluster whose GPU nodes appear on demand."""
        verbose: bool = False
        """Ray's own logs, the workers' output and the dashboard."""
        shards: bool = True
        """Cut an attribution stage over a large split into sample-range shards, each a task and a
        cache entry of its own (so one stage spreads over the cluster, and a lost worker costs one shard)."""
        shard_mb: float | None = Field(None, gt=0)
        """Input megabytes per shard; default: the registry's ``memory_budget_mb``."""

        @field_validator("cpus_per_stage", "gpus_per_stage")
        @classmethod
        def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
            unknown = sorted(set(value) - set(STAGE_KINDS))
            if unknown:
                raise ValueError(f"unknown stage kind(s) {unknown}; stage kinds are {list(STAGE_KINDS)}")
            if any(v < 0 for v in value.values()):
                raise ValueError("resources per stage must be >= 0")
            return value

    # -- resources ---------------------------------------------------------------
    def task_options(self, stage: Stage) -> dict[str, Any]:
        """Ray ``.options(...)`` for the task computing ``stage``."""
        want = dict(stage.resources)
        own_cpus, own_gpus = want.pop("num_cpus", 1), want.pop("num_gpus", 0)
        cpus = float(self.params.cpus_per_stage.get(stage.kind, own_cpus))
        gpus = float(self.params.gpus_per_stage.get(stage.kind, own_gpus))
        opts: dict[str, Any] = {
            "num_cpus": cpus,
            "num_gpus": gpus,
            "max_retries": self.params.max_retries,
            "retry_exceptions": False,  # the runner returns failures as outcomes; only lost workers retry
            "name": f"xaibench {stage.kind} {stage.label}"[:200],
        }
        if "memory" in want:
            opts["memory"] = want.pop("memory")
        if want:
            opts["resources"] = want
        if gpus == 0 and self.params.hide_gpus_from_cpu_stages:
            # A runtime env of their own also gives these tasks a worker pool of their own, so a
            # process that hid the GPUs never runs a GPU task.  Ray merges env_vars with the job's.
            opts["runtime_env"] = {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}
        return opts

    def _shards(self, plan: Callable[..., list[Shard]], runner: StageRunner, stage: Stage) -> list[Shard]:
        """The shards to run ``stage`` as (``[]``: one task), from the data's size and the budget."""
        if not self.params.shards:
            return []
        try:
            return plan(runner, stage, self.params.shard_mb)
        except Exception as exc:  # the stage then runs whole and reports its own errors
            log.debug("no shards for %s: %s", stage.label, exc)
            return []

    @staticmethod
    def infeasible(opts: dict[str, Any], largest_node: dict[str, float]) -> str | None:
        """Why no node of the cluster can run a task with ``opts``, or None."""
        asks = {"CPU": opts["num_cpus"], "GPU": opts["num_gpus"], **opts.get("resources", {})}
        if "memory" in opts:
            asks["memory"] = opts["memory"]
        for res, n in asks.items():
            have = largest_node.get(res, 0.0)
            if n > have:
                return (f"the stage asks for {n:g} {res} per task but the largest Ray node has {have:g} "
                        f"(lower cpus_per_stage/gpus_per_stage, add nodes, or set check_resources: false)")
        return None

    # -- the loop ----------------------------------------------------------------
    def execute(self, stages: Sequence[Stage], runner: StageRunner,  # type: ignore[override]
                notify: Callable[[Stage, StageOutcome], None]) -> None:
        if not stages:
            return
        import ray

        from .cluster import connect

        p = self.params
        started = connect(p.address, p.num_cpus, p.verbose, p.runtime_env, p.num_gpus)
        try:
            self._run(ray, stages, runner, notify)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, stages: Sequence[Stage], runner: StageRunner,
             notify: Callable[[Stage, StageOutcome], None]) -> None:
        from xaibench.stages.runner import shard_plan

        from .task import run_shard, run_stage

        cpu_task, cpu_shard = ray.remote(run_stage), ray.remote(run_shard)
        # Ray's own default for GPU functions (ray-project/ray#29624): a fresh worker per task, so CUDA
        # state and models on the GPU never outlive the task nor meet a task given another GPU.
        gpu_task, gpu_shard = ray.remote(max_calls=1)(run_stage), ray.remote(max_calls=1)(run_shard)
        spec = runner.spec()
        # Workers do not share the driver's working directory: a relative cache path must be anchored here.
        root = spec.cache_root if "://" in spec.cache_root else str(Path(spec.cache_root).resolve())
        spec = replace(spec, cache_root=root, memo_mb=self.params.worker_memo_mb)
        largest = _largest_node(ray) if self.params.check_resources else None
        deps = DependencyTracker(stages)
        running: dict[Any, Stage] = {}
        sharded: dict[str, tuple[list[Shard], set[str], list[StageOutcome]]] = {}  # stage key -> shards, pending, failed
        # Completions arrive through future callbacks (O(1) each): ray.wait over every running task
        # costs O(tasks) per call, which dominated the driver on grids of thousands of stages.
        finished: queue.SimpleQueue = queue.SimpleQueue()

        def finish(stage: Stage, outcome: StageOutcome) -> None:
            notify(stage, outcome)
            for blocked, why in deps.done(stage, outcome):
                notify(blocked, why)

        try:
            while True:
                for stage in deps.ready():
                    opts = self.task_options(stage)
                    why = self.infeasible(opts, largest) if largest is not None else None
                    if why:
                        finish(stage, StageOutcome(stage.key, "failed", error=f"ResourceError: {why}"))
                        continue
                    threads = max(1, math.floor(opts["num_cpus"]))
                    gpu = opts["num_gpus"] > 0
                    shards = self._shards(shard_plan, runner, stage)
                    if shards:  # one task per shard; the stage is gathered when all are in
                        sharded[stage.key] = (shards, {s.key for s in shards}, [])
                        for shard in shards:
                            ref = (gpu_shard if gpu else cpu_shard).options(**{**opts, "name": opts["name"][:190] + f" {shard.start}"}).remote(spec, shard, threads)
                            running[ref] = (stage, shard)
                            ref.future().add_done_callback(lambda _, ref=ref: finished.put(ref))
                        continue
                    ref = (gpu_task if gpu else cpu_task).options(**opts).remote(spec, stage, threads)
                    running[ref] = (stage, None)
                    ref.future().add_done_callback(lambda _, ref=ref: finished.put(ref))
                if not running:
                    break
                done = [_next(finished)]
                while not finished.empty():
                    done.append(finished.get_nowait())
                for ref in done:
                    stage, shard = running.pop(ref)
                    if shard is None:
                        finish(stage, _outcome(ray, ref, stage))
                        continue
                    shards, pending, failed = sharded[stage.key]
                    got = _outcome(ray, ref, stage)
                    pending.discard(shard.key)
                    if not got.ok:
                        failed.append(got)
                    if not pending:
                        del sharded[stage.key]
                        finish(stage, _shard_failure(failed[0], stage) if failed else runner.gather(stage, shards))
        except BaseException:
            # Interrupted (Ctrl-C) or the driver failed: free the cluster; entries are written
            # atomically, so a killed task leaves nothing half-stored.
            for ref in running:
                ray.cancel(ref, force=True)
            raise


def _next(finished: queue.SimpleQueue) -> Any:
    """The next finished task's ref; waits in short slices so that Ctrl-C is seen at once."""
    while True:
        try:
            return finished.get(timeout=0.5)
        except queue.Empty:
            continue


def _outcome(ray: Any, ref: Any, stage: Stage) -> StageOutcome:
    """The task's outcome; a Ray error (the runner itself never raises) as a failed one."""
    try:
        return ray.get(ref)
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        lost = tuple(getattr(ray.exceptions, n) for n in _LOST if hasattr(ray.exceptions, n))
        if isinstance(exc, lost):  # its worker or node died max_retries + 1 times
            msg = f"worker lost: {msg}"
        return StageOutcome(stage.key, "failed", error=msg[:500])


_LOST = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "OutOfMemoryError", "ObjectLostError")


def _largest_node(ray: Any) -> dict[str, float]:
    """Per resource, the most that one alive node offers (a task runs on one node)."""
    best: dict[str, float] = {}
    for node in ray.nodes():
        if not node.get("Alive", node.get("alive", False)):
            continue
        for res, n in node.get("Resources", {}).items():
            best[res] = max(best.get(res, 0.0), float(n))
    return best


def _shard_failure(outcome: StageOutcome, stage: Stage) -> StageOutcome:
    return StageOutcome(stage.key, "failed", outcome.seconds, outcome.error, outcome.traceback)
