"""The faithfulness family in a grid: UH-Net at the input (skip concatenations, LRP included) and at
``deep``, every metric a row per cell, and ``xaibench rank`` ordering the methods the right way."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xaibench.kit import rank
from xaibench.plugins import PluginSession
from xaibench.testing import rows, run_registry, tiny_registry


@pytest.mark.slow  # a grid: ~10 s alone on 2 cores
def test_faithfulness_in_a_grid_at_input_and_deep_ranks_the_methods(tmp_path):
    session = PluginSession()
    registry = tiny_registry(
        attributions={"gxf": "gradients-x-features", "lrp": "lrp", "gradcam": "grad-cam"},
        metrics={"del": {"component": "deletion-insertion", "params": {"step": 0.25}},
                 "road": {"component": "road", "params": {"percentages": [25, 75]}},
                 "fcorr": {"component": "faithfulness-correlation", "params": {"nr_runs": 5}}},
        layers=("input", "deep"), epochs=1, experiment="faith")
    table = run_registry(registry, tmp_path, session=session)
    got = rows(table, metric="del", statistic="deletion")
    assert {(r["layer"], r["attribution"]) for r in got} == {(layer, m) for layer in ("input", "deep")
                                                            for m in ("gxf", "lrp", "gradcam")}
    assert len(rows(table, metric="del", statistic="deletion_curve", layer="deep", attribution="lrp")) == 5
    assert rows(table, metric="road", statistic="gap") and rows(table, metric="fcorr", statistic="value")
    out = CliRunner().invoke(rank, ["faith", "--results-dir", str(tmp_path / "results"), "-m", "del.deletion",
                                    "--n-boot", "20", "--format", "json"], obj=session)
    assert out.exit_code == 0, out.output
    rankings = json.loads(out.output)["rankings"]
    assert {r["context"]["layer"] for r in rankings} == {"input", "deep"}
    for r in rankings:  # lower deletion area first
        assert r["higher_is_better"] is False
        means = [m["mean"] for m in r["methods"]]
        assert means == sorted(means)


@pytest.mark.slow  # a grid tracked in MLflow: ~8 s alone on 2 cores
def test_each_cells_mlflow_run_carries_its_deletion_insertion_curves(tmp_path):
    """The units metadata names each cell's metric stages; the metrics plugin draws the cell's
    curves from them and the MLflow unit run holds the figure (other metrics draw none)."""
    from mlflow.tracking import MlflowClient

    from xaibench.cache import Cache
    from xaibench.results import table_metadata
    from xaibench_metrics.faithfulness.figure import cell_curves

    registry = tiny_registry(
        attributions={"gxf": "gradients-x-features"},
        metrics={"del": {"component": "deletion-insertion", "params": {"step": 0.25, "max_instances": 2}},
                 "pf": {"component": "pixel-flipping", "params": {"features_in_step": 256, "max_instances": 2}}},
        epochs=1, experiment="faith-fig",
        tracking={"component": "mlflow", "uri": f"sqlite:///{tmp_path}/mlflow.db"})
    table = run_registry(registry, tmp_path)
    cell = next(u for u in table_metadata(table, "units") if u["kind"] == "cell")
    assert {a: m["component"] for a, m in cell["metrics"].items()} == {"del": "deletion-insertion",
                                                                       "pf": "pixel-flipping"}
    curves = cell_curves(Cache(table_metadata(table, "cache")).meta(cell["metrics"]["del"]["stage"])["values"])
    stored = rows(table, metric="del", statistic="deletion_curve")
    assert curves["deletion_curve"] == ([float(r["sub_key"]) for r in sorted(stored, key=lambda r: float(r["sub_key"]))],
                                        [r["value"] for r in sorted(stored, key=lambda r: float(r["sub_key"]))])
    assert curves["deletion_curve"][0] == [0.0, 0.25, 0.5, 0.75, 1.0]

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("faith-fig")
    runs = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("attribution") == "gxf"]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    figures = [a.path for a in client.list_artifacts(runs[0].info.run_id, "figures")]
    assert "figures/faithfulness_del.png" in figures and not any("pf" in f for f in figures)
    png = client.download_artifacts(runs[0].info.run_id, "figures/faithfulness_del.png", str(tmp_path))
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
