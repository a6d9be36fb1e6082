"""The in-process, sequential executor: the default and the reference for the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xaibench.components import Executor
from xaibench.scheduling import DependencyTracker
from xaibench.stages import Stage, StageOutcome


class LocalExecutor(Executor):
    """Runs stages one after another in this process, in plan order."""

    name = "local"

    def execute(self, stages: Sequence[Stage], runner: Callable[[Stage], StageOutcome],
                notify: Callable[[Stage, StageOutcome], None]) -> None:
        deps = DependencyTracker(stages)
        queue = deps.ready()
        while queue:
            stage = queue.pop(0)
            outcome = runner(stage)
            notify(stage, outcome)
            for blocked, why in deps.done(stage, outcome):
                notify(blocked, why)
            queue.extend(deps.ready())
