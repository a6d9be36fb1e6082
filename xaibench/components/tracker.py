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
    status: Literal["FINISHED", "FAILED"] = "FINISHED"
    error: str | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Relative artifact path -> local file.  The files are deleted once :meth:`Tracker.log`
    returns: a tracker that keeps them copies them there."""


class Tracker(Component):
    """Records an invocation (a parent run) and its combinations (child runs).

    The core calls, in order: :meth:`open`; :meth:`finished` once; :meth:`log` for every
    combination whose key is not among the finished ones with the same content (new,
    failed, interrupted or changed combinations; none for a combination already logged
    with this content); :meth:`close`.  A tracker that stores nothing between invocations
    returns ``{}`` from :meth:`finished`, and every combination is logged each time.
    """

    kind: ClassVar[str] = "tracker"

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        """Start the parent run of this invocation in ``experiment``."""

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

    def close(self, status: str, artifacts: dict[str, Path]) -> list[str]:
        """End the parent run with ``status`` (``FINISHED``, ``FAILED``, ``KILLED``), attach
        ``artifacts`` (the results table); return lines telling the user where to look."""
        return []
