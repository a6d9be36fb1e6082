"""Trackers: where runs, params, metrics and artifacts are recorded (MLflow by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from .base import Component


@dataclass
class RunRecord:
    """One combination of the grid, as a tracker stores it (an MLflow child run).

    ``key`` is deterministic for the combination (a re-run of the same registry gives the
    same keys).  ``content`` is a hash of everything recorded for it (its metric stages):
    it changes when anything logged could change.
    """

    key: str
    name: str
    content: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    status: Literal["FINISHED", "FAILED", "KILLED"] = "FINISHED"
    """``KILLED``: the invocation was stopped (SIGTERM, SIGINT) while the combination was being
    computed; the record then carries its params and tags, no metrics."""
    error: str | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Relative artifact path -> local file.  The files are deleted once :meth:`Tracker.log`
    returns: a tracker that keeps them copies them there."""


@dataclass
class InvocationSummary:
    """What one ``xaibench run`` did, handed to :meth:`Tracker.summarize` before :meth:`Tracker.close`."""

    invocation: str
    """This invocation's id; also the ``xaibench.invocation`` tag of every run it logs."""
    status: Literal["FINISHED", "FAILED", "KILLED"]
    stages: int
    cached: int
    computed: int
    failed: int
    blocked: int
    logged: int
    """Combinations logged by this invocation (new, failed before, interrupted or changed)."""
    already_tracked: int
    tags: dict[str, str] = field(default_factory=dict)
    """``xaibench.registry``, ``xaibench.version``, ``xaibench.invocation``."""

    @property
    def did_something(self) -> bool:
        """False for a re-run that found everything cached and tracked (a tracker records nothing then)."""
        return bool(self.logged or self.computed or self.failed or self.blocked or self.status == "KILLED")


class Tracker(Component):
    """Records the combinations of a grid as flat runs of an experiment, one per combination.

    The core calls, in order: :meth:`open`; :meth:`finished` once; :meth:`log` for every
    combination whose key is not among the finished ones with the same content (new,
    failed, interrupted or changed combinations; none for a combination already logged
    with this content); :meth:`summarize` once; :meth:`close`.  A tracker that stores
    nothing between invocations returns ``{}`` from :meth:`finished`, and every
    combination is logged each time.
    """

    kind: ClassVar[str] = "tracker"

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        """Get ready to record in ``experiment`` (creating it if needed); ``tags`` (registry, code
        version, ``xaibench.invocation``) go on every run this invocation logs.  Creates no run."""

    def check(self) -> str | None:
        """Why the store cannot be used, in one line, within seconds (``validate`` asks), or ``None``."""
        return None

    def finished(self) -> dict[str, str]:
        """``{record key: record content}`` of the combinations this tracker already holds as
        finished in the experiment (one bulk query)."""
        return {}

    def log(self, record: RunRecord) -> None:
        """Store ``record``.  A key seen before (failed, interrupted, or with another content)
        is updated or replaced, never duplicated."""

    def summarize(self, summary: InvocationSummary) -> None:
        """What this invocation did.  A tracker records it only when ``summary.did_something``
        (a fully cached re-run leaves no trace)."""

    def close(self, status: str, artifacts: dict[str, Path]) -> list[str]:
        """End the invocation with ``status`` (``FINISHED``, ``FAILED``, ``KILLED``, as in the
        summary), attach ``artifacts`` (the results table) where the summary is recorded;
        return lines telling the user where to look."""
        return []
