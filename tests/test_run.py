"""The grid end to end on toy components: caching, resuming, failures, filters, executors."""

from __future__ import annotations

import os
import signal
import time

import pyarrow.parquet as pq
import pytest
from conftest import TOY_REGISTRY, write

from xaibench.config import load_registry
from xaibench.planning import build_plan
from xaibench.runner import run


def mlflow_units(workdir, experiment="toy"):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=10000)
    return [r for r in runs if r.data.tags.get("xaibench.kind") == "unit"], client


def grid(session, path, **kw):
    return run(load_registry(path, session.catalog, **kw), session, quiet=True)


def table_rows(path):
    t = pq.read_table(path)
    rows = t.drop_columns(["run_key"]).to_pylist()
    return sorted(tuple(None if v != v else v for v in r.values()) for r in rows)  # NaN != NaN


def test_plan_shape_and_skips(session, toy_registry):
    plan = build_plan(load_registry(toy_registry, session.catalog), session.catalog)
    kinds = [u.kind for u in plan.units]
    assert kinds.count("model") == 2 and kinds.count("cell") == 2 * 2 * 2 * 2  # seeds x layers x methods x pps
    stages = plan.stages()
    by_kind = {k: sum(s.kind == k for s in stages) for k in {s.kind for s in stages}}
    # data and training once per seed; the method-independent prepare stage once per (seed, layer)
    assert by_kind["data"] == 2 and by_kind["train"] == 2 and by_kind["prepare"] == 4 and by_kind["features"] == 4
    # model-scope metric once per model (not multiplied by methods); pair metric once per (seed, layer, pp)
    metric_scopes = [s.spec["scope"] for s in stages if s.kind == "metric"]
    assert metric_scopes.count("model") == 2 and metric_scopes.count("methods") == 8
    cell = next(u for u in plan.units if u.kind == "cell")
    skipped = plan.skipped_metrics(cell)
    assert "aux" in skipped and "requires aux" in skipped["aux"]
    keys = [s.key for s in stages]
    assert len(keys) == len(set(keys))
    pos = {s.key: i for i, s in enumerate(stages)}
    assert all(pos[d.key] < pos[s.key] for s in stages for d in s.dependencies())


def test_first_run_then_fully_cached(session, toy_registry, workdir):
    first = grid(session, toy_registry)
    assert first.ok and first.computed == first.stages and first.units_logged == 18
    units, client = mlflow_units(workdir)
    assert len(units) == 18 and {r.info.status for r in units} == {"FINISHED"}
    # flat runs, all tagged with the one invocation that logged them; the experiment opens on its runs in the UI
    assert not any("mlflow.parentRunId" in r.data.tags for r in units)
    invocation = {r.data.tags["xaibench.invocation"] for r in units}
    assert len(invocation) == 1
    exp = client.get_experiment_by_name("toy")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    everything = client.search_runs([exp.experiment_id], max_results=10000)
    (inv,) = [r for r in everything if r.data.tags.get("xaibench.kind") == "invocation"]
    assert inv.data.tags["xaibench.invocation"] == invocation.pop() and inv.info.status == "FINISHED"
    assert inv.data.metrics["invocation.computed"] == first.stages and inv.data.metrics["invocation.logged"] == 18
    assert any("workflowType=machine_learning" in line for line in first.tracking)
    cell = next(r for r in units if r.data.tags.get("attribution") == "g2" and r.data.tags.get("postprocessor") == "none")
    assert cell.data.params["attribution.scale"] == "2.0" and cell.data.params["layer"] in ("input", "deep")
    coords = ("dataset", "model", "seed", "layer", "attribution", "postprocessor")  # filterable in the UI's table
    assert all(c in cell.data.tags and c in cell.data.params for c in coords)
    assert "mean.value" in cell.data.metrics and "pair.value.g1" in cell.data.metrics
    model_run = next(r for r in units if "attribution" not in r.data.tags)
    assert "train.accuracy" in model_run.data.metrics and "norm.value" in model_run.data.metrics

    second = grid(session, toy_registry)
    assert second.computed == 0 and second.cached == second.stages and second.units_logged == 0
    assert len(mlflow_units(workdir)[0]) == 18
    assert len(client.search_runs([exp.experiment_id], max_results=10000)) == 19  # a cached re-run creates no run
    table = pq.read_table(first.results_path)
    assert table.schema.metadata[b"xaibench.results_schema"] == b"1"
    assert str(table.schema.field("metric").type).startswith("dictionary")
    statuses = set(table.column("status").to_pylist())
    assert statuses == {"ok", "skipped"}
    # the method x method matrix is rows: both orders of the pair
    pair = [r for r in table.to_pylist() if r["metric"] == "pair" and r["seed"] == 0 and r["layer"] == "deep"
            and r["postprocessor"] == "none"]
    assert {(r["attribution"], r["sub_key"]) for r in pair} == {("g1", "g2"), ("g2", "g1")}


