"""Runs a plan: executes missing stages, logs each combination once, writes the table."""

from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from . import __version__
from .cache import Cache
from .components import RunRecord, Tracker
from .config import RegistryConfig
from .planning import Plan, Unit, build_plan
from .plugins import PluginSession
from .progress import GridProgress
from .results import to_table, write_parquet, write_summary_csv
from .stages import Stage, StageOutcome, StageRunner

log = logging.getLogger("xaibench")


@dataclass
class RunSummary:
    plan: Plan
    stages: int = 0
    cached: int = 0
    computed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(stage label, one-line error) for stages that raised."""
    units_logged: int = 0
    units_already_tracked: int = 0
    results_path: Path | None = None
    summary_path: Path | None = None
    tracking: dict[str, str] = field(default_factory=dict)
    table: Any = None

    @property
    def ok(self) -> bool:
        return not self.failed


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def run(config: RegistryConfig, session: PluginSession, console: Console | None = None, quiet: bool = False) -> RunSummary:
    console = console or Console(stderr=True)
    catalog = session.catalog
    plan = build_plan(config, catalog)
    stages = plan.stages()
    cache = Cache(config.cache)
    summary = RunSummary(plan, stages=len(stages))
    missing = [s for s in stages if not cache.has(s.key)]
    summary.cached = len(stages) - len(missing)

    tracker: Tracker = catalog.create("tracker", config.tracking.name, config.tracking.params)  # type: ignore[assignment]
    tracker.open(config.experiment, {"xaibench.registry": str(config.path), "xaibench.version": code_version()})
    finished = tracker.finished_keys()
    to_log = {u.key: u for u in plan.units if f"{u.key}:{u.content}" not in finished}
    summary.units_already_tracked = len(plan.units) - len(to_log)
    missing_keys = {m.key for m in missing}
    outcomes: dict[str, StageOutcome] = {s.key: StageOutcome(s.key, "cached") for s in stages if s.key not in missing_keys}
    waiting = {key: {s.key for s in u.stages()} for key, u in to_log.items()}
    by_stage: dict[str, list[str]] = {}
    for ukey, keys in waiting.items():
        for k in keys:
            by_stage.setdefault(k, []).append(ukey)

    artifacts_dir = Path(tempfile.mkdtemp(prefix="xaibench-artifacts-"))

    def maybe_log(ukey: str) -> None:
        if ukey in waiting and all(k in outcomes for k in waiting[ukey]):
            del waiting[ukey]
            record = _record(to_log[ukey], outcomes, cache, plan)
            record.artifacts.update(_plugin_artifacts(session, to_log[ukey], record.status, cache, artifacts_dir))
            tracker.log(record)
            shutil.rmtree(artifacts_dir / ukey, ignore_errors=True)
            summary.units_logged += 1

    for ukey in list(waiting):
        maybe_log(ukey)
    log.info("%d stages: %d cached, %d to compute; %d combinations to log, %d already tracked",
             len(stages), summary.cached, len(missing), len(waiting), summary.units_already_tracked)

    runner = StageRunner(config.cache, memory_budget_mb=config.memory_budget_mb)
    executor = catalog.create("executor", config.executor.name, config.executor.params)
    status = "FAILED"
    try:
        with GridProgress(console, total=len(missing), quiet=quiet) as progress:
            def notify(stage: Stage, outcome: StageOutcome) -> None:
                outcomes[stage.key] = outcome
                if outcome.status == "computed":
                    summary.computed += 1
                    log.info("computed %s (%.1fs)", stage.label or stage.kind, outcome.seconds)
                elif outcome.status == "cached":
                    summary.cached += 1
                else:
                    summary.failed.append((stage.label or stage.kind, outcome.error or "failed"))
                    if not (outcome.error or "").startswith("upstream failed"):
                        log.error("FAILED %s: %s", stage.label or stage.kind, outcome.error)
                progress.advance(stage.label)
                for ukey in by_stage.get(stage.key, []):
                    maybe_log(ukey)

            executor.execute(missing, runner, notify)
        status = "FINISHED" if not summary.failed else "FAILED"
    finally:
        components = {kind: {alias: ref.name for alias, ref in refs.items()} for kind, refs in config.components.items()}
        directions = {alias: catalog.create("metric", r.name, r.params).higher_is_better
                      for alias, r in config.of("metric").items()}
        table = to_table(_rows(plan, outcomes, cache),
                         {"cache": config.cache, "units": _unit_index(plan), "components": components,
                          "metric_directions": directions})
        results_dir = Path(config.results)
        summary.results_path = write_parquet(table, results_dir / f"{config.experiment}.parquet")
        summary.summary_path = write_summary_csv(table, results_dir / f"{config.experiment}-summary.csv")
        summary.table = table
        summary.tracking = tracker.close(status if not waiting else "KILLED", {
            f"results/{summary.results_path.name}": summary.results_path,
            f"results/{summary.summary_path.name}": summary.summary_path,
        })
        summary.tracking["experiment"] = config.experiment
        shutil.rmtree(artifacts_dir, ignore_errors=True)
    return summary


# -- tracking records ---------------------------------------------------------
def _plugin_artifacts(session: PluginSession, unit: Unit, status: str, cache: Cache, root: Path) -> dict[str, Path]:
    """Files plugins attach to a unit's run (``unit_artifacts`` hook); failures only warn."""
    out: dict[str, Path] = {}
    entry = {**_unit_entry(unit), "status": status}
    for impl in session.pm.hook.unit_artifacts.get_hookimpls():
        workdir = root / unit.key / impl.plugin_name
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            out.update(impl.function(unit=entry, cache=cache, workdir=workdir) or {})
        except Exception as exc:
            log.warning("plugin %r: unit_artifacts for %s failed: %s: %s", impl.plugin_name, unit.name,
                        type(exc).__name__, exc)
    return out


