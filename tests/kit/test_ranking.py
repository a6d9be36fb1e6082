"""Bootstrap rankings on synthetic scores with a known ordering and known ties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xaibench.errors import XaibenchError
from xaibench.kit import rank
from xaibench.ranking import rank_block_values, rank_methods
from xaibench.results import to_table, write_parquet


def make_table(base: dict[str, float], seeds=(0, 1, 2), sub_keys=("c0", "c1", "c2", "c3"), noise=0.05, seed=0,
               metric="score", statistic="value", per_seed: dict[int, dict[str, float]] | None = None,
               metadata: dict | None = None):
    """Rows of ``metric`` for each method: ``base[method]`` (or ``per_seed[seed][method]``) + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        for k in sub_keys:
            shared = rng.normal(0, noise)  # block effect shared by all methods: a paired design
            for m in base:
                v = (per_seed or {}).get(s, base)[m] + shared + rng.normal(0, noise)
                rows.append({"experiment": "e", "dataset": "d", "model": "net", "seed": s, "layer": "input",
                             "attribution": m, "postprocessor": "none", "metric": metric, "statistic": statistic,
                             "sub_key": k, "value": v, "status": "ok", "run_key": f"{s}{m}"})
    return to_table(rows, metadata)


def by_method(ranking):
    return {m.method: m for m in ranking.methods}


def test_known_ordering_is_recovered_with_tight_intervals():
    table = make_table({"a": 3.0, "b": 2.0, "c": 1.0})
    (r,), notes = rank_methods(table, directions={"score": True}, n_boot=300)
    assert not notes
    assert [m.method for m in r.methods] == ["a", "b", "c"]
    ranks = by_method(r)
    for name, expected in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        assert ranks[name].rank == expected and ranks[name].rank_ci == (expected, expected)
        assert ranks[name].indistinguishable == []
        assert ranks[name].value_ci[0] <= ranks[name].mean <= ranks[name].value_ci[1]
        assert ranks[name].n == 12
    assert r.kendall_tau == pytest.approx(1.0) and len(r.tau_pairs) == 3
    assert r.groups() == [["a"], ["b"], ["c"]]
    assert (r.n_seeds, r.n_blocks) == (3, 12)


def test_lower_is_better_reverses_the_order():
    table = make_table({"a": 3.0, "b": 2.0, "c": 1.0})
    (r,), _ = rank_methods(table, directions={"score": False}, n_boot=100)
    assert [m.method for m in r.methods] == ["c", "b", "a"]
    (r2,), _ = rank_methods(table, directions={"score": False}, higher=True, n_boot=100)
    assert [m.method for m in r2.methods] == ["a", "b", "c"]


def test_exact_tie_shares_the_average_rank_and_is_not_distinguishable():
    values = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 1.0], [1.5, 1.5, 0.2], [0.7, 0.7, -0.4]])
    seeds = np.array([0, 0, 1, 1])
    ranked, taus = rank_block_values(values, seeds, ["a", "b", "c"], True, n_boot=200)
    r = {m.method: m for m in ranked}
    assert r["a"].rank == r["b"].rank == 1.5 and r["a"].rank_ci == (1.5, 1.5)
    assert r["a"].indistinguishable == ["b"] and r["b"].indistinguishable == ["a"]
    assert r["c"].rank_ci == (3.0, 3.0) and r["c"].indistinguishable == []
    assert taus == [(0, 1, pytest.approx(1.0))]


def test_noisy_near_tie_is_reported_as_not_distinguishable():
    table = make_table({"a": 1.00, "b": 0.99, "c": -5.0}, noise=1.0, seed=3)
    (r,), _ = rank_methods(table, directions={"score": True}, n_boot=500)
    ranks = by_method(r)
    assert ranks["a"].rank_ci[0] == 1.0 and ranks["a"].rank_ci[1] == 2.0
    assert "b" in ranks["a"].indistinguishable and "a" in ranks["b"].indistinguishable
    assert ranks["c"].rank_ci == (3.0, 3.0)
    assert sorted(map(sorted, r.groups())) == [["a", "b"], ["c"]]


def test_rank_stability_detects_seeds_that_disagree():
    per_seed = {0: {"a": 3, "b": 2, "c": 1}, 1: {"a": 1, "b": 2, "c": 3}}
    table = make_table({"a": 0, "b": 0, "c": 0}, seeds=(0, 1), per_seed=per_seed, noise=0.01)
    (r,), _ = rank_methods(table, directions={"score": True}, n_boot=200)
    assert r.tau_pairs == [(0, 1, pytest.approx(-1.0))] and r.kendall_tau == pytest.approx(-1.0)
    ranks = by_method(r)
    assert ranks["a"].rank_ci == ranks["c"].rank_ci == (1.0, 3.0)  # either seed may dominate a replicate
    assert ranks["a"].indistinguishable == ["b", "c"]


