"""Output contracts: broken maps and metric values fail their own stage and are never ranked."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import write
from hostile.components import CLASSES

from xaibench.components import MetricValue
from xaibench.contracts import AttributionContract, ContractViolation, metric_values, stored_value
from xaibench.ranking import rank_methods
from xaibench.testing.session import registered


def contract(spatial=(4, 4), max_bytes=10**6):
    return AttributionContract("m", 3, spatial, max_bytes)


@pytest.mark.parametrize("bad, reason", [
    (np.full((2, 3, 4, 4), np.nan, np.float32), "non-finite values (NaN)"),
    (np.full((2, 3, 4, 4), -np.inf, np.float32), "non-finite values (inf)"),
    (np.ones((2, 3, 3, 5), np.float32), "H x W = 3 x 5; the layer has 4 x 4"),
    (np.ones((2, 2, 4, 4), np.float32), "expected (N=2, classes=3"),
    (np.ones((3, 3, 4, 4), np.float32), "expected (N=2, classes=3"),
    (np.ones((2, 3, 4, 4), np.complex64), "dtype complex64"),
    (np.array(["a"] * 96).reshape(2, 3, 4, 4), "dtype <U1"),
])
def test_attribution_contract_rejects_in_one_line(bad, reason):
    with pytest.raises(ContractViolation) as exc:
        contract().check(bad, 2)
    assert reason in str(exc.value) and "'m'" in str(exc.value) and "\n" not in str(exc.value)


def test_attribution_contract_bounds_bytes_over_chunks():
    c = contract(max_bytes=2 * 3 * 4 * 4 * 4 * 2)  # two chunks of two samples fit, a third does not
    ok = np.ones((2, 3, 4, 4), np.float64)
    first, second = c.check(ok, 2), c.check(ok, 2)
    assert first.dtype == np.float32 and second.shape == (2, 3, 4, 4)
    with pytest.raises(ContractViolation, match="above the limit"):
        c.check(ok, 2)


def test_metric_values_contract():
    assert metric_values([MetricValue("v", np.float32(0.5))], "m") == [
        {"statistic": "v", "value": 0.5, "sub_key": "", "attribution": None, "postprocessor": None, "model": None}]
    [nan] = metric_values([MetricValue("v", float("nan"), sub_key="x")], "m")
    assert nan["value"] is None and nan["error"] == "metric 'm' returned nan for statistic 'v[x]'"
    for bad in ([MetricValue("v", "0.5")], [MetricValue("v", None)], [MetricValue("v", True)], [0.5], 0.5):
        with pytest.raises(ContractViolation):
            metric_values(bad, "m")
    assert stored_value({"statistic": "v", "value": "0.039"}, "m")[0] is None
    assert stored_value({"statistic": "v", "value": 0.25}, "m") == (0.25, None)


REGISTRY = """\
experiment: hostile
seeds: [0]
layers: [input, deep]
datasets: {d: toy-data}
models: {lin: toy-linear}
attributions:
  good: {component: hostile-method}
  g2: {component: toy-gradient, params: {scale: 2.0}}
  nan: {component: hostile-method, params: {mode: nan}}
  inf: {component: hostile-method, params: {mode: inf}}
  misshaped: {component: hostile-method, params: {mode: misshaped}}
  huge: {component: hostile-method, params: {mode: huge}}
postprocessors: {none: toy-identity}
metrics:
  mean: toy-mean
  pair: toy-pair-diff