def _flatten(prefix: str, params: dict[str, Any], out: dict[str, str]) -> None:
    for k, v in params.items():
        if isinstance(v, dict):
            _flatten(f"{prefix}.{k}", v, out)
        else:
            out[f"{prefix}.{k}"] = str(v)


def _belongs(value: dict, unit: Unit) -> bool:
    return (value.get("attribution") in (None, unit.coords.get("attribution"))
            and value.get("postprocessor") in (None, unit.coords.get("postprocessor"))
            and value.get("model") in (None, unit.coords.get("model")))


def _values(link_stage: Stage, unit: Unit, cache: Cache) -> list[dict]:
    return [v for v in cache.meta(link_stage.key).get("values", []) if _belongs(v, unit)]


def _record(unit: Unit, outcomes: dict[str, StageOutcome], cache: Cache, plan: Plan) -> RunRecord:
    params: dict[str, str] = {"seed": str(unit.coords["seed"])}
    tags: dict[str, str] = {"xaibench.content": unit.content, "xaibench.version": code_version()}
    for kind, ref in unit.refs.items():
        tags[kind] = ref.alias
        tags[f"{kind}.component"] = ref.name
        tags[f"{kind}.plugin"] = f"{ref.plugin} (component version {ref.version})"
        params[kind] = ref.name
        _flatten(kind, ref.params, params)
    if unit.kind == "cell":
        params["layer"] = unit.coords["layer"]
        tags["layer"] = unit.coords["layer"]
    for link in unit.metrics:
        _flatten(f"metric.{link.alias}", plan.config.of("metric")[link.alias].params, params)
    metrics: dict[str, float] = {}
    errors = [(unit.core, outcomes[unit.core.key])] if not outcomes[unit.core.key].ok else []
    for link in unit.metrics:
        o = outcomes[link.stage.key]
        if o.ok:
            continue
        if link.scope in ("methods", "postprocessors", "models") and not errors and (o.error or "").startswith("upstream failed"):
            # another member of the group failed: this combination is fine, the comparison is missing
            tags[f"missing.{link.alias}"] = o.error or ""
        else:
            errors.append((link.stage, o))
    if not errors:
        if unit.kind == "model":
            for k, v in cache.meta(unit.core.key).get("metrics", {}).items():
                metrics[f"train.{k}"] = v
        for link in unit.metrics:
            if not outcomes[link.stage.key].ok:
                continue
            for v in _values(link.stage, unit, cache):
                name = f"{link.alias}.{v['statistic']}" + (f".{v['sub_key']}" if v["sub_key"] else "")
                if v["value"] is not None and math.isfinite(v["value"]):
                    metrics[name] = v["value"]
    for alias, why in unit.skipped_metrics.items():
        tags[f"skipped.{alias}"] = why
    record = RunRecord(unit.key, unit.name, params, tags, metrics, "FAILED" if errors else "FINISHED")
    if errors:
        stage, o = errors[0]
        record.error = f"{stage.label}: {o.error}"
        text = "\n\n".join(f"# {s.label} ({s.key})\n{o.traceback or o.error}" for s, o in errors)
        path = Path(tempfile.gettempdir()) / "xaibench-tracebacks" / f"{unit.key}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        record.artifacts["errors/traceback.txt"] = path
    return record


