"""Sanity-check metrics: known similarities, weight randomisation, and flags on real methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xaibench.components import MetricContext
from xaibench.testing import make_bundle, rows, scenario, tiny_registry
from xaibench.testing.torch_model import KitNet
from xaibench_metrics.sanity import ModelRandomization, RandomLogit, parameter_blocks, randomized, similarity

EXAMPLE_SRC = Path(__file__).parents[1] / "third_party_plugin"


# -- similarity ---------------------------------------------------------------------------------
def test_similarities_have_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 5, 5))
    for kind in ("spearman", "pearson", "ssim"):
        np.testing.assert_allclose(similarity(a, a.copy(), kind, absolute=False), 1.0)
    # a monotonic transform keeps every rank
    np.testing.assert_allclose(similarity(a, np.exp(a), "spearman", absolute=False), 1.0)
    np.testing.assert_allclose(similarity(a, -a, "spearman", absolute=False), -1.0)
    np.testing.assert_allclose(similarity(a, -a, "spearman", absolute=True), 1.0)  # |a| == |-a|
    np.testing.assert_allclose(similarity(a, 2 * a + 1, "pearson", absolute=False), 1.0)
    const = np.zeros_like(a)
    np.testing.assert_allclose(similarity(a, const, "pearson", absolute=False), 0.0)
    np.testing.assert_allclose(similarity(const, const, "spearman", absolute=False), 1.0)
    unrelated = similarity(a, rng.normal(size=a.shape), "ssim", absolute=False)
    assert np.all(np.abs(unrelated) < 0.9)


# -- randomisation ------------------------------------------------------------------------------
def test_randomized_copy_leaves_the_model_alone_and_is_seeded():
    net = KitNet(13, 4, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    blocks = parameter_blocks(net, 3)
    assert [name for block in blocks for name, _ in block] == ["conv1", "conv2", "fc"]
    top = randomized(net, blocks[-1:], seed=1)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not torch.equal(top.fc.weight, net.fc.weight) and torch.equal(top.conv1.weight, net.conv1.weight)
    again = randomized(net, blocks[-1:], seed=1)
    assert torch.equal(again.fc.weight, top.fc.weight)


def _ctx(method, layer="deep", **extra) -> MetricContext:
    from xaibench.components import AttributionRequest, ModelInfo

    sc = scenario("multiband")
    data = make_bundle(sc, n=4, size=16)
    net = KitNet(sc.n_bands, 4, seed=0)
    attributions = method.attribute(AttributionRequest(net, data, sc.info, "test", layer, seed=0))
    return MetricContext(data=data, data_info=sc.info, model_info=ModelInfo(layers=net.layer_names), seed=0,
                         load_model=lambda: net, layer=layer, method=method, attributions=attributions, **extra)


def test_cascading_randomization_reports_every_step():
    from xaibench.testing.reference import GradientTimesFeatures

    metric = ModelRandomization(ModelRandomization.Params(n_blocks=3))
    values = metric.evaluate(_ctx(GradientTimesFeatures()))
    steps = [(v.sub_key, v.value) for v in values if v.statistic == "step_similarity"]
    assert [k for k, _ in steps] == ["to:fc", "to:conv2", "to:conv1"]
    final = next(v.value for v in values if v.statistic == "value")
    assert final == steps[-1][1]
    passed = next(v.value for v in values if v.statistic == "passed")
    assert passed == float(final < 0.5)


def test_a_method_ignoring_the_model_fails_both_checks():
    from xaibench.testing.reference import RandomMaps

    ctx = _ctx(RandomMaps())
    for mode in ("cascading", "independent"):
        metric = ModelRandomization(ModelRandomization.Params(mode=mode))
        values = {v.statistic: v.value for v in metric.evaluate(ctx) if not v.sub_key}
        assert values == {"value": 1.0, "passed": 0.0}  # the same seeded noise whatever the weights
    # one noise map per class: random-logit sees different maps, so only identical-per-class maps fail it
    same_for_all = _ctx(RandomMaps())
    same_for_all.attributions = np.repeat(same_for_all.attributions[:, :1], 4, axis=1)
    values = {v.statistic: v.value for v in RandomLogit().evaluate(same_for_all)}
    assert values == {"value": 1.0, "passed": 0.0}


def test_random_logit_picks_another_class_absent_from_the_labels():
    from xaibench.testing.reference import GradientTimesFeatures

    ctx = _ctx(GradientTimesFeatures(), layer="input")
    one_hot = np.zeros_like(ctx.data["test/labels"])
    one_hot[:, 0] = 1
    ctx.data.arrays["test/labels"] = one_hot
    ctx.attributions[:, 1:] = ctx.attributions[:, :1]  # classes 1-3 share class 0's map...
    ctx.attributions[:, 0] *= -1  # ...up to the sign
    q = RandomLogit.Params(target=0, similarity="pearson", absolute=False)
    values = {v.statistic: v.value for v in RandomLogit(q).evaluate(ctx)}
    assert values == {"value": pytest.approx(-1.0), "passed": 1.0}


# -- on a trained zoo model, through a grid ----------------------------------------------------------
def test_edge_detector_is_flagged_and_grad_cam_passes(fresh_session, xaibench_plugin, run_registry, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    import xaibench_example.plugin as example

    xaibench_plugin(example)
    registry = tiny_registry(
        {"edges": "example-edge", "gradcam": "grad-cam"},
        {"randomization": {"component": "model-randomization", "params": {"max_instances": 8}},
         "independent": {"component": "model-randomization", "params": {"mode": "independent", "max_instances": 8}},
         "logit": {"component": "random-logit", "params": {"max_instances": 8}}},
        layers=["input", "deep"],
        epochs=4,
    )
    registry["datasets"]["synth"]["params"].update(n_train=48, n_val=8, n_test=8)
    table = run_registry(registry)

    def flag(metric: str, method: str, layer: str) -> float:
        (r,) = rows(table, metric=metric, attribution=method, layer=layer, statistic="passed")
        return r["value"]

    (f1,) = rows(table, metric="training", statistic="test_f1_micro")
    assert f1["value"] > 0  # the model learned something
    for metric in ("randomization", "independent", "logit"):
        assert flag(metric, "edges", "input") == 0.0  # maps identical for random weights and for every class
    assert flag("randomization", "gradcam", "deep") == 1.0
    assert flag("independent", "gradcam", "deep") == 1.0
    (sim,) = rows(table, metric="randomization", attribution="gradcam", layer="deep", statistic="value")
    assert sim["value"] < 0.3
