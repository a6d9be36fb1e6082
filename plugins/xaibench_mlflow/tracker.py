"""MLflow tracker: a parent run per invocation, a child run per combination, batched logging.

MLflow 3 refuses the old ``./mlruns`` file store, so the default is a SQLite
store in the working directory (``sqlite:///mlflow.db``) with artifacts beside it
in ``./mlartifacts``; ``MLFLOW_TRACKING_URI`` or the registry's ``tracking.uri``
point elsewhere (an HTTP server).  Values are logged with ``log_batch`` only:
one-at-a-time logging runs at ~150 values/s on SQLite and ~20/s over HTTP.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from xaibench.components import Params, RunRecord, Tracker
from xaibench.errors import XaibenchError

from .store import reachable, retrying, store_lock

KEY_TAG = "xaibench.key"
CONTENT_TAG = "xaibench.content"
KIND_TAG = "xaibench.kind"
DEFAULT_URI = "sqlite:///mlflow.db"


@dataclass
class _Existing:
    run_id: str
    status: str
    content: str


class TrackingError(XaibenchError):
    """The tracking store cannot be used (one line naming the URI)."""


def _better(a: _Existing, b: _Existing) -> bool:
    """Which of two runs of one combination to keep: a finished one with content, then any with content."""
    return (a.status == "FINISHED", bool(a.content)) > (b.status == "FINISHED", bool(b.content))


def metric_name(name: str) -> str:
    """MLflow accepts letters, digits, ``_ - . / space`` in metric and param names."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)[:250]