def test_bootstrap_is_reproducible_for_a_seed():
    table = make_table({"a": 1.0, "b": 0.9}, noise=0.5)
    first, _ = rank_methods(table, directions={"score": True}, n_boot=200, seed=7)
    again, _ = rank_methods(table, directions={"score": True}, n_boot=200, seed=7)
    assert [m.rank_ci for m in first[0].methods] == [m.rank_ci for m in again[0].methods]


def test_missing_direction_and_ambiguous_statistics_are_notes():
    table = make_table({"a": 1.0, "b": 0.0}, statistic="mean")
    rankings, notes = rank_methods(table, directions={"score": None}, n_boot=50)
    assert rankings == [] and "no direction" in notes[0] and "--higher" in notes[0]
    (r,), _ = rank_methods(table, directions={"score": None}, higher=True, n_boot=50)
    assert r.statistic == "mean"  # picked by default when there is no "value"
    with pytest.raises(XaibenchError, match="no per-method values of metric 'nope'"):
        rank_methods(table, ["nope"], {"score": True})
    with pytest.raises(XaibenchError, match="has no statistic 'std'"):
        rank_methods(table, ["score.std"], {"score": True})


def test_one_value_per_method_gives_point_intervals_and_a_note():
    table = make_table({"a": 1.0, "b": 0.0}, seeds=(0,), sub_keys=("",))
    (r,), _ = rank_methods(table, directions={"score": True}, n_boot=50)
    assert by_method(r)["a"].rank_ci == (1.0, 1.0) and r.kendall_tau is None
    assert "points" in r.notes[0]


