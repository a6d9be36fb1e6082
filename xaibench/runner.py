"""Runs a grid: plan -> resume -> execute -> table -> close."""

from __future__ import annotations

import functools
import logging
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console

from . import __version__
from .cache import Cache
from .components import InvocationSummary, Tracker
from .config import RegistryConfig
from .directions import MetricDirections
from .errors import ConfigError
from .interrupts import Interrupted
from .plan_checks import check_plan
from .planning import Plan, build_plan
from .plugins import PluginSession
from .progress import GridProgress
from .recording import Recorder
from .results import plan_rows, to_table, unit_entry, write_parquet, write_summary_csv
from .stages.graph import Outcomes, Stage, StageOutcome
from .stages.runner import StageRunner

if TYPE_CHECKING:
    from .supervisor import CrashJournal

log = logging.getLogger("xaibench")


@dataclass
class RunSummary:
    plan: Plan
    stages: int = 0
    cached: int = 0
    computed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(stage label, one-line error) for stages that raised."""
    blocked: list[tuple[str, str]] = field(default_factory=list)
    """(stage label, label of the failed stage it depended on) for stages that could not run."""
    units_logged: int = 0
    units_already_tracked: int = 0
    interrupted: Interrupted | None = None
    """The signal that stopped the run (SIGTERM, SIGINT), if one did."""
    units_deferred: int = 0
    """Combinations the tracking store did not take (the next run logs them)."""
    results_path: Path | None = None
    summary_path: Path | None = None
    tracking: list[str] = field(default_factory=list)
    """The tracker's lines telling where the runs are."""
    table: Any = None

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked and self.interrupted is None

    @property
    def status(self) -> Literal["FINISHED", "FAILED", "KILLED"]:
        return "KILLED" if self.interrupted is not None else "FINISHED" if self.ok else "FAILED"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def run(config: RegistryConfig, session: PluginSession, console: Console | None = None, quiet: bool = False,
        journal: CrashJournal | None = None) -> RunSummary:
    """Run every combination of ``config`` with the components of ``session``; ``journal``: where the
    stage being computed here is recorded for a supervising parent (``xaibench.supervisor``)."""
    catalog = session.catalog
    plan = build_plan(config, catalog)
    problems = check_plan(config, plan)
    if problems:
        raise ConfigError(problems)
    stages = plan.stages()
    cache = Cache(config.cache)
    summary = RunSummary(plan, stages=len(stages))

    # resume: stages already in the cache, combinations the tracker already holds with this content
    outcomes = _resume(stages, cache)
    missing = [s for s in stages if s.key not in outcomes]
    summary.cached = len(outcomes)
    tracker: Tracker = catalog.create("tracker", config.tracking.name, config.tracking.params)  # type: ignore[assignment]
    tags = {"xaibench.registry": str(config.path), "xaibench.version": code_version(),
            "xaibench.invocation": f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"}
    held: dict[str, str] | None
    try:
        tracker.open(config.experiment, tags)
        held = tracker.finished()
    except Exception as exc:  # the grid and the table do not need the store: the next run logs what is missing
        log.warning("tracking store unavailable (%s); nothing is logged by this run, the next run logs it",
                    f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        tracker, held = Tracker(), None
    to_log = [] if held is None else [u for u in plan.units if held.get(u.key) != u.content]
    summary.units_already_tracked = len(plan.units) - len(to_log) if held is not None else 0

    with Recorder(plan, to_log, tracker, cache, session, outcomes, code_version()) as recorder:
        log.info("%d stages: %d cached, %d to compute; %d combinations to log, %d already tracked",
                 len(stages), summary.cached, len(missing), recorder.pending, summary.units_already_tracked)
        crashed = True
        try:
            _execute(config, session, missing, outcomes, recorder, summary, console or Console(stderr=True), quiet,
                     journal)
            crashed = False
        except KeyboardInterrupt as exc:  # SIGTERM or SIGINT (xaibench.interrupts): stop cleanly, resumable
            summary.interrupted = exc if isinstance(exc, Interrupted) else Interrupted()
            recorder.log_killed(f"interrupted by {summary.interrupted.name}")
            crashed = False
        finally:
            summary.units_logged = recorder.logged
            summary.units_deferred = recorder.deferred if held is not None else len(plan.units)
            summary.table = _write_table(plan, outcomes, cache, summary)
            status = "FAILED" if crashed else summary.status
            tracker.summarize(InvocationSummary(
                tags["xaibench.invocation"], status, summary.stages, summary.cached, summary.computed,
                len(summary.failed), len(summary.blocked), summary.units_logged, summary.units_already_tracked, tags))
            summary.tracking = tracker.close(status, {
                f"results/{summary.results_path.name}": summary.results_path,  # type: ignore[union-attr]
                f"results/{summary.summary_path.name}": summary.summary_path,  # type: ignore[union-attr]
            })
    return summary


TABLE_KINDS = ("train", "metric")
"""Stages whose metadata the results table is built from: verified whole before a run trusts them."""


def _resume(stages: list[Stage], cache: Cache) -> Outcomes:
    """The stages already in the cache; an entry of :data:`TABLE_KINDS` that fails verification is
    reported once and recomputed (or, when only its sidecar is wrong, the sidecar is rebuilt from
    the verified entry).  Temporary files of killed writers are collected."""
    cache.collect_temp()
    outcomes = Outcomes(stages)
    for s in stages:
        if not cache.has(s.key):
            continue
        problem = cache.verify(s.key) if s.kind in TABLE_KINDS else None
        if problem and cache.reseal(s.key):
            log.warning("cache entry of %s (%s): %s; rebuilt it from the verified entry", s.label or s.kind, s.key, problem)
        elif problem:
            log.warning("cache entry of %s (%s): %s; recomputing it", s.label or s.kind, s.key, problem)
            cache.discard(s.key)
            continue
        outcomes[s.key] = StageOutcome(s.key, "cached")
    return outcomes


def _execute(config: RegistryConfig, session: PluginSession, missing: list[Stage], outcomes: Outcomes,
             recorder: Recorder, summary: RunSummary, console: Console, quiet: bool,
             journal: CrashJournal | None = None) -> None:
    runner = StageRunner(session, config.cache, memory_budget_mb=config.memory_budget_mb, limits=config.limits,
                         journal=journal)
    executor = session.catalog.create("executor", config.executor.name, config.executor.params)
    with GridProgress(console, total=len(missing), quiet=quiet) as progress:
        def notify(stage: Stage, outcome: StageOutcome) -> None:
            outcomes[stage.key] = outcome
            label = stage.label or stage.kind
            if outcome.status == "computed":
                summary.computed += 1
                log.info("computed %s (%.1fs)", label, outcome.seconds)
            elif outcome.status == "cached":
                summary.cached += 1
            elif outcome.status == "blocked":
                summary.blocked.append((label, outcomes.label(outcome.blocked_by or "")))
            else:
                summary.failed.append((label, outcome.error or "failed"))
                log.error("FAILED %s: %s", label, outcome.error)
            progress.advance(stage.label)
            recorder.stage_done(stage.key)

        executor.execute(missing, runner, notify)  # type: ignore[attr-defined]


def _write_table(plan: Plan, outcomes: Outcomes, cache: Cache, summary: RunSummary) -> Any:
    config = plan.config
    components = {kind: {alias: ref.name for alias, ref in refs.items()} for kind, refs in config.components.items()}
    directions = MetricDirections.of(plan.components["metric"]).to_json()
    table = to_table(plan_rows(plan, outcomes, cache),
                     {"cache": config.cache, "units": [unit_entry(u) for u in plan.units], "components": components,
                      "metric_directions": directions})
    results_dir = Path(config.results)
    summary.results_path = write_parquet(table, results_dir / f"{config.experiment}.parquet")
    summary.summary_path = write_summary_csv(table, results_dir / f"{config.experiment}-summary.csv")
    return table