class MlflowTracker(Tracker):
    """Tracks the grid in MLflow (SQLite by default; any tracking URI)."""

    name = "mlflow"

    class Params(Params):
        uri: str | None = None
        """Tracking URI; default ``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""
        artifact_location: str | None = None
        """Artifact root for a new experiment; default ``./mlartifacts`` beside a SQLite store."""
        patience_s: float = Field(180.0, ge=0)
        """How long a store call is retried (with back-off) before the combination is deferred to
        the next invocation (a locked SQLite file, a restarting server)."""

    def __init__(self, params: Params | None = None) -> None:
        super().__init__(params)
        self.client: Any = None
        self.parent_id: str | None = None
        self.experiment_id: str | None = None
        self.experiment_name = ""
        self.existing: dict[str, _Existing] = {}

    @property
    def uri(self) -> str:
        uri = self.params.uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
        # MLflow caches one store per URI string for the life of the process, so a relative
        # SQLite path would keep pointing at the first working directory: make it absolute.
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
        return uri

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        from mlflow.tracking import MlflowClient

        def start() -> None:
            with store_lock(self.uri):  # a fresh store's schema is created by the first call: one process at a time
                self.client = MlflowClient(tracking_uri=self.uri)
                exp = self.client.get_experiment_by_name(experiment)
                if exp is None:
                    self.experiment_id = self.client.create_experiment(
                        experiment, artifact_location=self._artifact_location(experiment))
                else:
                    if exp.lifecycle_stage == "deleted":
                        self.client.restore_experiment(exp.experiment_id)
                    self.experiment_id = exp.experiment_id
                self.existing = self._search_units()
                run = self.client.create_run(self.experiment_id, run_name=f"{experiment} invocation",
                                             tags={**tags, KIND_TAG: "invocation"})
                self.parent_id = run.info.run_id

        self.experiment_name = experiment
        problem = reachable(self.uri)
        try:
            if problem:
                raise RuntimeError(problem)
            retrying(start, "opening the experiment", patience=self.params.patience_s)
        except Exception as exc:
            raise TrackingError(f"tracking store {self.uri}: {type(exc).__name__}: {exc}".splitlines()[0][:400]) from None

    def check(self) -> str | None:
        return reachable(self.uri)

    def _artifact_location(self, experiment: str) -> str | None:
        if self.params.artifact_location:
            return Path(self.params.artifact_location).resolve().as_uri()
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri[len("sqlite:///"):])
            return (db.resolve().parent / "mlartifacts" / re.sub(r"[^A-Za-z0-9_.-]", "_", experiment)).as_uri()
        return None

    def _search_units(self) -> dict[str, _Existing]:
        """One paged bulk query for every combination run already in the experiment."""
        found: dict[str, _Existing] = {}
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{KIND_TAG}` = 'unit'",
                                           max_results=10000, page_token=token)
            for run in page:
                key = run.data.tags.get(KEY_TAG)
                if not key:
                    continue
                mine = _Existing(run.info.run_id, run.info.status, run.data.tags.get(CONTENT_TAG, ""))
                kept = found.get(key)
                if kept is not None:  # two runs of one combination (concurrent invocations on a store without a lock)
                    if _better(mine, kept):
                        kept, mine = mine, kept
                    if mine.status != "RUNNING":
                        self.client.delete_run(mine.run_id)
                found[key] = kept or mine
            token = page.token
            if not token:
                return found

    def _find(self, key: str) -> _Existing | None:
        """The run of combination ``key`` as the store holds it now (another invocation may have logged it)."""
        runs = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{key}'",
                                       max_results=50)
        best: _Existing | None = None
        for run in runs:
            mine = _Existing(run.info.run_id, run.info.status, run.data.tags.get(CONTENT_TAG, ""))
            best = mine if best is None or _better(mine, best) else best
        return best

    def finished(self) -> dict[str, str]:
        return {k: e.content for k, e in self.existing.items() if e.status == "FINISHED"}

    def log(self, record: RunRecord) -> None:
        def claim_and_log() -> None:
            with store_lock(self.uri):  # claim the combination: no other invocation logs it meanwhile
                found = self._find(record.key)
                if found is not None and found.status == "FINISHED" and found.content == record.content:
                    self.existing[record.key] = found  # another invocation logged it with this content
                    return
                if found is None:
                    self.existing.pop(record.key, None)
                else:
                    self.existing[record.key] = found
                self._log(record)

        retrying(claim_and_log, f"logging {record.name}", patience=self.params.patience_s)

    def _log(self, record: RunRecord) -> None:
        from mlflow.entities import Metric, Param, RunTag

        content = record.content
        old = self.existing.get(record.key)
        if old is not None and old.content == content:
            run_id, new = old.run_id, False  # reopen a failed or interrupted run
            self.client.update_run(run_id, status="RUNNING")
        else:
            if old is not None:  # the configuration changed: params are immutable in MLflow, so replace the run
                self.client.delete_run(old.run_id)
            # the content tag comes with the params' batch: a run killed before it has no content and is replaced
            tags = {**record.tags, KEY_TAG: record.key, KIND_TAG: "unit", "mlflow.parentRunId": self.parent_id or ""}
            run_id = self.client.create_run(self.experiment_id, run_name=record.name, tags=tags).info.run_id
            new = True
        now = int(time.time() * 1000)
        metrics = [Metric(metric_name(k), float(v), now, 0) for k, v in record.metrics.items()]
        params = [Param(metric_name(k), str(v)[:6000]) for k, v in record.params.items()] if new else []
        tags = [RunTag(k, str(v)[:5000]) for k, v in {**record.tags, CONTENT_TAG: content}.items()]
        if record.error:
            tags.append(RunTag("xaibench.error", record.error[:5000]))
        for i in range(0, max(len(params), len(tags)), 100):
            self.client.log_batch(run_id, params=params[i:i + 100], tags=tags[i:i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])
        for rel, local in record.artifacts.items():
            self._log_artifact(run_id, rel, Path(local))
        self.client.set_terminated(run_id, status=record.status)
        self.existing[record.key] = _Existing(run_id, record.status, content)

    def _log_artifact(self, run_id: str, rel: str, local: Path) -> None:
        """Store ``local`` at the relative artifact path ``rel`` (renaming through a temp dir if needed)."""
        parent = str(Path(rel).parent)
        dest = None if parent == "." else parent
        if local.name == Path(rel).name:
            self.client.log_artifact(run_id, str(local), artifact_path=dest)
            return
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            renamed = Path(tmp) / Path(rel).name
            shutil.copyfile(local, renamed)
            self.client.log_artifact(run_id, str(renamed), artifact_path=dest)

    def close(self, status: str, artifacts: dict[str, Path]) -> list[str]:
        if self.client is None or self.parent_id is None:
            return []
        parent = self.parent_id

        def finish() -> None:
            for rel, local in artifacts.items():
                self._log_artifact(parent, rel, Path(local))
            self.client.set_terminated(parent, status=status)

        try:
            retrying(finish, "closing the invocation run", patience=self.params.patience_s)
        except Exception as exc:
            return [f"MLflow: the invocation run {parent} could not be closed in {self.uri}: "
                    f"{type(exc).__name__}: {exc}".splitlines()[0][:400]]
        return [f"MLflow: experiment {self.experiment_name!r} (id {self.experiment_id}), parent run {self.parent_id}, "
                f"store {self.uri}",
                f"  view: mlflow ui --backend-store-uri {self.uri}"]
