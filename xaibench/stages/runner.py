"""The stage runner: computes one stage from its inputs in the cache and stores its output there.

:class:`StageRunner` is what executors call, in the driver or in a worker process.  It is
picklable: it travels as the plugin session's description, the cache location and the
memory budgets, and the receiving process rebuilds the session (so components registered
in-process reach pool and Ray workers as long as they can be pickled).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..arrays import CorruptRows
from ..bundle import Bundle
from ..cache import Cache, CorruptEntry
from ..interrupts import Interrupted
from ..isolation import Guard, StageTimeout, component_of, guarded
from ..limits import Limits, stage_seconds
from .attribute import compute_attribute
from .data import compute_data
from .features import compute_features
from .graph import Shard, Stage, StageOutcome
from .inputs import StageInputs
from .metric import compute_metric
from .postprocess import compute_postprocess, compute_prepare
from .train import compute_train

if TYPE_CHECKING:
    from ..plugins import PluginSession, SessionDescription
    from ..supervisor import CrashJournal

log = logging.getLogger("xaibench")

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
    limits: Limits = Limits()


class StageRunner:
    """Computes stages against a cache with the components of ``session``.

    Calling the runner never raises: failures come back in the outcome.
    """

    def __init__(self, session: PluginSession, cache_root: str, memory_budget_mb: int = 2048,
                 memo_mb: int = 3072, limits: Limits | None = None, journal: CrashJournal | None = None) -> None:
        self.session = session
        self.journal = journal
        """Where this process records the stage it computes (``xaibench.supervisor``); not sent to workers."""
        self.limits = limits or Limits()
        self.cache_root = str(cache_root)
        self.memory_budget_mb = memory_budget_mb
        self.memo_mb = memo_mb
        self.cache = Cache(self.cache_root)
        self.inputs = StageInputs(session, self.cache, self.compute, memory_budget_mb, memo_mb)
        self.inputs.limits = self.limits

    def spec(self) -> RunnerSpec:
        return RunnerSpec(self.session.description(), self.cache_root, self.memory_budget_mb, self.memo_mb, self.limits)

    @classmethod
    def from_spec(cls, spec: RunnerSpec) -> StageRunner:
        from ..plugins import PluginSession

        return cls(PluginSession.rebuild(spec.session), spec.cache_root, spec.memory_budget_mb, spec.memo_mb,
                   spec.limits)

    def __reduce__(self) -> tuple[Any, ...]:
        return (StageRunner.from_spec, (self.spec(),))

    def __call__(self, stage: Stage) -> StageOutcome:
        start = time.perf_counter()
        if self.cache.has(stage.key):
            return StageOutcome(stage.key, "cached")
        if self.journal is None:
            return self._run(stage, start)
        crash = self.journal.crash(stage.key)
        if crash:  # it crashed the process earlier in this invocation (the supervisor restarted it)
            return StageOutcome(stage.key, "failed", error=crash)
        with self.journal.in_flight(stage.key, stage.label or stage.kind):
            return self._run(stage, start)

    def _run(self, stage: Stage, start: float) -> StageOutcome:
        guard, target = Guard(), stage
        try:
            with guarded(self.time_limit(stage)) as guard:
                target = self.succeeded_members(stage)
                try:
                    self.compute(target)
                except (CorruptEntry, CorruptRows) as exc:
                    if not exc.key or exc.key == target.key:
                        raise
                    # an input's row file was found torn while reading it: recompute that input, then this stage
                    log.warning("%s; recomputing it", exc)
                    self.inputs.forget(exc.key)
                    self.cache.discard(exc.key)
                    self.compute(target)
        except KeyboardInterrupt as exc:
            if guard.user_interrupt or isinstance(exc, Interrupted):  # the user's Ctrl-C, SIGTERM: stop the run
                raise
            return failed(stage.key, start, exc, "raised by the stage's code, not by a user's Ctrl-C")
        except SystemExit as exc:
            return failed(stage.key, start, exc, f"the stage's code called sys.exit({exc.code!r})")
        except (Exception, StageTimeout) as exc:
            return failed(stage.key, start, exc)
        return StageOutcome(stage.key, "computed", time.perf_counter() - start,
                            stored_as=target.key if target is not stage else None)

    def succeeded_members(self, stage: Stage) -> Stage:
        """``stage``, or for a group metric some of whose members' maps are missing (their stages
        failed: executors run a group metric once its other inputs are done) the same stage over
        the members that succeeded, which has a key of its own."""
        kept = tuple(m for m in stage.members if self.cache.has(m.attributions.key))
        if len(kept) == len(stage.members):
            return stage
        if not kept:
            raise RuntimeError("no member of the group succeeded")
        return Stage(stage.kind, stage.spec, stage.inputs, kept, label=stage.label, resources=stage.resources)

    def time_limit(self, stage: Stage) -> float | None:
        """The stage's limit: its component's own ``stage_seconds``, else the registry's."""
        ident = component_of(stage)
        cls = None
        if ident is not None:
            with contextlib.suppress(KeyError):
                cls = self.session.catalog.get(ident["kind"], ident["name"]).cls
        return stage_seconds(self.limits, cls)

    def run_shard(self, shard: Shard) -> StageOutcome:
        """Compute one shard of a stage into its own entry (never raises)."""
        start = time.perf_counter()
        if self.cache.has(shard.key):
            return StageOutcome(shard.key, "cached")
        try:
            seed_everything(int(shard.stage.key[:8], 16) ^ int(shard.stage.spec.get("seed", 0)))
            self.cache.put(shard.key, compute_attribute(shard.stage, self.inputs, (shard.start, shard.stop)))
        except Exception as exc:
            return StageOutcome(shard.key, "failed", time.perf_counter() - start,
                                error=f"{type(exc).__name__}: {exc}".splitlines()[0], traceback=traceback.format_exc())
        return StageOutcome(shard.key, "computed", time.perf_counter() - start)

    def gather(self, stage: Stage, shards: list[Shard]) -> StageOutcome:
        """Store ``stage``'s entry from its computed ``shards`` (in the driver; cheap: the maps are
        referenced, a train subset's rows concatenated)."""
        import numpy as np

        start = time.perf_counter()
        try:
            if "train_subset" in stage.spec:
                parts = [self.cache.get(s.key) for s in shards]
                rows = np.concatenate([p["rows"] for p in parts])
                self.cache.put(stage.key, Bundle({"rows": rows, "subset": parts[0]["subset"]}, parts[0].meta))
            else:
                self.cache.gather(stage.key, [s.key for s in shards], meta={"shards": [s.key for s in shards]})
        except Exception as exc:
            return StageOutcome(stage.key, "failed", time.perf_counter() - start,
                                error=f"{type(exc).__name__}: {exc}".splitlines()[0], traceback=traceback.format_exc())
        return StageOutcome(stage.key, "computed", time.perf_counter() - start)

    def compute(self, stage: Stage) -> Bundle:
        """Compute ``stage`` (its missing inputs too), store it in the cache and return it."""
        seed_everything(int(stage.key[:8], 16) ^ int(stage.spec.get("seed", 0)))
        bundle = self.cache.put(stage.key, COMPUTE[stage.kind](stage, self.inputs))
        self.inputs.remember(stage, bundle)
        return bundle


