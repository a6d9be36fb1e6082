"""Dependency book-keeping shared by every executor."""

from __future__ import annotations

from collections.abc import Iterable

from .stages.graph import Stage, StageOutcome


class DependencyTracker:
    """Which stages may start now, and which are blocked because a stage they depend on failed
    (a group metric is not blocked by a member's failure: it runs over the members that succeeded).

    Dependencies that are not among ``stages`` are taken as already available (cached).
    """

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = {s.key: s for s in stages}
        self.waiting_on: dict[str, set[str]] = {}
        self.dependents: dict[str, list[str]] = {k: [] for k in self.stages}
        for key, stage in self.stages.items():
            deps = {d.key for d in stage.dependencies() if d.key in self.stages}
            self.waiting_on[key] = deps
            for d in deps:
                self.dependents[d].append(key)
        self._ready = [k for k, deps in self.waiting_on.items() if not deps]
        self.pending = set(self.stages)

    def ready(self) -> list[Stage]:
        """Stages whose dependencies are all done; each is returned once."""
        out, self._ready = [self.stages[k] for k in self._ready], []
        return out

    def done(self, stage: Stage, outcome: StageOutcome) -> list[tuple[Stage, StageOutcome]]:
        """Record an outcome; return the dependents that are now blocked by it (status ``blocked``,
        ``blocked_by`` = the stage that failed first, ``error`` = its error)."""
        self.pending.discard(stage.key)
        if outcome.ok:
            for dep in self.dependents[stage.key]:
                self.waiting_on[dep].discard(stage.key)
                if not self.waiting_on[dep] and dep in self.pending:
                    self._ready.append(dep)
            return []
        root = outcome.blocked_by or stage.key
        blocked: list[tuple[Stage, StageOutcome]] = []
        stack = [(d, stage.key) for d in self.dependents[stage.key]]
        while stack:
            key, via = stack.pop()
            if key not in self.pending:
                continue
            if self._member_only(key, via):  # a group metric goes on over the members that succeeded
                self.waiting_on[key].discard(via)
                if not self.waiting_on[key]:
                    self._ready.append(key)
                continue
            self.pending.discard(key)
            blocked.append((self.stages[key], StageOutcome(key, "blocked", error=outcome.error, blocked_by=root,
                                                           traceback=outcome.traceback)))
            stack.extend((d, key) for d in self.dependents[key])
        return blocked

    def _member_only(self, key: str, dep: str) -> bool:
        """True when stage ``key`` reads ``dep`` only as a group member's maps."""
        stage = self.stages[key]
        if not any(m.attributions.key == dep for m in stage.members):
            return False
        return dep not in {s.key for s in stage.inputs.values()} and all(
            m.model is None or m.model.key != dep for m in stage.members)

    @property
    def finished(self) -> bool:
        return not self.pending