# -- the results table ----------------------------------------------------------
def _unit_index(plan: Plan) -> list[dict[str, Any]]:
    """Where each unit's inputs live in the cache, so reports can load maps, data and weights."""
    return [_unit_entry(u) for u in plan.units]


def _unit_entry(u: Unit) -> dict[str, Any]:
    entry: dict[str, Any] = {"run_key": u.key, "kind": u.kind, "coords": u.coords,
                             "components": {kind: ref.name for kind, ref in u.refs.items()}}
    if u.kind == "model":
        entry["stages"] = {"data": u.core.inputs["data"].key, "train": u.core.key}
    else:
        attribute = u.core if u.core.kind == "attribute" else u.core.inputs["test"]
        entry["stages"] = {"data": attribute.inputs["data"].key, "train": attribute.inputs["model"].key,
                           "attribute": attribute.key, "attributions": u.core.key}
    return entry

def _rows(plan: Plan, outcomes: dict[str, StageOutcome], cache: Cache) -> list[dict[str, Any]]:
    exp = plan.config.experiment
    rows: list[dict[str, Any]] = []

    def base(coords: dict) -> dict:
        return {"experiment": exp, **{c: coords.get(c) for c in ("dataset", "model", "seed", "layer", "attribution",
                                                                  "postprocessor")}}

    for skip in plan.skipped:
        rows.append({**base(skip.coords), "metric": skip.metric or "", "statistic": "", "sub_key": "", "value": None,
                     "status": "skipped", "message": skip.reason})
    for unit in plan.units:
        b = {**base(unit.coords), "run_key": unit.key}
        core = outcomes.get(unit.core.key)
        if unit.kind == "model":
            if core is not None and core.ok:
                for k, v in cache.meta(unit.core.key).get("metrics", {}).items():
                    rows.append({**b, "metric": "training", "statistic": k, "sub_key": "", "value": v, "status": "ok"})
            else:
                rows.append({**b, "metric": "training", "statistic": "", "sub_key": "", "value": None,
                             "status": "failed", "message": core.error if core else "not run"})
        for alias, why in unit.skipped_metrics.items():
            rows.append({**b, "metric": alias, "statistic": "", "sub_key": "", "value": None, "status": "skipped",
                         "message": why})
        for link in unit.metrics:
            o = outcomes.get(link.stage.key)
            if o is None or not o.ok:
                rows.append({**b, "metric": link.alias, "statistic": "", "sub_key": "", "value": None, "status": "failed",
                             "message": (o.error if o else "not run (interrupted)")})
                continue
            for v in _values(link.stage, unit, cache):
                rows.append({**b, "metric": link.alias, "statistic": v["statistic"], "sub_key": v["sub_key"],
                             "value": v["value"], "status": "ok"})
    return rows
