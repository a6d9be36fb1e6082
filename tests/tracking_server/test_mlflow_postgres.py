"""A shared MLflow tracking server (PostgreSQL store, artifacts on a shared directory) fed by a Ray grid.

Needs a PostgreSQL role that may create databases (``.ci/services.sh`` makes one); the URI is
``$XAIBENCH_TEST_POSTGRES`` (default below).  Skips when psycopg2, Ray or the database is
unavailable.  Every network call stays on 127.0.0.1 with bounded timeouts; the server and
the test database are removed at teardown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import write

from xaibench.config import load_registry
from xaibench.runner import run

psycopg2 = pytest.importorskip("psycopg2")
ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PG = "postgresql://xaibench:xaibench@127.0.0.1:5432/xaibench"
# 6 tracked runs: a model run per seed and 2 methods x 2 seeds; g1 fails on seed 1 while FLAG exists
REGISTRY = """\
experiment: tracked
seeds: [0, 1]
layers: [deep]
datasets: {d: toy-data}
models: {lin: toy-linear}
attributions:
  g1: {component: toy-gradient, params: {fail_on_seed: 1, fail_while_file_exists: FLAG}}
  g2: {component: toy-gradient, params: {scale: 2.0}}
postprocessors: {none: toy-identity}
metrics: {mean: toy-mean, pair: toy-pair-diff, norm: toy-weight-norm}
executor: {component: ray}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_database():
    """A fresh, empty database on the test server: its URI; dropped at teardown."""
    admin_uri = os.environ.get("XAIBENCH_TEST_POSTGRES", DEFAULT_PG)
    try:
        admin = psycopg2.connect(admin_uri, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {admin_uri.split('@')[-1]} (run .ci/services.sh): {str(exc).strip()[:120]}")
    admin.autocommit = True
    name = f"xaibench_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3: name the driver that is installed.
    store_uri = admin_uri.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1) + "/" + name
    try:
        yield store_uri
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="module")
def mlflow_server(pg_database, tmp_path_factory):
    """``mlflow server`` on a free loopback port; yields (tracking URI, artifact root)."""
    root = tmp_path_factory.mktemp("mlflow")
    artifacts = root / "artifacts"
    port = _free_port()
    log = open(root / "server.log", "wb")
    # No job runner (MLflow's GenAI scorers: seven worker processes this test does not use);
    # connections left open by clients must not hold up the shutdown.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", pg_database,
         "--default-artifact-root", str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--uvicorn-opts", "--timeout-graceful-shutdown 3"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120  # the first start creates the schema
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield uri, artifacts
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the server and its workers: the process group it leads (started with a new session)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def ray_workers(mlflow_server, plugin_path):
    """A local 2-CPU Ray whose workers see the toy plugin (started after the services answer)."""
    with pytest.MonkeyPatch.context() as mp:
        if find_spec("xaibench_ray") is None:  # not (re-)installed yet: the source tree
            mp.syspath_prepend(str(REPO / "plugins"))
        from xaibench_ray.cluster import connect

        if ray.is_initialized():
            ray.shutdown()
        path = os.pathsep.join([str(REPO / "plugins"), *plugin_path])
        assert connect(None, num_cpus=2, verbose=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
        try:
            yield
        finally:
            ray.shutdown()


def _units(client, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], filter_string="tags.`xaibench.kind` = 'unit'", max_results=1000)


def _files(client, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for info in client.list_artifacts(run_id, path):
        out += _files(client, run_id, info.path) if info.is_dir else [info.path]
    return out


@pytest.mark.slow  # an MLflow server and a Ray start: ~30 s before the grid
def test_grid_logs_each_run_and_artifact_once(session, workdir, mlflow_server, ray_workers, monkeypatch):
    from mlflow.tracking import MlflowClient

    import xaibench_ray.plugin

    uri, artifact_root = mlflow_server
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    if "ray" not in session.plugins:
        session.add(xaibench_ray.plugin, name="ray")
    flag = workdir / "flaky"
    flag.touch()
    write(workdir / "r.yaml", REGISTRY.replace("FLAG", str(flag)) + f"tracking: {{uri: '{uri}'}}\n")

    def grid():
        return run(load_registry(workdir / "r.yaml", session.catalog), session, quiet=True)

    client = MlflowClient(uri)
    first = grid()
    assert not first.ok and first.units_logged == 6
    units = _units(client, "tracked")
    keys = [r.data.tags["xaibench.key"] for r in units]
    assert len(units) == 6 and len(set(keys)) == 6  # every combination exactly once
    failed = [r for r in units if r.info.status == "FAILED"]
    assert [(r.data.tags["attribution"], r.data.params["seed"]) for r in failed] == [("g1", "1")]
    for r in units:
        assert _files(client, r.info.run_id) == (["errors/traceback.txt"] if r in failed else [])
    assert len(list(artifact_root.rglob("traceback.txt"))) == 1  # written straight to the shared directory
    exp = client.get_experiment_by_name("tracked")
    (inv,) = client.search_runs([exp.experiment_id], "tags.`xaibench.kind` = 'invocation'")
    assert {r.data.tags["xaibench.invocation"] for r in units} == {inv.data.tags["xaibench.invocation"]}
    assert sorted(_files(client, inv.info.run_id)) == ["results/tracked-summary.csv", "results/tracked.parquet"]

    flag.unlink()  # the transient cause is gone: the failed run is reopened, not duplicated
    second = grid()
    assert second.ok and second.units_logged == 1
    again = _units(client, "tracked")
    assert {r.info.run_id for r in again} == {r.info.run_id for r in units}
    assert {r.info.status for r in again} == {"FINISHED"}
    assert len(list(artifact_root.rglob("traceback.txt"))) == 1

    third = grid()
    assert third.ok and third.computed == 0 and third.units_logged == 0
    assert len(_units(client, "tracked")) == 6
    invocations = client.search_runs([exp.experiment_id], "tags.`xaibench.kind` = 'invocation'")
    # the fully cached third invocation created no run
    assert len(invocations) == 2 and sorted(r.info.status for r in invocations) == ["FAILED", "FINISHED"]