def failed(key: str, start: float, exc: BaseException, why: str = "") -> StageOutcome:
    """The outcome of a stage that raised ``exc``: one line, ``Type: message``, and the traceback."""
    text = why or str(exc)
    return StageOutcome(key, "failed", time.perf_counter() - start,
                        error=f"{type(exc).__name__}: {text}".splitlines()[0] if text else type(exc).__name__,
                        traceback="".join(traceback.format_exception(exc)))


SHARDABLE = ("attribute",)
"""Stage kinds a distributed executor may cut into sample-range shards."""


def shard_plan(runner: StageRunner, stage: Stage, shard_mb: float | None = None) -> list[Shard]:
    """Sample-range shards of ``stage`` whose inputs take at most ``shard_mb`` (default: the
    memory budget) each; ``[]`` when the stage is not shardable or fits in one.  Reads the
    data entry's row counts, so call it once the stage's inputs are in the cache."""
    import numpy as np

    from ..arrays import rows_for
    from .features import split_rows

    if stage.kind not in SHARDABLE:
        return []
    method = runner.inputs.component(stage.spec["method"])
    if getattr(method, "whole_split", False):
        return []
    rows = split_rows(runner.inputs.load(stage.inputs["data"]), stage.spec["split"])
    budget = float(shard_mb if shard_mb is not None else runner.memory_budget_mb) * 2**20
    per = rows_for(max(1, int(budget)), rows)
    if per >= len(rows):
        return []
    return [Shard(stage, int(s), int(min(len(rows), s + per))) for s in np.arange(0, len(rows), per)]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch from one integer."""
    import sys

    import numpy as np

    seed = seed % 2**32
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