def test_cli_ranks_an_experiment_file(tmp_path):
    table = make_table({"good": 0.1, "bad": 0.9}, metadata={"components": {"metric": {"score": "xai-entropy"}}})
    write_parquet(table, tmp_path / "exp.parquet")
    runner = CliRunner()
    out = runner.invoke(rank, ["exp", "--results-dir", str(tmp_path), "--n-boot", "100", "--lower", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [m["method"] for m in data["rankings"][0]["methods"]] == ["good", "bad"]
    assert data["rankings"][0]["higher_is_better"] is False
    text = runner.invoke(rank, ["exp", "--results-dir", str(tmp_path), "--n-boot", "100", "--higher"])
    assert text.exit_code == 0 and "higher is better" in text.output and "Kendall" in text.output
    missing = runner.invoke(rank, ["nope", "--results-dir", str(tmp_path)])
    assert missing.exit_code != 0 and "known in" in str(missing.exception)


def test_direction_comes_from_the_metric_component_through_the_table_metadata(fresh_session, tmp_path):
    # xai-entropy: lower is better (the alias "score" is resolved through the components metadata)
    table = make_table({"good": 0.1, "bad": 0.9}, metadata={"components": {"metric": {"score": "xai-entropy"}}})
    write_parquet(table, tmp_path / "exp.parquet")
    out = CliRunner().invoke(rank, ["exp", "--results-dir", str(tmp_path), "--n-boot", "50", "--format", "json"],
                             obj=fresh_session)
    assert out.exit_code == 0, out.output
    ranking = json.loads(out.output)["rankings"][0]
    assert ranking["higher_is_better"] is False and ranking["methods"][0]["method"] == "good"


def test_registry_file_gives_params_dependent_directions(fresh_session, tmp_path):
    table = make_table({"x": 0.2, "y": 0.8})
    write_parquet(table, tmp_path / "exp.parquet")
    (tmp_path / "r.yaml").write_text("metrics:\n  score: {component: random-logit}\n")
    out = CliRunner().invoke(rank, ["exp", "--results-dir", str(tmp_path), "--registry", str(tmp_path / "r.yaml"),
                                    "--n-boot", "50", "--format", "json"], obj=fresh_session)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rankings"][0]["methods"][0]["method"] == "x"


def faithfulness_table(tmp_path):
    """One metric, opposite-direction statistics: ``good`` deletes fast (low ``deletion``, lower is
    better) and inserts fast (high ``insertion``, higher is better); ``n`` is a count, not a score."""
    from xaibench.directions import MetricDirection, MetricDirections

    parts = [make_table({"good": 0.1, "mid": 0.5, "bad": 0.9}, metric="faith", statistic="deletion", seed=1,
                        seeds=(0,)),
             make_table({"good": 0.9, "mid": 0.5, "bad": 0.1}, metric="faith", statistic="insertion", seed=2),
             make_table({"good": 10.0, "mid": 20.0, "bad": 30.0}, metric="faith", statistic="n", seed=3)]
    directions = MetricDirections({"faith": MetricDirection(True, {"deletion": False, "n": None}, "insertion")})
    rows = [r for t in parts for r in t.to_pylist()]
    write_parquet(to_table(rows, {"metric_directions": directions.to_json()}), tmp_path / "exp.parquet")


@pytest.mark.parametrize("statistic, arrow", [("deletion", "lower is better"), ("insertion", "higher is better")])
def test_each_statistic_is_ranked_in_its_own_direction(tmp_path, statistic, arrow):
    faithfulness_table(tmp_path)
    runner = CliRunner()
    args = ["exp", "--results-dir", str(tmp_path), "--n-boot", "100", "--metric", f"faith.{statistic}"]
    # strict JSON (a one-seed ranking has no Kendall's tau: null, not NaN)
    data = json.loads(runner.invoke(rank, [*args, "--format", "json"]).output, parse_constant=pytest.fail)
    (ranking,) = data["rankings"]
    assert [m["method"] for m in ranking["methods"]] == ["good", "mid", "bad"]
    assert ranking["higher_is_better"] is (statistic == "insertion")
    text = runner.invoke(rank, args)
    assert text.exit_code == 0 and f"faith.{statistic} ({arrow})" in text.output
    csv_out = runner.invoke(rank, [*args, "--format", "csv"]).output.splitlines()
    assert csv_out[0].split(",")[:6] == ["dataset", "model", "layer", "postprocessor", "metric", "statistic"]
    assert [line.split(",")[8] for line in csv_out[1:]] == ["good", "mid", "bad"]


def test_default_statistic_is_the_headline_and_counts_are_not_ranked(tmp_path):
    faithfulness_table(tmp_path)
    runner = CliRunner()
    data = json.loads(runner.invoke(rank, ["exp", "--results-dir", str(tmp_path), "--n-boot", "50",
                                           "--format", "json"]).output)
    assert [(r["metric"], r["statistic"]) for r in data["rankings"]] == [("faith", "insertion")]
    counts = json.loads(runner.invoke(rank, ["exp", "--results-dir", str(tmp_path), "--n-boot", "50",
                                             "--metric", "faith.n", "--format", "json"]).output)
    assert counts["rankings"] == [] and "faith.n: not a score" in counts["notes"][0]


def test_default_statistic_rule():
    from xaibench.directions import MetricDirection, MetricDirections

    seg = MetricDirection(True, {}, "f1_micro")
    assert seg.default_statistic({"accuracy", "f1_micro", "f1_macro"}) == "f1_micro"
    assert seg.default_statistic({"accuracy", "f1_macro"}) is None  # several scores, headline absent: name one
    quantus = MetricDirection(False, {"std": None, "rejected": None})
    assert quantus.default_statistic({"mean", "std", "rejected"}) == "mean"
    assert MetricDirection(False, {"drop_std": None}).default_statistic({"drop", "drop_std"}) == "drop"
    assert MetricDirection(None).default_statistic({"value"}) == "value"
    legacy = MetricDirections.from_json({"old": True, "gone": None})  # tables written before per-statistic facts
    assert legacy.direction("old", "anything") is True and legacy.direction("gone", "value") is None
    assert legacy.direction("unknown", "value") is None
    assert MetricDirections.from_json(MetricDirections({"a": seg}).to_json()) == MetricDirections({"a": seg})


def test_builtin_metrics_declare_their_headlines(fresh_session):
    from xaibench.directions import MetricDirection

    catalog = fresh_session.catalog
    seg = MetricDirection.of(catalog.get("metric", "segmentation-agreement").cls)
    assert seg.default_statistic({"accuracy", "f1_micro", "f1_macro", "iou_mean"}) == "f1_micro"
    ms = MetricDirection.of(catalog.get("metric", "max-sensitivity").cls)
    assert ms.direction("mean") is False and ms.direction("std") is None and ms.direction("rejected") is None
    logit = MetricDirection.of(catalog.get("metric", "random-logit").cls)
    assert logit.direction("value") is False and logit.direction("passed") is True