def test_known_values(session, toy_registry):
    """g2 = 2 x g1 exactly, so the toy-mean metric doubles and the shift post-processor adds the train mean."""
    s = grid(session, toy_registry)
    rows = [r for r in s.table.to_pylist() if r["metric"] == "mean" and r["statistic"] == "value"]
    val = {(r["seed"], r["layer"], r["attribution"], r["postprocessor"]): r["value"] for r in rows}
    for seed in (0, 1):
        assert val[(seed, "deep", "g2", "none")] == pytest.approx(2 * val[(seed, "deep", "g1", "none")], rel=1e-6)


def test_models_scope_compares_models_once_per_group(session, workdir):
    """One stage per (dataset, seed, layer, method, post-processor) over the models; values go to their model."""
    reg = TOY_REGISTRY.replace("lin: toy-linear", "lin: toy-linear\n  lin3: {component: toy-linear, params: {scale: 3.0}}")
    write(workdir / "r.yaml", reg.replace("metrics:\n", "metrics:\n  mdiff: toy-model-diff\n"))
    config = load_registry(workdir / "r.yaml", session.catalog)
    stages = build_plan(config, session.catalog).stages()
    groups = [s for s in stages if s.kind == "metric" and s.spec["scope"] == "models"]
    assert len(groups) == 2 * 2 * 2 * 2  # seeds x layers x methods x post-processors, not x models
    assert all([m.alias for m in g.members] == ["lin", "lin3"] and all(m.model is not None for m in g.members)
               for g in groups)
    s = run(config, session, quiet=True)
    assert s.ok
    rows = s.table.to_pylist()
    diff = {(r["seed"], r["layer"], r["attribution"], r["postprocessor"]): r["value"]
            for r in rows if r["metric"] == "mdiff" and r["model"] == "lin3"}
    assert len(diff) == 16 and all(v > 0 for v in diff.values())
    assert {r["sub_key"] for r in rows if r["metric"] == "mdiff"} == {"lin"}
    assert not any(r["metric"] == "mdiff" and r["model"] == "lin" for r in rows)
    # g2 = 2 x g1 for both models, so lin3's difference from lin doubles too
    for seed in (0, 1):
        assert diff[(seed, "deep", "g2", "none")] == pytest.approx(2 * diff[(seed, "deep", "g1", "none")], rel=1e-5)


def test_models_scope_with_one_model_is_skipped_with_reason(session, workdir):
    write(workdir / "r.yaml", TOY_REGISTRY.replace("metrics:\n", "metrics:\n  mdiff: toy-model-diff\n"))
    rows = grid(session, workdir / "r.yaml").table.to_pylist()
    skipped = [r for r in rows if r["metric"] == "mdiff"]
    assert skipped and all(r["status"] == "skipped" and "compares models" in r["message"] for r in skipped)


def test_changing_one_metric_recomputes_only_that_metric(session, toy_registry, workdir):
    grid(session, toy_registry)
    write(toy_registry, TOY_REGISTRY.replace("mean: toy-mean", "mean: {component: toy-mean, params: {offset: 1.0}}"))
    s = grid(session, toy_registry)
    n_mean = sum(1 for st in s.plan.stages() if st.kind == "metric" and st.spec["metric"]["name"] == "toy-mean")
    assert s.computed == n_mean == 16
    units, _ = mlflow_units(workdir)
    live = [r for r in units if r.info.lifecycle_stage == "active"]
    assert len(live) == 18  # replaced runs, never duplicated
    assert all(r.data.params.get("metric.mean.offset") in (None, "1.0") for r in live)


def test_adding_a_method_computes_only_new_cells(session, toy_registry):
    grid(session, toy_registry)
    write(toy_registry, TOY_REGISTRY.replace("  g2:", "  g3: {component: toy-gradient, params: {scale: 3.0}}\n  g2:"))
    s = grid(session, toy_registry)
    kinds = {}
    for st in s.plan.stages():
        kinds.setdefault(st.kind, 0)
    # new: attribute (test, train) + 2 postprocess + mean metrics per (seed, layer); pair metrics regroup
    assert s.computed == 4 * (2 + 2 + 2) + 8
    assert not any(k in ("data", "train", "features", "prepare") for k in [])


