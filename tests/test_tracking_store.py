"""One tracking store shared by concurrent invocations, a locked store, and broken stores."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from conftest import write

REGISTRY = """\
experiment: shared
seeds: [0]
layers: [input]
datasets: {{d: toy-data}}
models: {{lin: toy-linear}}
attributions:
  g1: {{component: toy-gradient, params: {{sleep: {sleep}}}}}
  g2: {{component: toy-gradient, params: {{scale: 2.0}}}}
postprocessors: {{none: toy-identity, shift: toy-mean-shift}}
metrics: {{mean: toy-mean, pair: toy-pair-diff}}
tracking: {{component: mlflow, uri: "sqlite:///{db}"}}
"""
UNITS = 1 + 2 * 2  # the model, and 2 methods x 2 post-processors


def start(plugin_path, workdir, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(plugin_path + [os.environ.get("PYTHONPATH", "")]),
           "XAIBENCH_DISABLE_PLUGINS": "report", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "xaibench", *args], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def units(db):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("shared")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("xaibench.kind") == "unit"], client


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_concurrent_runs_on_a_fresh_store_leave_one_run_per_combination(plugin_path, workdir, n):
    db = workdir / "mlflow.db"
    write(workdir / "r.yaml", REGISTRY.format(sleep=0.0, db=db))
    procs = [start(plugin_path, workdir, "run", "r.yaml", "--quiet") for _ in range(n)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [err[-2000:] for _, err in results]
    assert not any("Traceback" in err for _, err in results)
    runs, _ = units(db)
    per_key = Counter(r.data.tags["xaibench.key"] for r in runs)
    assert len(per_key) == UNITS and set(per_key.values()) == {1}, per_key
    assert {r.info.status for r in runs} == {"FINISHED"} and all(r.data.params for r in runs)
    assert not list(workdir.glob("results/*.tmp"))


@pytest.mark.slow
def test_a_store_locked_for_40_s_mid_run_loses_no_stage(plugin_path, workdir):
    db = workdir / "mlflow.db"
    write(workdir / "r.yaml", REGISTRY.format(sleep=0.5, db=db))
    proc = start(plugin_path, workdir, "run", "r.yaml")
    deadline = time.time() + 120
    while time.time() < deadline and not (db.exists() and _has_invocation(db)):
        time.sleep(0.2)
    held = threading.Event()

    def lock_for(seconds: float) -> None:
        con = sqlite3.connect(db, timeout=60, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    locker = threading.Thread(target=lock_for, args=(40.0,))
    locker.start()
    held.wait(60)
    out, err = proc.communicate(timeout=400)
    locker.join()
    assert proc.returncode == 0, err[-3000:]
    assert "retrying" in err  # it met the lock
    runs, _ = units(db)
    assert len(runs) == UNITS and {r.info.status for r in runs} == {"FINISHED"}
    assert "0 failed" in out + err or "failed" not in out


def _has_invocation(db) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT count(*) FROM runs").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_a_run_left_without_params_or_duplicated_is_repaired_by_the_next_run(session, workdir):
    from xaibench.config import load_registry
    from xaibench.runner import run

    db = workdir / "mlflow.db"
    path = write(workdir / "r.yaml", REGISTRY.format(sleep=0.0, db=db))
    run(load_registry(path, session.catalog), session, quiet=True)
    runs, client = units(db)
    victim, twin = runs[0], runs[1]
    client.delete_tag(victim.info.run_id, "xaibench.content")  # as if killed before its params' batch
    dup = client.create_run(twin.info.experiment_id, tags={k: v for k, v in twin.data.tags.items()
                                                          if not k.startswith("mlflow.")})
    client.set_terminated(dup.info.run_id, "FAILED")  # a second run of one combination (a store without a lock)
    again = run(load_registry(path, session.catalog), session, quiet=True)
    assert again.units_logged == 1
    runs, _ = units(db)
    per_key = Counter(r.data.tags["xaibench.key"] for r in runs)
    assert len(per_key) == UNITS and set(per_key.values()) == {1}
    assert all(r.data.params and r.data.tags.get("xaibench.content") for r in runs)


@pytest.mark.parametrize("uri, expected", [
    ("http://127.0.0.1:9", "cannot connect within 5 s"),
    ("warp://store", "unknown tracking URI scheme 'warp'"),
    ("sqlite:///afile/mlflow.db", "is not a writable directory"),
    ("sqlite:///garbage.db", "is not a usable SQLite database"),
])
def test_validate_checks_the_store_in_one_line(cli, workdir, uri, expected):
    (workdir / "afile").write_text("a file")
    (workdir / "garbage.db").write_bytes(b"this is not a database" * 100)
    write(workdir / "r.yaml", REGISTRY.format(sleep=0.0, db="x.db").replace('"sqlite:///x.db"', f'"{uri}"'))
    start_t = time.perf_counter()
    code, out, err = cli("validate", "r.yaml")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and expected in lines[0] and "r.yaml:" in lines[0], err
    assert time.perf_counter() - start_t < 15


def test_a_broken_store_defers_logging_and_the_table_is_still_written(session, workdir, caplog):
    from xaibench.config import load_registry
    from xaibench.runner import run

    (workdir / "garbage.db").write_bytes(b"this is not a database" * 100)
    path = write(workdir / "r.yaml", REGISTRY.format(sleep=0.0, db=workdir / "garbage.db"))
    with caplog.at_level("WARNING", logger="xaibench"):
        summary = run(load_registry(path, session.catalog), session, quiet=True)
    assert summary.ok and summary.results_path.exists() and summary.units_logged == 0
    assert summary.units_deferred == UNITS
    [line] = [r.getMessage() for r in caplog.records if "tracking store unavailable" in r.getMessage()]
    assert "garbage.db" in line and "\n" not in line