limits: {attribution_mb: 1}
tracking: {component: xaibench-testing-memory}
"""


def _run(session, workdir, text):
    from xaibench.config import load_registry
    from xaibench.runner import run
    from xaibench.testing.session import ComponentsPlugin, MemoryTracker

    path = write(workdir / "r.yaml", text)
    with registered(ComponentsPlugin([*CLASSES, MemoryTracker]), session, "hostile") as s:
        return run(load_registry(path, s.catalog), s, quiet=True)


def test_broken_methods_fail_their_cells_and_are_never_ranked(session, workdir):
    s = _run(session, workdir, REGISTRY)
    rows = s.table.to_pylist()
    failed = {label.split()[0]: err for label, err in s.failed}
    assert "NaN" in failed["nan"] and "inf" in failed["inf"]
    assert "3 x 5" in failed["misshaped"] and "above the limit of 1.0 MB" in failed["huge"]
    for method in ("nan", "inf", "misshaped", "huge"):
        mine = [r for r in rows if r["attribution"] == method and r["metric"] == "mean"]
        assert mine and all(r["status"] == "failed" for r in mine) and all(math.isnan(r["value"]) for r in mine)
        assert all("ContractViolation" in r["message"] for r in mine)
    good = [r for r in rows if r["attribution"] == "good" and r["metric"] == "mean"]
    assert good and {r["status"] for r in good} == {"ok"}
    # the pair metric runs over the members that succeeded; pairs with a failed member are failed rows
    pair = {(r["layer"], r["sub_key"]): r for r in rows if r["attribution"] == "good" and r["metric"] == "pair"}
    assert pair[("input", "g2")]["status"] == "ok" and pair[("deep", "g2")]["value"] > 0
    for method in ("nan", "inf", "misshaped", "huge"):
        assert pair[("input", method)]["status"] == "failed"
        message = pair[("input", method)]["message"]
        assert message.startswith(f"member {method} failed: ") and "ContractViolation" in message
    rankings, _ = rank_methods(s.table, ["mean"], directions={"mean": True})
    ranked = {m.method for r in rankings for m in r.methods}
    assert rankings and ranked == {"good", "g2"}


@pytest.mark.parametrize("mode", ["string", "none"])
def test_metric_returning_a_non_number_fails_its_stage_and_the_table_is_written(session, workdir, mode):
    text = REGISTRY.replace("  mean: toy-mean\n", f"  bad: {{component: hostile-metric, params: {{mode: {mode}}}}}\n"
                            "  mean: toy-mean\n")
    s = _run(session, workdir, text)
    assert s.results_path.exists()
    bad = [r for r in s.table.to_pylist() if r["metric"] == "bad" and r["attribution"] == "good"]
    assert bad and all(r["status"] == "failed" for r in bad)
    assert "metric 'hostile-metric' returned a" in bad[0]["message"] and "expected a real number" in bad[0]["message"]
    assert any(label.startswith("bad ") for label, _ in s.failed)
    assert [r for r in s.table.to_pylist() if r["metric"] == "mean" and r["attribution"] == "good"
            and r["status"] == "ok"]
    again = _run(session, workdir, text)  # the failure is not cached: the next run recomputes it and fails again
    assert again.results_path.exists() and any(label.startswith("bad ") for label, _ in again.failed)


@pytest.mark.parametrize("mode", ["nan", "inf"])
def test_non_finite_metric_values_are_failed_rows_with_their_reason(session, workdir, mode):
    text = REGISTRY.replace("  mean: toy-mean\n", f"  bad: {{component: hostile-metric, params: {{mode: {mode}}}}}\n")
    s = _run(session, workdir, text)
    bad = [r for r in s.table.to_pylist() if r["metric"] == "bad" and r["attribution"] == "good"]
    by_stat = {(r["layer"], r["statistic"]): r for r in bad}
    assert by_stat[("input", "value")]["status"] == "failed"
    assert f"returned {float(mode)} for statistic 'value'" in by_stat[("input", "value")]["message"]
    assert by_stat[("input", "spread")]["status"] == "ok"  # the metric's finite statistics stand
    from xaibench.testing.session import MemoryTracker

    cell = next(r for r in MemoryTracker.records if r.tags.get("attribution") == "good")
    assert "bad.value" not in cell.metrics and "bad.spread" in cell.metrics and "failed.bad.value" in cell.tags


def test_a_post_processor_returning_nan_fails_its_cells_only(session, workdir):
    text = REGISTRY.replace("postprocessors: {none: toy-identity}",
                            "postprocessors: {none: toy-identity, zero: {component: hostile-postprocessor, "
                            "params: {mode: nan}}}")
    s = _run(session, workdir, text)
    rows = [r for r in s.table.to_pylist() if r["attribution"] == "good" and r["metric"] == "mean"]
    assert {r["status"] for r in rows if r["postprocessor"] == "none"} == {"ok"}
    zero = [r for r in rows if r["postprocessor"] == "zero"]
    assert zero and all(r["status"] == "failed" and "post-processor 'hostile-postprocessor' returned" in r["message"]
                        and "non-finite" in r["message"] for r in zero)