def test_failing_component_fails_its_combination_only(session, workdir):
    flag = workdir / "flaky"
    flag.touch()
    params = f"{{fail_on_seed: 1, fail_while_file_exists: {flag}}}"
    write(workdir / "r.yaml", TOY_REGISTRY.replace("g1: toy-gradient", f"g1: {{component: toy-gradient, params: {params}}}"))
    s = grid(session, workdir / "r.yaml")
    assert not s.ok
    assert s.failed and all("asked to fail on seed 1" in e for _, e in s.failed)
    units, client = mlflow_units(workdir)
    failed = [r for r in units if r.info.status == "FAILED"]
    assert {(r.data.tags["attribution"], r.data.params["seed"]) for r in failed} == {("g1", "1")}
    ok = [r for r in units if r.info.status == "FINISHED"]
    assert len(failed) == 4 and len(ok) == 18 - 4
    # the pair metric compares g1 with g2: the g2 cells of seed 1 finish, with the comparison marked missing
    g2 = [r for r in ok if r.data.tags.get("attribution") == "g2" and r.data.params["seed"] == "1"]
    assert len(g2) == 4 and all("asked to fail on seed 1" in r.data.tags["missing.pair.g1"] for r in g2)
    arts = [a.path for a in client.list_artifacts(failed[0].info.run_id, "errors")]
    assert arts == ["errors/traceback.txt"]
    tb = client.download_artifacts(failed[0].info.run_id, "errors/traceback.txt", str(workdir))
    assert "ValueError: toy-gradient asked to fail on seed 1" in open(tb).read()
    statuses = {r["status"] for r in s.table.to_pylist() if r["seed"] == 1 and r["attribution"] == "g1"}
    assert "failed" in statuses
    assert {r["status"] for r in s.table.to_pylist() if r["seed"] == 0} <= {"ok", "skipped"}

    # once the transient cause is gone, a re-run reopens the failed runs: no duplicates
    flag.unlink()
    again = grid(session, workdir / "r.yaml")
    assert again.ok
    units, _ = mlflow_units(workdir)
    live = [r for r in units if r.info.lifecycle_stage == "active"]
    assert len(live) == 18 and {r.info.status for r in live} == {"FINISHED"}
    assert {r.info.run_id for r in failed} <= {r.info.run_id for r in live}


def test_failing_model_fails_dependents_and_exit_code(cli, workdir):
    write(workdir / "r.yaml", TOY_REGISTRY.replace("lin: toy-linear", "lin: toy-linear\n  bad: {component: toy-linear, params: {fail: true}}"))
    code, out, _ = cli("run", "r.yaml", "--quiet")
    assert code == 1
    assert "toy model asked to fail" in out and "failed" in out
    units, _ = mlflow_units(workdir)
    assert {r.info.status for r in units if r.data.tags["model"] == "bad"} == {"FAILED"}
    assert {r.info.status for r in units if r.data.tags["model"] == "lin"} == {"FINISHED"}


def test_only_and_exclude_filters(session, toy_registry):
    s = grid(session, toy_registry, only=["seed=1", "postprocessor=none"])
    cells = [u for u in s.plan.units if u.kind == "cell"]
    assert {(u.coords.seed, u.coords.postprocessor) for u in cells} == {(1, "none")}
    write(toy_registry, TOY_REGISTRY + "exclude:\n  - {layer: input}\n  - {attribution: g2, postprocessor: shift}\n")
    plan = build_plan(load_registry(toy_registry, session.catalog), session.catalog)
    combos = {(u.coords.layer, u.coords.attribution, u.coords.postprocessor) for u in plan.units if u.kind == "cell"}
    assert combos == {("deep", "g1", "none"), ("deep", "g1", "shift"), ("deep", "g2", "none")}


def test_a_layer_no_model_has_is_refused_before_running(session, workdir):
    from xaibench.errors import ConfigError

    write(workdir / "r.yaml", TOY_REGISTRY.replace("layers: [input, deep]", "layers: [deep, head]"))
    with pytest.raises(ConfigError, match="layers: no model has a layer 'head'"):
        grid(session, workdir / "r.yaml")
    assert not (workdir / "results").exists()


