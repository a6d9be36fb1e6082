"""MLflow tracker: a flat run per combination, batched logging.

Runs are flat (no parent run): each carries its dataset, model, method, post-processor,
layer and seed as params and tags, and the ``xaibench.invocation`` id of the invocation
that logged it, so the UI's runs table filters them directly.  The experiment is created
with ``mlflow.experimentKind = custom_model_development``, the kind MLflow 3 gives classic
model-training experiments; MLflow 3.17's UI still starts in its GenAI view (traces) unless
the URL says ``workflowType=machine_learning``, so the link printed at the end says it
(docs/tracking.md; tests/report/test_report_mlflow_ui.py opens it in Chromium).  An invocation that did something gets one ``xaibench.kind = invocation`` run with
its counts as metrics and the results table as artifacts; a fully cached re-run creates
no run.

MLflow 3 refuses the old ``./mlruns`` file store, so the default is a SQLite
store in the working directory (``sqlite:///mlflow.db``) with artifacts beside it
in ``./mlartifacts``; ``MLFLOW_TRACKING_URI`` or the registry's ``tracking.uri``
point elsewhere (an HTTP server).  Values are logged with ``log_batch`` only:
one-at-a-time logging runs at ~150 values/s on SQLite and ~20/s over HTTP.

Several invocations may share a store: schema creation and claiming a combination happen
under a lock file beside the store (``store.store_lock``), each claim looks the combination up
afresh, and store calls are retried with back-off for ``patience_s`` (a locked SQLite file, a
restarting server) before the core defers the combination to the next run (docs/integrity.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from xaibench.components import InvocationSummary, Params, RunRecord, Tracker
from xaibench.errors import XaibenchError

from .store import reachable, retrying, store_lock

KEY_TAG = "xaibench.key"
CONTENT_TAG = "xaibench.content"
KIND_TAG = "xaibench.kind"
INVOCATION_TAG = "xaibench.invocation"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
"""The value MLflow 3's UI gives classic (model-training) experiments: it opens them on the runs."""
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
        self.experiment_id: str | None = None
        self.experiment_name = ""
        self.tags: dict[str, str] = {}
        self.existing: dict[str, _Existing] = {}
        self.summary: InvocationSummary | None = None
        self.invocation_id: str | None = None

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
                        experiment, artifact_location=self._artifact_location(experiment),
                        tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
                else:
                    if exp.lifecycle_stage == "deleted":
                        self.client.restore_experiment(exp.experiment_id)
                    self.experiment_id = exp.experiment_id
                    if EXPERIMENT_KIND_TAG not in exp.tags:  # made by an older xaibench: open it on the runs too
                        self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
                self.existing = self._search_units()

        self.experiment_name = experiment
        self.tags = dict(tags)
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
        content = record.content
        old = self.existing.get(record.key)
        if old is not None and old.content == content:
            run_id, new = old.run_id, False  # reopen a failed or interrupted run
            self.client.update_run(run_id, status="RUNNING")
        else:
            if old is not None:  # the configuration changed: params are immutable in MLflow, so replace the run
                self.client.delete_run(old.run_id)
            # the content tag comes with the params' batch: a run killed before it has no content and is replaced
            tags = {**self.tags, **record.tags, KEY_TAG: record.key, KIND_TAG: "unit"}
            run_id = self.client.create_run(self.experiment_id, run_name=record.name, tags=tags).info.run_id
            new = True
        try:
            self._fill(run_id, record, new)
        except BaseException:  # stopped (SIGTERM) or failed half-way: the run must not stay RUNNING
            with contextlib.suppress(Exception):  # the store may be what failed
                self.client.set_terminated(run_id, status="KILLED")
            self.existing[record.key] = _Existing(run_id, "KILLED", content)
            raise
        self.existing[record.key] = _Existing(run_id, record.status, content)

    def _fill(self, run_id: str, record: RunRecord, new: bool) -> None:
        from mlflow.entities import Metric, Param, RunTag

        content = record.content
        now = int(time.time() * 1000)
        metrics = [Metric(metric_name(k), float(v), now, 0) for k, v in record.metrics.items()]
        params = [Param(metric_name(k), str(v)[:6000]) for k, v in record.params.items()] if new else []
        tags = [RunTag(k, str(v)[:5000]) for k, v in {**self.tags, **record.tags, CONTENT_TAG: content}.items()]
        if record.error:
            tags.append(RunTag("xaibench.error", record.error[:5000]))
        for i in range(0, max(len(params), len(tags)), 100):
            self.client.log_batch(run_id, params=params[i:i + 100], tags=tags[i:i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])
        for rel, local in record.artifacts.items():
            self._log_artifact(run_id, rel, Path(local))
        self.client.set_terminated(run_id, status=record.status)

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

    def summarize(self, summary: InvocationSummary) -> None:
        self.summary = summary

    def close(self, status: str, artifacts: dict[str, Path]) -> list[str]:
        if self.client is None:
            return []
        lines = [f"MLflow: experiment {self.experiment_name!r} (id {self.experiment_id}), store {self.uri}"]
        summary = self.summary
        if summary is not None and summary.did_something:
            try:
                self.invocation_id = retrying(lambda: self._log_invocation(summary, status, artifacts),
                                              "logging the invocation run", patience=self.params.patience_s)
                lines[0] += f", invocation run {self.invocation_id}"
            except Exception as exc:
                lines.append(f"MLflow: the invocation run could not be logged in {self.uri}: "
                             f"{type(exc).__name__}: {exc}".splitlines()[0][:400])
        ui = self.uri if self.uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"
        if ui == "http://127.0.0.1:5000":
            lines.append(f"  view: mlflow ui --backend-store-uri {self.uri}, then open")
        lines.append(f"  {ui.rstrip('/')}/#/experiments/{self.experiment_id}/runs?workflowType=machine_learning")
        return lines

    def _log_invocation(self, summary: InvocationSummary, status: str, artifacts: dict[str, Path]) -> str:
        """One run for the invocation: its counts as metrics, the results table as artifacts."""
        from mlflow.entities import Metric

        tags = {**self.tags, **summary.tags, KIND_TAG: "invocation", INVOCATION_TAG: summary.invocation}
        run_id = self.client.create_run(self.experiment_id, run_name=f"invocation {summary.invocation}",
                                        tags=tags).info.run_id
        now = int(time.time() * 1000)
        counts = {"stages": summary.stages, "cached": summary.cached, "computed": summary.computed,
                  "failed": summary.failed, "blocked": summary.blocked, "logged": summary.logged,
                  "already_tracked": summary.already_tracked}
        self.client.log_batch(run_id, metrics=[Metric(f"invocation.{k}", float(v), now, 0) for k, v in counts.items()])
        for rel, local in artifacts.items():
            self._log_artifact(run_id, rel, Path(local))
        self.client.set_terminated(run_id, status=status)
        return run_id
