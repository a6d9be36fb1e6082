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
