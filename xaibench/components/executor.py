"""Executors: run the stages of a plan in dependency order (in-process, pool, cluster)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from .base import Component

if TYPE_CHECKING:
    from ..stages import Stage, StageOutcome, StageRunner


class Executor(Component):
    """Runs stages.  ``runner(stage)`` is a picklable callable that computes one
    stage from its inputs in the cache and stores its output there; it never
    raises (failures come back as an outcome).  An executor must:

    - start a stage only after all its inputs finished successfully
      (:class:`xaibench.scheduling.DependencyTracker` does the book-keeping);
    - call ``notify(stage, outcome)`` in the driver process once per stage,
      including stages failed because an input failed;
    - run at most one stage per cache key at a time.
    """

    kind: ClassVar[str] = "executor"

    def execute(
        self,
        stages: Sequence[Stage],
        runner: StageRunner,
        notify: Callable[[Stage, StageOutcome], None],
    ) -> None:
        raise NotImplementedError