def test_dry_run_prints_plan(cli, toy_registry):
    code, out, _ = cli("run", "registry.yaml", "--dry-run")
    assert code == 0 and "16 attribution combinations" in out and "to compute" in out and "requires aux" in out
    cli("run", "registry.yaml", "-q")
    code, out, _ = cli("run", "registry.yaml", "--dry-run")
    assert "(48 cached, 0 to compute)" in out or " 0 to compute" in out


def test_results_command_formats(cli, toy_registry, workdir):
    cli("run", "registry.yaml", "-q")
    code, out, _ = cli("results", "--experiment", "toy")
    assert code == 0 and "mean ± std" in out
    code, out, _ = cli("results", "--format", "csv")
    assert out.splitlines()[0].startswith('"experiment","dataset","model","seed"')
    code, _, _ = cli("results", "--format", "parquet", "--out", "x.parquet")
    assert code == 0 and pq.read_table(workdir / "x.parquet").num_rows > 0
    code, _, err = cli("results", "--experiment", "nope")
    assert code == 1 and "no results for experiment 'nope'" in err


def test_results_filters_and_json_round_trip(cli, toy_registry, workdir):
    import json
    import math

    code, out, _ = cli("run", "registry.yaml", "-q", "--format", "json")
    summary = json.loads(out)  # the end-of-run table: one headline statistic per metric
    # (pair's values are per second method, sub_key; `xaibench results` shows them)
    assert code == 0 and {(r["metric"], r["statistic"]) for r in summary} == {("mean", "value"), ("norm", "value")}
    assert len([r for r in summary if r["metric"] == "mean"]) == 8 and all(r["n"] == 2 for r in summary)
    code, out, _ = cli("results", "--where", "attribution=g1", "--where", "seed=1", "--metric", "mean", "--format",
                       "json")
    rows = json.loads(out)
    full = [r for r in pq.read_table(workdir / "results/toy.parquet").to_pylist()
            if r["attribution"] == "g1" and r["seed"] == 1 and r["metric"] == "mean"]
    assert code == 0 and rows == [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
                                  for r in full]
    assert {r["statistic"] for r in rows} == {"value", "class_mean"} and len(rows) == 2 * 4 * 2  # layers x stats x pps
    code, out, _ = cli("results", "--metric", "mean.value", "--where", "postprocessor=shift", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 1 + 2 * 2 * 2  # header + seeds x layers x methods
    code, _, err = cli("results", "--where", "colour=red")
    assert code == 1 and "--where 'colour=red': expected COLUMN=VALUE with COLUMN one of" in err
    code, _, err = cli("results", "--metric", "nope")
    assert code == 1 and "--metric 'nope': no such metric" in err


def test_end_of_run_table_shows_each_metrics_headline():
    from xaibench.directions import MetricDirection, MetricDirections
    from xaibench.output import headline_summary
    from xaibench.results import summarize, to_table

    directions = MetricDirections({"seg": MetricDirection(True, {}, "f1_micro"),
                                   "ms": MetricDirection(False, {"std": None})})
    stats = {"seg": ["accuracy", "f1_macro", "f1_micro", "iou_mean"], "ms": ["mean", "std"], "pearson": ["value"]}
    rows = [{"experiment": "e", "dataset": "d", "model": "m", "seed": seed, "layer": "l", "attribution": a,
             "postprocessor": "none", "metric": metric, "statistic": stat, "sub_key": "", "value": 0.5 + seed,
             "status": "ok", "run_key": ""}
            for seed in (0, 1) for a in ("g1", "g2") for metric, names in stats.items() for stat in names]
    table = to_table(rows, {"metric_directions": directions.to_json()})
    columns, cells = headline_summary(table, summarize(table))
    assert columns == ["ms.mean", "pearson.value", "seg.f1_micro"]
    assert set(cells[("d", "m", "l", "g1", "none")]) == set(columns)


def test_corrupted_cache_entry_is_recomputed(session, toy_registry, workdir):
    first = grid(session, toy_registry)
    expected = table_rows(first.results_path)
    stage = next(s for s in first.plan.stages() if s.kind == "attribute")
    from xaibench.cache import Cache

    path = Cache(first.plan.config.cache).path(stage.key)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    downstream = next(s for s in first.plan.stages() if s.kind == "postprocess" and s.inputs["test"].key == stage.key)
    Cache(first.plan.config.cache).discard(downstream.key)
    again = grid(session, toy_registry)
    assert again.ok and again.computed >= 1
    assert table_rows(again.results_path) == expected


def test_process_pool_equals_local(run_cli, workdir):
    write(workdir / "a.yaml", TOY_REGISTRY + "cache: cache-a\nresults: res-a\nexperiment: a\n".replace("experiment: a\n", ""))
    reg_b = TOY_REGISTRY + "cache: cache-b\nresults: res-b\nexecutor: {component: process-pool, workers: 2}\n"
    write(workdir / "b.yaml", reg_b)
    pa = run_cli("run", "a.yaml", "-q")
    pb = run_cli("run", "b.yaml", "-q")
    assert pa.returncode == 0, pa.stderr
    assert pb.returncode == 0, pb.stderr
    assert table_rows(workdir / "res-a/toy.parquet") == table_rows(workdir / "res-b/toy.parquet")


def test_kill_9_then_resume_equals_uninterrupted(run_cli, workdir, plugin_path):
    slow = TOY_REGISTRY.replace("g1: toy-gradient", "g1: {component: toy-gradient, params: {sleep: 0.3}}")
    write(workdir / "ref.yaml", slow + "cache: cache-ref\nresults: res-ref\ntracking: {uri: 'sqlite:///ref.db'}\n")
    write(workdir / "r.yaml", slow)
    ref = run_cli("run", "ref.yaml", "-q")
    assert ref.returncode == 0, ref.stderr

    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(plugin_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "xaibench", "run", "r.yaml", "-q"], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from xaibench.cache import Cache

    deadline = time.time() + 60
    while time.time() < deadline:  # kill once a few attribution stages are stored
        n = len(list(Cache(workdir / ".xaibench/cache").root.rglob("*.xbc")))
        if n >= 10:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = len(list((workdir / ".xaibench/cache").rglob("*.xbc")))
    assert 0 < stored

    resumed = run_cli("run", "r.yaml", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert "cached" in resumed.stdout
    assert table_rows(workdir / "results/toy.parquet") == table_rows(workdir / "res-ref/toy.parquet")
    units, _ = mlflow_units(workdir)
    live = [r for r in units if r.info.lifecycle_stage == "active"]
    assert len(live) == 18 and {r.info.status for r in live} == {"FINISHED"}


@pytest.mark.parametrize("sig, executor", [(signal.SIGTERM, "local"), (signal.SIGINT, "local"),
                                           (signal.SIGTERM, "process-pool")])
def test_signal_stops_cleanly_then_resume_equals_uninterrupted(run_cli, workdir, plugin_path, sig, executor):
    """SIGTERM (a scheduler's stop) or SIGINT mid-grid: one line, exit 128+signal, runs in flight KILLED,
    no torn cache entry; the next run reopens those runs and gives the uninterrupted table."""
    import subprocess
    import sys

    from xaibench.cache import Cache

    slow = TOY_REGISTRY.replace("g1: toy-gradient", "g1: {component: toy-gradient, params: {sleep: 0.3}}")
    write(workdir / "ref.yaml", slow + "cache: cache-ref\nresults: res-ref\ntracking: {uri: 'sqlite:///ref.db'}\n")
    write(workdir / "r.yaml", slow + ("executor: {component: process-pool, workers: 2}\n" if executor != "local" else ""))
    assert run_cli("run", "ref.yaml", "-q").returncode == 0

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(plugin_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "xaibench", "run", "r.yaml", "-q"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cache = Cache(workdir / ".xaibench/cache")
    deadline = time.time() + 60
    while time.time() < deadline and len(list(cache.root.rglob("*.xbc"))) < 10:  # a few stages stored
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    lines = [line for line in err.splitlines() if line.strip() and "mlflow" not in line.lower()]
    assert len(lines) == 1 and lines[0].startswith(f"interrupted by {signal.Signals(sig).name}: "), err
    assert "resumes" in lines[0] and "Traceback" not in err
    assert not list(cache.root.rglob("*.tmp"))  # the stage in flight left no partial entry
    assert all(cache.valid(p.stem) for p in cache.root.rglob("*.xbc"))
    units, client = mlflow_units(workdir)
    killed = [r for r in units if r.info.status == "KILLED"]
    assert {r.info.status for r in units} <= {"FINISHED", "KILLED"}
    assert killed or executor != "local"  # (the pool runs stages breadth-first: maybe no combination half done)
    assert all(r.data.tags["xaibench.error"] == f"interrupted by {signal.Signals(sig).name}" for r in killed)
    exp = client.get_experiment_by_name("toy")
    (inv,) = client.search_runs([exp.experiment_id], "tags.`xaibench.kind` = 'invocation'")
    assert inv.info.status == "KILLED"

    resumed = run_cli("run", "r.yaml", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert table_rows(workdir / "results/toy.parquet") == table_rows(workdir / "res-ref/toy.parquet")
    units, _ = mlflow_units(workdir)
    live = [r for r in units if r.info.lifecycle_stage == "active"]
    assert len(live) == 18 and {r.info.status for r in live} == {"FINISHED"}
    assert {r.info.run_id for r in killed} <= {r.info.run_id for r in live}  # reopened, not duplicated


def test_plugin_error_during_planning_is_one_line(cli, workdir, monkeypatch):
    import xaibench_toy.plugin as toy

    def broken(self, data):
        raise RuntimeError("layer table missing")

    monkeypatch.setattr(toy.ToyLinear, "info", broken)
    write(workdir / "r.yaml", TOY_REGISTRY)
    code, out, err = cli("run", "r.yaml", "--dry-run")
    assert code == 2
    assert "error: model 'lin' (component 'toy-linear' of plugin 'toy'): info() raised RuntimeError: layer table missing" in err
    assert "Traceback" not in err


def test_table_metadata_locates_every_units_maps(session, toy_registry):
    from xaibench.cache import Cache
    from xaibench.results import table_metadata

    s = grid(session, toy_registry)
    table = pq.read_table(s.results_path)
    units = table_metadata(table, "units")
    cache = Cache(table_metadata(table, "cache"))
    assert len(units) == 18
    cell = next(u for u in units if u["kind"] == "cell" and u["coords"]["attribution"] == "g2")
    maps = cache.get(cell["stages"]["attributions"])["attributions"]
    x = cache.get(cell["stages"]["data"])["test/x"]
    assert maps.shape[0] == x.shape[0] and maps.shape[1] == 3
    assert {r["run_key"] for r in table.to_pylist()} - {""} <= {u["run_key"] for u in units}


def test_unit_artifacts_hook_attaches_files(session, toy_registry, workdir):
    from xaibench import hookimpl

    class Figures:
        @staticmethod
        @hookimpl
        def unit_artifacts(unit, cache, workdir):
            if unit["kind"] != "cell":
                return None
            if unit["coords"]["attribution"] == "g2":
                raise RuntimeError("cannot draw")  # must only warn
            maps = cache.get(unit["stages"]["attributions"])["attributions"]
            path = workdir / "summary.txt"
            path.write_text(f"{unit['coords']['attribution']} {maps.shape} {unit['status']}")
            return {"figures/summary.txt": path}

    session.add(Figures(), name="figures")
    s = grid(session, toy_registry)
    assert s.ok
    units, client = mlflow_units(workdir)
    g1 = next(r for r in units if r.data.tags.get("attribution") == "g1")
    assert [a.path for a in client.list_artifacts(g1.info.run_id, "figures")] == ["figures/summary.txt"]
    text = open(client.download_artifacts(g1.info.run_id, "figures/summary.txt", str(workdir))).read()
    assert text.startswith("g1 (6, 3, 4, 4) FINISHED")
    g2 = next(r for r in units if r.data.tags.get("attribution") == "g2")
    assert g2.info.status == "FINISHED" and not client.list_artifacts(g2.info.run_id, "figures")


def test_fingerprint_joins_cache_keys(session, toy_registry, workdir, monkeypatch):
    """Replacing a file a component reads (its fingerprint) recomputes what depends on it."""
    import xaibench_toy.plugin as toy

    first = build_plan(load_registry(toy_registry, session.catalog), session.catalog)
    monkeypatch.setattr(toy.ToyLinear, "fingerprint", lambda self: "weights-v2", raising=False)
    second = build_plan(load_registry(toy_registry, session.catalog), session.catalog)
    old = {s.key for s in first.stages()}
    changed = {s.kind for s in second.stages() if s.key not in old}
    assert "data" not in changed and {"train", "attribute", "metric"} <= changed


def test_fingerprint_failure_is_a_config_problem(session, toy_registry, monkeypatch):
    import xaibench_toy.plugin as toy
    from xaibench.errors import ConfigError

    def missing(self):
        raise FileNotFoundError("weights.pt")

    monkeypatch.setattr(toy.ToyLinear, "fingerprint", missing, raising=False)
    with pytest.raises(ConfigError, match=r"models.lin: model 'toy-linear': FileNotFoundError: weights.pt"):
        load_registry(toy_registry, session.catalog)
