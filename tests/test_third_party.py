"""The example third-party plugin (tests/third_party_plugin) runs in a grid next to built-ins."""

from __future__ import annotations

from conftest import write

REGISTRY = """\
experiment: third-party
seeds: [0]
layers: [input]
datasets:
  lc: {component: synth-landcover, params: {n_train: 24, n_val: 8, n_test: 8, patch_size: 32}}
models:
  uhnet: {component: uh-net, params: {width: 0.0625, train: {epochs: 1}}}
attributions:
  gxf: gradients-x-features
  edges: example-edge
postprocessors:
  none: none
metrics:
  gini: example-gini
  pearson: pearson-similarity
"""


def test_third_party_plugin_runs_next_to_builtins(cli, workdir):
    write(workdir / "r.yaml", REGISTRY)
    code, out, err = cli("run", "r.yaml", "--quiet")
    assert code == 0, out + err
    import pyarrow.parquet as pq

    rows = pq.read_table(workdir / "results/third-party.parquet").to_pylist()
    gini = {r["attribution"]: r["value"] for r in rows if r["metric"] == "gini" and r["status"] == "ok"}
    assert set(gini) == {"gxf", "edges"} and all(0 <= v <= 1 for v in gini.values())
    pair = {(r["attribution"], r["sub_key"]) for r in rows if r["metric"] == "pearson" and r["status"] == "ok"}
    assert pair == {("gxf", "edges"), ("edges", "gxf")}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    exp = client.get_experiment_by_name("third-party")
    runs = client.search_runs([exp.experiment_id], "tags.attribution = 'edges'")
    assert len(runs) == 1 and runs[0].data.tags["attribution.plugin"].startswith("example")
    assert runs[0].info.status == "FINISHED"


def test_third_party_method_is_skipped_where_it_declares_so(cli, workdir):
    write(workdir / "r.yaml", REGISTRY.replace("layers: [input]", "layers: [deep]"))
    code, out, err = cli("run", "r.yaml", "--dry-run")
    assert code == 0 and "example-edge only explains the input layer" in out
