"""Executors: run the stages of a plan in dependency order (in-process, pool, cluster)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from .base import Component

if TYPE_CHECKING:
    from ..stages import Stage, StageOutcome


class Executor(Component):
    """Runs stages.  ``runner(stage)`` is a picklable callable (a
    :class:`~xaibench.stages.runner.StageRunner`, which carries the plugin session) that
    computes one stage from its inputs in the cache and stores its output there; it never
    raises (failures come back as an outcome).  An executor must:

    - start a stage only after every stage it depends on (``stage.dependencies()``)
      finished successfully (:class:`xaibench.scheduling.DependencyTracker` does the
      book-keeping and turns the dependents of a failure into ``blocked`` outcomes);
    - call ``notify(stage, outcome)`` in the driver process once per stage,
      blocked stages included;
    - run at most one stage per cache key at a time.
    """

    kind: ClassVar[str] = "executor"

    def execute(
        self,
        stages: Sequence[Stage],
        runner: Callable[[Stage], StageOutcome],
        notify: Callable[[Stage, StageOutcome], None],
    ) -> None:
        raise NotImplementedError
