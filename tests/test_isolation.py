"""Isolation: a stage that never returns, calls sys.exit, raises KeyboardInterrupt or crashes the
process fails only itself, under ``local`` and ``process-pool``; the other cells finish."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from conftest import write
from hostile.components import CLASSES

from xaibench.config import load_registry
from xaibench.runner import run
from xaibench.testing.session import ComponentsPlugin, MemoryTracker, registered

REGISTRY = """\
experiment: isolation
seeds: [0]
layers: [input]
datasets: {{d: toy-data}}
models: {{lin: toy-linear}}
attributions:
  good: hostile-method
  g2: {{component: toy-gradient, params: {{scale: 2.0}}}}
{bad}
postprocessors: {{none: toy-identity}}
metrics: {{mean: toy-mean}}
limits: {{stage_seconds: {limit}}}
executor: {executor}
tracking: {{component: xaibench-testing-memory}}
"""


def grid(session, workdir, bad: list[str], executor="{component: local}", limit="3"):
    modes = "\n".join(f"  {m}: {{component: hostile-method, params: {{mode: {m}}}}}" for m in bad)
    path = write(workdir / "r.yaml", REGISTRY.format(bad=modes, executor=executor, limit=limit))
    with registered(ComponentsPlugin([*CLASSES, MemoryTracker]), session, "hostile") as s:
        start = time.perf_counter()
        summary = run(load_registry(path, s.catalog), s, quiet=True)
        return summary, time.perf_counter() - start


def check(summary, bad: dict[str, str]):
    failed = {label.split()[0]: err for label, err in summary.failed}
    assert set(failed) == set(bad), failed
    for alias, reason in bad.items():
        assert reason in failed[alias], failed[alias]
    rows = summary.table.to_pylist()
    for alias in ("good", "g2"):
        mine = [r for r in rows if r["attribution"] == alias and r["metric"] == "mean"]
        assert mine and {r["status"] for r in mine} == {"ok"}
    for alias in bad:
        assert {r["status"] for r in rows if r["attribution"] == alias and r["metric"] == "mean"} == {"failed"}
    records = {r.tags.get("attribution"): r.status for r in MemoryTracker.records}
    assert {a for a, st in records.items() if st == "FAILED"} == set(bad)


EXPECTED = {
    "sleep": "StageTimeout: the stage ran past its time limit of 3 s",
    "exit": "SystemExit: the stage's code called sys.exit(3)",
    "interrupt": "KeyboardInterrupt: raised by the stage's code, not by a user's Ctrl-C",
}


def test_local_executor_fails_only_the_misbehaving_stages(session, workdir):
    summary, took = grid(session, workdir, list(EXPECTED))
    check(summary, EXPECTED)
    assert took < 60


def test_a_components_own_time_limit_holds_when_the_registry_lifts_its_own(session, workdir):
    text = REGISTRY.format(bad="  timed: {component: hostile-timed, params: {mode: sleep}}", limit="null",
                           executor="{component: local}")
    path = write(workdir / "r.yaml", text)
    with registered(ComponentsPlugin([*CLASSES, MemoryTracker]), session, "hostile") as s:
        summary = run(load_registry(path, s.catalog), s, quiet=True)
    check(summary, {"timed": "time limit of 1 s"})


@pytest.mark.slow
def test_process_pool_fails_only_the_misbehaving_stages_a_crash_included(session, workdir):
    bad = {**EXPECTED, "segfault": "worker lost: the worker process "}  # "was killed by SIGSEGV" when the pool
    summary, took = grid(session, workdir, list(bad), executor="{component: process-pool, workers: 2}")
    check(summary, bad)  # still lists the dead worker (its exit code is read best-effort)
    assert took < 120


def test_a_segfault_under_local_fails_only_its_stage_and_the_run_resumes(run_cli, plugin_path, workdir):
    """Through the real command line: the supervising parent marks the crashed stage, restarts the
    run, which fails that stage's cells with the reason, finishes the others and writes the table;
    MLflow holds one run per combination, the crashed one FAILED.  A later run retries the stage."""
    import pyarrow.parquet as pq
    from conftest import TESTS, write_dist_info

    write_dist_info(workdir / "dists", "xaibench-hostile", "0.1.0", {"hostile": "hostile.plugin"})
    text = REGISTRY.format(bad="  segfault: {component: hostile-method, params: {mode: segfault}}",
                           executor="{component: local}", limit="60")
    write(workdir / "r.yaml", text.replace("tracking: {component: xaibench-testing-memory}\n", ""))
    env = {"PYTHONPATH": os.pathsep.join([*plugin_path, str(workdir / "dists"), str(TESTS)])}
    gone = _dead_pid()
    stale = Path(tempfile.mkdtemp(prefix=f"xaibench-run-{gone}-"))  # left by a supervisor killed with -9
    proc = run_cli("run", "r.yaml", "-q", env=env, timeout=240)
    assert not stale.exists()

    assert proc.returncode == 1, proc.stderr  # as for any failed stage
    crashed = [line for line in proc.stderr.splitlines() if line.startswith("stage ")]
    assert len(crashed) == 1 and "segfault" in crashed[0] and "(SIGSEGV); it is failed and the run resumes" in \
        crashed[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert "StageCrashed: the stage's code crashed the process (SIGSEGV)" in " ".join(proc.stdout.split())
    rows = pq.read_table(workdir / "results/isolation.parquet").to_pylist()
    status = {(r["attribution"], r["status"]) for r in rows if r["metric"] == "mean"}
    assert status == {("good", "ok"), ("g2", "ok"), ("segfault", "failed")}, status
    assert all("crashed the process (SIGSEGV)" in r["message"] for r in rows if r["attribution"] == "segfault")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("isolation").experiment_id], "tags.`xaibench.kind` = 'unit'")
    assert sorted((r.data.tags.get("attribution", ""), r.info.status) for r in runs) == \
        [("", "FINISHED"), ("g2", "FINISHED"), ("good", "FINISHED"), ("segfault", "FAILED")]  # "": the model
    assert not list(Path(tempfile.gettempdir()).glob("xaibench-run-*/crashed-*"))  # the journal went with the run

    again = run_cli("run", "r.yaml", "-q", env=env, timeout=240)  # a new invocation retries the crashed stage
    assert again.returncode == 1, again.stderr
    assert [line for line in again.stderr.splitlines() if line.startswith("stage ")] == crashed


def test_a_stop_delivered_twice_is_one_stop_and_a_later_one_ends_the_cleanup(monkeypatch):
    """A terminal's Ctrl-C reaches both ``xaibench run``'s supervisor and its child, which then gets it
    twice (the supervisor forwards it): the repeat is ignored; a signal after REPEAT_S is a second stop."""
    import signal

    from xaibench import interrupts

    cleaned = []
    with pytest.raises(interrupts.Interrupted), interrupts.stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except interrupts.Interrupted:
            os.kill(os.getpid(), signal.SIGINT)  # the same stop again: the cleanup goes on
            time.sleep(0.05)
            cleaned.append(True)
            raise
    assert cleaned
    monkeypatch.setattr(interrupts, "REPEAT_S", 0.0)
    with pytest.raises(KeyboardInterrupt) as second, interrupts.stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except interrupts.Interrupted:
            os.kill(os.getpid(), signal.SIGINT)  # a second stop ends the cleanup
            time.sleep(5)
    assert not isinstance(second.value, interrupts.Interrupted)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


CRASHING = """\
import ctypes, os, sys
from xaibench.supervisor import JOURNAL_ENV, CrashJournal
journal = CrashJournal(os.environ[JOURNAL_ENV])
for key in ("a", "b", "c"):
    if journal.crash(key):
        print("failed", key, flush=True)
        continue
    with journal.in_flight(key, "stage-" + key):
        if key in sys.argv[1:]:
            ctypes.string_at(0)
    print("done", key, flush=True)
if "outside" in sys.argv[1:]:
    ctypes.string_at(0)
"""


@pytest.mark.parametrize("crashing, code, said", [
    (["a", "c"], 0, ["stage stage-a crashed the process (SIGSEGV); it is failed and the run resumes",
                     "stage stage-c crashed the process (SIGSEGV); it is failed and the run resumes"]),
    (["outside"], 139, ["the run's process was killed by SIGSEGV outside any stage; stopping"]),
])
def test_the_supervisor_restarts_once_per_crashed_stage_then_reports_the_rest(crashing, code, said, capfd):
    import sys

    from xaibench.supervisor import supervise

    lines: list[str] = []
    got = supervise([sys.executable, "-c", CRASHING, *crashing], dict(os.environ), lines.append)
    assert (got, lines) == (code, said)
    out = capfd.readouterr().out  # three children: crash in a; a failed, b done, crash in c; a, b, c
    assert out == ("done a\ndone b\ndone c\n" if code else "failed a\ndone b\nfailed a\ndone b\nfailed c\n")
