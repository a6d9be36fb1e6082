"""The ``ray`` executor on a local 2-CPU Ray: same results as ``local``, retries on lost workers, shared caches.

One Ray instance serves the whole module (starting one takes several seconds).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import TOY_REGISTRY, write, write_dist_info

from xaibench.config import load_registry
from xaibench.runner import run
from xaibench.testing.session import MEMORY_TRACKER, ComponentsPlugin, MemoryTracker

ray = pytest.importorskip("ray")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

SMALL = """\
experiment: small
seeds: SEEDS
layers: [deep]
datasets: {d: toy-data}
models: {lin: toy-linear}
attributions:
  p: {component: pid-gradient, params: {pid_dir: PID_DIR, sleep: SLEEP}}
postprocessors: {none: toy-identity}
metrics: {mean: toy-mean}
"""


def table_rows(path) -> list[tuple]:
    rows = pq.read_table(path).drop_columns(["run_key"]).to_pylist()
    return sorted(tuple(None if v != v else v for v in r.values()) for r in rows)  # NaN != NaN


def grid(session, path):
    return run(load_registry(path, session.catalog), session, quiet=True)


def mlflow_units(db: Path, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=10000)
    return [r for r in runs if r.data.tags.get("xaibench.kind") == "unit"]


@pytest.fixture(scope="module", autouse=True)
def _importable():
    """Until the package is re-installed with ``xaibench_ray``, import it from the source tree."""
    with pytest.MonkeyPatch.context() as mp:
        if find_spec("xaibench_ray") is None:
            mp.syspath_prepend(str(REPO / "plugins"))
        yield


@pytest.fixture(scope="module")
def s3_env():
    """A moto S3 server on loopback and the variables that point boto at it, or None if moto/s3fs are missing."""
    try:
        import s3fs  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server.stop()


@pytest.fixture(scope="module")
def ray_path(plugin_path, tmp_path_factory, s3_env):
    """Start one local 2-CPU Ray whose workers see the toy plugins; yield the sys.path entries they use."""
    dists = tmp_path_factory.mktemp("ray-dists")
    write_dist_info(dists, "xaibench-raytest", "0.1.0", {"raytest": "raytest_plugin"})
    path = [str(dists), str(HERE), str(REPO / "plugins"), *plugin_path]
    from xaibench_ray.cluster import connect

    if ray.is_initialized():
        ray.shutdown()
    env = {"PYTHONPATH": os.pathsep.join(path), **(s3_env or {})}
    # One GPU is declared, none exists: Ray schedules GPU tasks by the count and sets CUDA_VISIBLE_DEVICES,
    # and nothing here touches CUDA.
    assert connect(None, num_cpus=2, verbose=False, runtime_env={"env_vars": env}, num_gpus=1)
    try:
        yield path
    finally:
        ray.shutdown()


@pytest.fixture
def rsession(session, ray_path):
    """The plugin session with the ``ray`` executor and the pid-reporting toy."""
    import raytest_plugin

    import xaibench_ray.plugin

    if "ray" not in session.plugins:
        session.add(xaibench_ray.plugin, name="ray")
    session.add(raytest_plugin, name="raytest")
    session.add(ComponentsPlugin([MemoryTracker]), name="memory-tracker")
    return session


def test_plugin_does_not_import_ray():
    code = ("import sys, xaibench_ray.plugin as p; from xaibench.plugins import PluginSession;"
            "s = PluginSession(load_entry_points=False); s.add(p, name='ray');"
            "assert s.catalog.get('executor', 'ray').cls.name == 'ray'; print('ray' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_params_and_task_options():
    from xaibench.stages import Stage
    from xaibench_ray.executor import RayExecutor

    with pytest.raises(ValueError, match="unknown stage kind"):
        RayExecutor.Params(gpus_per_stage={"training": 1})
    ex = RayExecutor(RayExecutor.Params(cpus_per_stage={"train": 4}, gpus_per_stage={"attribute": 0.5}, max_retries=2))
    train = ex.task_options(Stage("train", {"x": 1}))
    attr = ex.task_options(Stage("attribute", {"x": 1}, resources={"num_cpus": 2, "memory": 2**30, "disk": 1}))
    assert (train["num_cpus"], train["num_gpus"], train["max_retries"], train["retry_exceptions"]) == (4, 0, 2, False)
    assert (attr["num_cpus"], attr["num_gpus"], attr["memory"], attr["resources"]) == (2, 0.5, 2**30, {"disk": 1})
    assert train["runtime_env"] == {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}} and "runtime_env" not in attr
    node = {"CPU": 2.0, "memory": 8e9}
    assert RayExecutor.infeasible(train, node) and "4 CPU" in RayExecutor.infeasible(train, node)
    assert RayExecutor.infeasible(attr, {**node, "GPU": 1.0, "disk": 1.0}) is None


def test_worker_environment(monkeypatch, tmp_path):
    from xaibench_ray.cluster import driver_pythonpath, merge_env

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", "/inherited")
    parts = driver_pythonpath().split(os.pathsep)
    assert parts[0] == str(tmp_path) and parts[-1] == "/inherited"
    assert not any(Path(p).is_relative_to(sys.prefix) for p in parts)  # installed packages: workers have them
    env = merge_env({"env_vars": {"PYTHONPATH": "/mine"}, "pip": ["x"]}, {"PYTHONPATH": "/driver", "A": "1"})
    assert env == {"env_vars": {"PYTHONPATH": "/mine", "A": "1"}, "pip": ["x"]}


def test_ray_grid_equals_local_and_resumes(rsession, workdir):
    write(workdir / "local.yaml", TOY_REGISTRY + f"cache: cache-local\nresults: res-local\ntracking: {{component: {MEMORY_TRACKER}}}\n")
    # a relative cache path: workers do not share the driver's working directory
    write(workdir / "ray.yaml", TOY_REGISTRY + "cache: cache-ray\nresults: res-ray\nexecutor: {component: ray}\n")
    ref = grid(rsession, workdir / "local.yaml")
    got = grid(rsession, workdir / "ray.yaml")
    assert ref.ok and got.ok, got.failed
    assert got.computed == got.stages == ref.stages and got.units_logged == 18
    assert table_rows(got.results_path) == table_rows(ref.results_path)
    units = mlflow_units(workdir / "mlflow.db", "toy")
    assert len(units) == 18 and {r.info.status for r in units} == {"FINISHED"}

    again = grid(rsession, workdir / "ray.yaml")
    assert again.computed == 0 and again.cached == again.stages and again.units_logged == 0
    assert len(mlflow_units(workdir / "mlflow.db", "toy")) == 18


def test_a_component_registered_only_in_process_reaches_the_ray_workers(rsession, workdir):
    from raytest_plugin import InProcessData

    rsession.add(ComponentsPlugin([InProcessData]), name="inprocess")
    text = TOY_REGISTRY.replace("d: toy-data", "d: ray-inprocess-data")
    write(workdir / "local.yaml", text + f"cache: c-local\nresults: r-local\ntracking: {{component: {MEMORY_TRACKER}}}\n")
    write(workdir / "ray.yaml", text + f"cache: c-ray\nresults: r-ray\ntracking: {{component: {MEMORY_TRACKER}}}\n"
                                       "executor: {component: ray}\n")
    ref, got = grid(rsession, workdir / "local.yaml"), grid(rsession, workdir / "ray.yaml")
    assert got.ok, got.failed
    assert got.computed == got.stages and table_rows(got.results_path) == table_rows(ref.results_path)


SHARDED = SMALL.replace("datasets: {d: toy-data}", "datasets: {d: {component: toy-data, params: {n: 12}}}")


def _sharded(workdir: Path, name: str, executor: str, sleep: float) -> tuple[Path, Path]:
    pid_dir = workdir / f"pids-{name}"
    pid_dir.mkdir()
    text = SHARDED.replace("PID_DIR", str(pid_dir)).replace("SLEEP", str(sleep)).replace("SEEDS", "[0]")
    text += f"cache: cache-{name}\nresults: res-{name}\nexecutor: {executor}\ntracking: {{component: {MEMORY_TRACKER}}}\n"
    return write(workdir / f"{name}.yaml", text), pid_dir


def test_one_attribution_stage_runs_as_shards_on_two_workers(rsession, workdir):
    """12 test samples of 128 input bytes, shards of at most 600 bytes: 3 shards of 4, as 3 tasks."""
    ref_path, _ = _sharded(workdir, "ref", "{component: local}", 0.0)
    path, pid_dir = _sharded(workdir, "shards", "{component: ray, shard_mb: 0.0006}", 1.0)
    ref, got = grid(rsession, ref_path), grid(rsession, path)
    assert got.ok, got.failed
    test_files = sorted(pid_dir.glob("test-0-deep.*.pid"))
    assert sorted(int(p.name.split(".")[3]) for p in test_files) == [0, 4, 8]  # each shard once
    assert len({p.name.split(".")[1] for p in test_files}) == 2  # on both workers of the 2-CPU Ray
    assert table_rows(got.results_path) == table_rows(ref.results_path)
    again = grid(rsession, path)
    assert again.computed == 0 and len(list(pid_dir.glob("test-0-deep.*.pid"))) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_workers_shard_is_recomputed(rsession, workdir):
    ref_path, _ = _sharded(workdir, "ref", "{component: local}", 0.0)
    path, pid_dir = _sharded(workdir, "killshard", "{component: ray, shard_mb: 0.0006, max_retries: 2}", 1.0)
    ref = grid(rsession, ref_path)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=(pid_dir, killed))
    killer.start()
    got = grid(rsession, path)
    killer.join()
    assert len(killed) == 1 and got.ok, got.failed
    by_offset: dict[str, list[int]] = {}
    for p in pid_dir.glob("test-0-deep.*.pid"):
        _, pid, _, offset, _ = p.name.split(".")
        by_offset.setdefault(offset, []).append(int(pid))
    assert sorted(by_offset, key=int) == ["0", "4", "8"]
    victim = next(o for o, pids in by_offset.items() if killed[0] in pids)
    assert len(by_offset[victim]) == 2 and len(set(by_offset[victim])) == 2  # killed, then recomputed elsewhere
    assert all(len(pids) == 1 for o, pids in by_offset.items() if o != victim)  # no other shard recomputed
    assert table_rows(got.results_path) == table_rows(ref.results_path)


def _kill_first_worker(pid_dir: Path, killed: list[int], timeout: float = 60) -> None:
    """SIGKILL the Ray worker that writes the first pid file (never this process)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = sorted(pid_dir.glob("*.pid"))
        if files:
            pid = int(files[0].name.split(".")[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            assert pid != os.getpid() and "ray" in cmdline, cmdline
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def _small(workdir: Path, name: str, executor: str, sleep: float = 0.0, cache: str | None = None,
           seeds: int = 1) -> tuple[Path, Path]:
    """A one-cell-per-seed registry whose attribution reports its worker's pid; runs tracked in memory."""
    pid_dir = workdir / f"pids-{name}"
    pid_dir.mkdir()
    text = SMALL.replace("PID_DIR", str(pid_dir)).replace("SLEEP", str(sleep)).replace("SEEDS", str(list(range(seeds))))
    text += f"cache: {cache or 'cache-' + name}\nresults: res-{name}\nexecutor: {executor}\n"
    text += f"tracking: {{component: {MEMORY_TRACKER}}}\n"
    return write(workdir / f"{name}.yaml", text), pid_dir


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_worker_is_retried_with_identical_results(rsession, workdir):
    ref_path, _ = _small(workdir, "ref", "{component: local}")
    path, pid_dir = _small(workdir, "kill", "{component: ray, max_retries: 2}", sleep=1.0)
    ref = grid(rsession, ref_path)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=(pid_dir, killed))
    killer.start()
    got = grid(rsession, path)
    killer.join()
    assert len(killed) == 1
    assert got.ok, got.failed
    attempts = sorted(pid_dir.glob("test-0-deep.*.pid"), key=lambda p: int(p.name.split(".")[2]))
    pids = [int(p.name.split(".")[1]) for p in attempts]
    assert len(pids) == 2 and pids[0] == killed[0] and pids[1] != killed[0]  # killed once, retried once elsewhere
    assert table_rows(got.results_path) == table_rows(ref.results_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_lost_without_retries_fails_only_its_combination(rsession, workdir):
    path, pid_dir = _small(workdir, "noretry", "{component: ray, max_retries: 0}", sleep=30.0)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_worker, args=(pid_dir, killed))
    killer.start()
    got = grid(rsession, path)
    killer.join()
    assert killed and not got.ok
    ((label, error),) = got.failed
    assert label.startswith("p test") and error.startswith("worker lost: WorkerCrashedError")
    assert got.blocked and {root for _, root in got.blocked} == {label}
    rows = got.table.to_pylist()
    assert {r["status"] for r in rows if r["metric"] == "training"} == {"ok"}
    assert {r["status"] for r in rows if r["metric"] == "mean"} == {"failed"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_gpu_stage_gets_a_gpu_and_a_worker_of_its_own(rsession, workdir):
    path, pid_dir = _small(workdir, "gpu", "{component: ray, gpus_per_stage: {attribute: 0.5}}")
    got = grid(rsession, path)
    assert got.ok, got.failed
    (pid_file,) = pid_dir.glob("*.pid")
    assert pid_file.read_text() == "0"  # Ray gave it GPU 0
    pid = int(pid_file.name.split(".")[1])
    deadline = time.time() + 20
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()  # the worker exited after its one task (CPU workers are reused)


def test_impossible_gpu_request_fails_fast(rsession, workdir):
    path, _ = _small(workdir, "gpus", "{component: ray, gpus_per_stage: {attribute: 2}}")
    got = grid(rsession, path)
    errors = dict(got.failed)
    assert any(e.startswith("ResourceError:") and "2 GPU" in e and "has 1" in e for e in errors.values())
    assert {r["status"] for r in got.table.to_pylist() if r["metric"] == "training"} == {"ok"}


def test_cache_on_a_second_directory(rsession, workdir, tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared") / "cache"
    ref_path, _ = _small(workdir, "ref", "{component: local}")
    path, pid_dir = _small(workdir, "shared", "{component: ray}", cache=str(shared))
    ref = grid(rsession, ref_path)
    got = grid(rsession, path)
    assert got.ok and got.computed == got.stages
    assert [p.read_text() for p in pid_dir.glob("*.pid")] == [""]  # a CPU stage sees no GPU
    assert len(list(shared.rglob("*.xbc"))) == got.stages
    assert table_rows(got.results_path) == table_rows(ref.results_path)


def test_cache_on_s3(rsession, workdir, s3_env, monkeypatch):
    """The cache in a bucket of a local moto S3 server (the workers got its address when Ray started)."""
    if s3_env is None:
        pytest.skip("moto[server] and s3fs are not installed")
    for k, v in s3_env.items():
        monkeypatch.setenv(k, v)
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("xaibench-test")
    ref_path, _ = _small(workdir, "ref", "{component: local}")
    path, _ = _small(workdir, "s3", "{component: ray}", cache="s3://xaibench-test/cache")
    ref = grid(rsession, ref_path)
    got = grid(rsession, path)
    assert got.ok, got.failed
    assert got.computed == got.stages
    assert len(fs.glob("xaibench-test/cache/*/*.xbc")) == got.stages
    assert table_rows(got.results_path) == table_rows(ref.results_path)
