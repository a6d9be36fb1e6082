"""The stage graph as plain data: stages, their keys and their outcomes.

A :class:`Stage` is picklable and JSON-able (its ``spec``), so any executor, in-process,
in a process pool or on a Ray worker, can compute it; the code that does lives in the
per-kind modules of this package and in :mod:`xaibench.stages.runner`.  Executor and
tracker interfaces import this module only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..hashing import stable_hash

StageKind = Literal["data", "train", "features", "attribute", "prepare", "postprocess", "metric"]
STAGE_KINDS: tuple[str, ...] = get_args(StageKind)

Role = Literal["data", "model", "features", "state", "test", "train", "attributions"]
"""What an input is to the stage that reads it (each kind's module names the roles it uses)."""


@dataclass(frozen=True, eq=False)
class GroupMember:
    """One member of a group metric (scopes ``methods``, ``postprocessors``, ``models``).

    ``alias`` names the member (a method, post-processor or model alias; ``"raw"`` for the
    cell without post-processor), ``attributions`` is the stage of its maps and ``model`` its
    trained model (scope ``models`` only).
    """

    alias: str
    attributions: Stage
    model: Stage | None = None


@dataclass(frozen=True, eq=False)
class Stage:
    """One unit of cached work.

    ``spec`` is JSON-able and names components by their identity (kind, name, version,
    params); ``inputs`` maps a role to the stage producing it; ``members`` lists a group
    metric's members.  The key hashes the kind, the spec, the inputs' keys and the members,
    so it changes exactly when the stage's result could.  Build stages with the constructor
    of their kind (``xaibench.stages.attribute.attribute_stage``...), never by hand.
    """

    kind: StageKind
    spec: dict[str, Any]
    inputs: dict[Role, Stage] = field(default_factory=dict)
    members: tuple[GroupMember, ...] = ()
    label: str = ""
    resources: dict[str, float] = field(default_factory=lambda: {"num_cpus": 1})
    key: str = field(init=False)

    def __post_init__(self) -> None:
        identity: dict[str, Any] = {"kind": self.kind, "spec": self.spec,
                                    "inputs": {role: s.key for role, s in self.inputs.items()}}
        if self.members:
            identity["members"] = [[m.alias, m.attributions.key, m.model.key if m.model else None]
                                   for m in self.members]
        object.__setattr__(self, "key", stable_hash(identity))

    def dependencies(self) -> list[Stage]:
        """Every stage this one reads (inputs, then group members), each once."""
        deps = {s.key: s for s in self.inputs.values()}
        for m in self.members:
            deps.setdefault(m.attributions.key, m.attributions)
            if m.model is not None:
                deps.setdefault(m.model.key, m.model)
        return list(deps.values())

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stage) and other.key == self.key


@dataclass(frozen=True, eq=False)
class Shard:
    """Samples ``start .. stop - 1`` of a stage over a large split, computed as a cache entry of its
    own (``key``) so that one stage's shards run as separate tasks; the stage's own entry then
    gathers them (see :meth:`xaibench.stages.runner.StageRunner.shards`)."""

    stage: Stage
    start: int
    stop: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", stable_hash({"shard": self.stage.key, "rows": [self.start, self.stop]}))

    @property
    def label(self) -> str:
        return f"{self.stage.label or self.stage.kind} [{self.start}:{self.stop}]"


Status = Literal["cached", "computed", "failed", "blocked"]


@dataclass
class StageOutcome:
    """What became of a stage: ``cached``, ``computed``, ``failed`` (it raised) or ``blocked``
    (a stage it depends on failed; ``blocked_by`` is that stage's key and ``error`` its error)."""

    key: str
    status: Status
    seconds: float = 0.0
    error: str | None = None
    """One line, ``ExceptionType: message``."""
    traceback: str | None = None
    blocked_by: str | None = None
    stored_as: str | None = None
    """Where the values are when not under ``key``: a group metric computed over the members that
    succeeded is stored under the key of that smaller group."""

    @property
    def ok(self) -> bool:
        return self.status in ("cached", "computed")


def in_order(stages: list[Stage]) -> list[Stage]:
    """``stages`` and everything they depend on, each once, inputs before the stages that read them."""
    seen: dict[str, Stage] = {}

    def visit(stage: Stage) -> None:
        if stage.key in seen:
            return
        for dep in stage.dependencies():
            visit(dep)
        seen[stage.key] = stage

    for s in stages:
        visit(s)
    return list(seen.values())


class Outcomes(dict[str, StageOutcome]):
    """Stage key -> outcome, with the stages of the plan to name them in messages."""

    def __init__(self, stages: list[Stage]) -> None:
        super().__init__()
        self.stages = {s.key: s for s in stages}

    def label(self, key: str) -> str:
        stage = self.stages.get(key)
        return (stage.label or stage.kind) if stage else key

    def message(self, outcome: StageOutcome | None) -> str:
        """One line for a table row or a tag: the error, or what blocked the stage."""
        if outcome is None:
            return "not run (interrupted)"
        if outcome.status == "blocked":
            return f"upstream failed: {self.label(outcome.blocked_by or '')}: {outcome.error}"
        return outcome.error or outcome.status
