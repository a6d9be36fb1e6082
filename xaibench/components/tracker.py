"""Trackers: where runs, params, metrics and artifacts are recorded (MLflow by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from .base import Component


@dataclass
class RunRecord:
    """One combination of the grid, as a tracker stores it (an MLflow child run).

    ``key`` is deterministic for the combination's configuration: a re-run that
    finds a finished run with the same key skips it; a failed or interrupted one
    is reopened, never duplicated.
    """

    key: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    status: Literal["FINISHED", "FAILED"] = "FINISHED"
    error: str | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    """Relative artifact path -> local file; plugin files are deleted once ``log`` returns, so copy them there."""


class Tracker(Component):
    """Records an invocation (parent run) and its combinations (child runs)."""

    kind: ClassVar[str] = "tracker"

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        """Start the parent run of this invocation in ``experiment``."""

    def finished_keys(self) -> set[str]:
        """Keys of child runs already finished in this experiment (one bulk query)."""
        return set()

    def log(self, record: RunRecord) -> None:
        """Create, or reopen, the child run ``record.key`` and log it in batches."""

    def close(self, status: str, artifacts: dict[str, Path]) -> dict[str, str]:
        """End the parent run, attach ``artifacts``; return where to find things."""
        return {}
