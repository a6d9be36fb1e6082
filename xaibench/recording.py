"""Recording: each combination goes to the tracker as soon as every stage it reports has an outcome.

The :class:`Recorder` owns a private temporary directory for the files a record carries
(tracebacks, plugins' figures) and removes it when the run ends, however it ends.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .components import RunRecord, Tracker
from .contracts import stored_value
from .results import failed_members, unit_entry, unit_values

if TYPE_CHECKING:
    from .cache import Cache
    from .planning import Plan, Unit
    from .plugins import PluginSession
    from .stages.graph import Outcomes

log = logging.getLogger("xaibench")
GROUP_SCOPES = ("methods", "postprocessors", "models")


class Recorder:
    """Hands each unit's :class:`RunRecord` to ``tracker`` once all its stages have outcomes."""

    def __init__(self, plan: Plan, units: list[Unit], tracker: Tracker, cache: Cache, session: PluginSession,
                 outcomes: Outcomes, version: str) -> None:
        self.plan, self.tracker, self.cache, self.session = plan, tracker, cache, session
        self.outcomes, self.version = outcomes, version
        self.units = {u.key: u for u in units}
        self.waiting = {u.key: {s.key for s in u.stages()} for u in units}
        self.by_stage: dict[str, list[str]] = {}
        for ukey, keys in self.waiting.items():
            for k in keys:
                self.by_stage.setdefault(k, []).append(ukey)
        self.logged = 0
        self.deferred = 0
        """Units the tracker could not take (logged by the next run)."""
        self.tmp = Path(tempfile.mkdtemp(prefix="xaibench-run-"))

    def __enter__(self) -> Recorder:
        for ukey in list(self.waiting):
            self._maybe_log(ukey)
        return self

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def pending(self) -> int:
        """Units still waiting for outcomes (an interrupted run leaves some)."""
        return len(self.waiting)

    def stage_done(self, key: str) -> None:
        for ukey in self.by_stage.get(key, []):
            self._maybe_log(ukey)

    def _maybe_log(self, ukey: str) -> None:
        if ukey in self.waiting and all(k in self.outcomes for k in self.waiting[ukey]):
            del self.waiting[ukey]
            unit = self.units[ukey]
            workdir = self.tmp / ukey
            record = self.record(unit, workdir)
            record.artifacts.update(self._plugin_artifacts(unit, record.status, workdir))
            try:
                self.tracker.log(record)
                self.logged += 1
            except Exception as exc:  # the store stays unavailable: the next run logs this unit (it is not held)
                self.deferred += 1
                log.warning("could not log %s (%s); the next run logs it", unit.name,
                            f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
            shutil.rmtree(workdir, ignore_errors=True)

    def log_killed(self, why: str) -> None:
        """The run was stopped: log the combinations it had started (a stage computed or failed,
        not all done) as ``KILLED``, so the tracker shows what was in flight; the next run
        reopens them."""
        for ukey in list(self.waiting):
            started = [self.outcomes[k] for k in self.waiting[ukey] if k in self.outcomes]
            if any(o.status in ("computed", "failed") for o in started):
                del self.waiting[ukey]
                unit = self.units[ukey]
                params, tags = self._identity(unit)
                self.tracker.log(RunRecord(unit.key, unit.name, unit.content, params, tags, status="KILLED", error=why))

    # -- one record ------------------------------------------------------------------
    def _identity(self, unit: Unit) -> tuple[dict[str, str], dict[str, str]]:
        """The params and tags that say which combination ``unit`` is."""
        params: dict[str, str] = {"seed": str(unit.coords.seed)}
        tags: dict[str, str] = {"xaibench.version": self.version, "seed": str(unit.coords.seed)}
        for kind, ref in unit.refs.items():
            tags[kind] = ref.alias
            tags[f"{kind}.component"] = ref.name
            tags[f"{kind}.plugin"] = f"{ref.plugin} (component version {ref.version})"
            params[kind] = ref.name
            _flatten(kind, ref.params, params)
        if unit.kind == "cell":
            params["layer"] = tags["layer"] = str(unit.coords.layer)
        for link in unit.metrics:
            _flatten(f"metric.{link.alias}", self.plan.config.of("metric")[link.alias].params, params)
        return params, tags

    def record(self, unit: Unit, workdir: Path) -> RunRecord:
        params, tags = self._identity(unit)
        core = self.outcomes[unit.core.key]
        errors = [] if core.ok else [(unit.core, core)]
        for link in unit.metrics:
            o = self.outcomes[link.stage.key]
            if o.ok:
                for m in failed_members(link.stage, self.outcomes):
                    tags[f"missing.{link.alias}.{m.alias}"] = self.outcomes.message(self.outcomes.get(m.attributions.key))
                continue
            if link.scope in GROUP_SCOPES and not errors and o.status == "blocked":
                # another member of the group failed: this combination is fine, the comparison is missing
                tags[f"missing.{link.alias}"] = self.outcomes.message(o)
            else:
                errors.append((link.stage, o))
        metrics: dict[str, float] = {}
        if not errors:
            if unit.kind == "model":
                metrics.update({f"train.{k}": v for k, v in self.cache.meta(unit.core.key).get("metrics", {}).items()})
            for link in unit.metrics:
                if self.outcomes[link.stage.key].ok:
                    for v in unit_values(link.stage, unit, self.cache, self.outcomes[link.stage.key].stored_as):
                        name = f"{link.alias}.{v['statistic']}" + (f".{v['sub_key']}" if v["sub_key"] else "")
                        value, error = stored_value(v, link.alias)
                        if error is None:
                            metrics[name] = value  # type: ignore[assignment]
                        else:
                            tags[f"failed.{name}"] = error[:250]
        for alias, why in self.plan.skipped_metrics(unit).items():
            tags[f"skipped.{alias}"] = why
        record = RunRecord(unit.key, unit.name, unit.content, params, tags, metrics,
                           "FAILED" if errors else "FINISHED")
        if errors:
            stage, o = errors[0]
            record.error = f"{stage.label}: {self.outcomes.message(o)}"
            path = workdir / "traceback.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n\n".join(f"# {s.label} ({s.key})\n{o.traceback or self.outcomes.message(o)}"
                                        for s, o in errors))
            record.artifacts["errors/traceback.txt"] = path
        return record

    def _plugin_artifacts(self, unit: Unit, status: str, workdir: Path) -> dict[str, Path]:
        """Files plugins attach to a unit's run (``unit_artifacts`` hook); failures only warn."""
        out: dict[str, Path] = {}
        entry = {**unit_entry(unit), "status": status}
        for impl in self.session.pm.hook.unit_artifacts.get_hookimpls():
            plugin_dir = workdir / "plugins" / impl.plugin_name
            plugin_dir.mkdir(parents=True, exist_ok=True)
            try:
                out.update(impl.function(unit=entry, cache=self.cache, workdir=plugin_dir) or {})
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
