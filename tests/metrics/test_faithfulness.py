"""The faithfulness family: known answers on a linear model, batched == one at a time, layer ==
input on a head that is the whole model, and equality with Quantus on the same maps and model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xaibench.components import Band, DatasetInfo, Metric, MetricContext, ModelInfo
from xaibench_metrics.faithfulness import (
    FAITHFULNESS,
    DeletionInsertion,
    FaithfulnessCorrelation,
    FaithfulnessEstimate,
    Irof,
    PixelFlipping,
    RegionPerturbation,
    Road,
)
from xaibench_metrics.faithfulness.imputation import impute
from xaibench_metrics.faithfulness.orders import counts, group_ranks, patches, ranks

from .toys import ToyNet, make_ctx, toy_data

pytestmark = pytest.mark.usefixtures("one_thread")


class Linear(nn.Module):
    """Logits ``sum_c,h,w W[k, c, h, w] x[c, h, w]``: the exact contribution of a pixel is known."""

    layer_names = ("input",)

    def __init__(self, bands: int, size: int, classes: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(bands * size * size, classes, bias=False)
        self.eval()

    def forward(self, x, aux=None):
        return self.fc(torch.flatten(x, 1))

    def split(self, layer):
        return (lambda x, aux=None: x), self.forward


def _stats(values):
    return {(v.statistic, v.sub_key): v.value for v in values}


def _linear_case(n=6, bands=2, size=6, classes=3):
    data, _ = toy_data(n=n, bands=bands, size=size)
    info = DatasetInfo(name="toy", task="singlelabel", classes=tuple(f"c{i}" for i in range(classes)),
                       bands=tuple(Band(f"B{i}") for i in range(bands)))
    model = Linear(bands, size, classes)
    weight = model.fc.weight.detach().numpy().reshape(classes, bands, size, size)
    truth = (weight[None] * data["test/x"][:, None]).sum(axis=2)  # (N, K, H, W): exact contributions
    return data, info, model, truth


def _ctx(data, info, model, attributions, layer="input", seed=0):
    return MetricContext(data=data, data_info=info, model_info=ModelInfo(layers=("input",)), seed=seed,
                         load_model=lambda: model, layer=layer, attributions=attributions)


def test_every_metric_declares_category_and_directions():
    for cls in FAITHFULNESS:
        assert cls.category == "faithfulness"
        assert cls.headline in cls.directions and cls.directions[cls.headline] is not None
        assert cls.directions.get("n", "absent") is None
    m = DeletionInsertion()
    assert m.direction("deletion") is False and m.direction("insertion") is True and m.direction("gap") is True
    assert Road().direction("morf") is False and Road().direction("lerf") is True


def test_true_attribution_beats_random_which_scores_at_chance():
    data, info, model, truth = _linear_case(n=16)
    params = DeletionInsertion.Params(output="logit", step=1 / 36, target="all")
    true = _stats(DeletionInsertion(params).evaluate(_ctx(data, info, model, truth)))
    rng = np.random.default_rng(0)
    draws = [_stats(DeletionInsertion(params).evaluate(_ctx(data, info, model, rng.normal(size=truth.shape))))
             for _ in range(20)]
    random_deletion = np.array([d["deletion", ""] for d in draws])
    # with a zero baseline on a bias-free linear model the logit is the sum of the kept
    # contributions: a random order removes 1/P of the total per step on average, so its
    # expected area is half the unperturbed logit (the chance level)
    logits = truth.sum(axis=(2, 3))
    chance = 0.5 * logits.mean()
    assert true["deletion", ""] < random_deletion.min()
    assert true["insertion", ""] > max(d["insertion", ""] for d in draws)
    assert true["gap", ""] > max(d["gap", ""] for d in draws)
    assert abs(random_deletion.mean() - chance) < 4 * random_deletion.std() / np.sqrt(len(draws)) + 1e-6
    # the true map's MoRF deletion is optimal: no ordering removes the logit faster
    desc = -np.sort(-truth.reshape(16, 3, -1), axis=-1)
    steps = np.concatenate([np.zeros((16, 3, 1)), np.cumsum(desc, axis=-1)], axis=-1)
    optimal = np.trapezoid(logits[..., None] - steps, dx=1 / 36, axis=-1).mean()
    assert true["deletion", ""] == pytest.approx(optimal, rel=1e-5)


def test_batched_equals_one_sample_at_a_time_and_all_classes_equals_each_class():
    data, info, model, truth = _linear_case(n=4)
    metric = DeletionInsertion(DeletionInsertion.Params(target="all", step=0.1))
    together = metric.evaluate(_ctx(data, info, model, truth))
    tiny = _ctx(data, info, model, truth)
    tiny.memory_budget_mb = 0  # one (sample, map) pair per chunk, one row per forward
    assert _stats(metric.evaluate(tiny)) == pytest.approx(_stats(together), rel=1e-6)
    per_class = [_stats(DeletionInsertion(DeletionInsertion.Params(target=k, step=0.1)).evaluate(
        _ctx(data, info, model, truth)))["deletion", ""] for k in range(3)]
    assert _stats(together)["deletion", ""] == pytest.approx(np.mean(per_class), rel=1e-6)



def test_channels_last_rows_equal_the_default_layout():
    from xaibench_metrics.faithfulness.engine import channels_last_ok, prepare
    from xaibench_metrics.faithfulness.orders import cumulative

    data, info = toy_data(n=3, size=8)
    net = ToyNet()
    maps = np.random.default_rng(3).normal(size=(3, 3, 8, 8)).astype(np.float32)
    s = prepare(make_ctx(data, info, model=net, layer="input", attributions=maps), "all", None, "mean", "logit")
    assert s.channels_last  # a convolutional head takes channels-last rows
    masks = np.random.default_rng(4).random((9, 5, 64)) > 0.5
    samples = np.repeat(np.arange(3), 3)
    fast = s.baseline_fill(samples, masks)
    assert fast.reshape(-1, *fast.shape[2:]).is_contiguous(memory_format=torch.channels_last)
    s.channels_last = False
    plain = s.baseline_fill(samples, masks)
    assert torch.equal(fast, plain)  # the arithmetic fill is exactly the selection
    order = ranks(s.maps.reshape(9, 8, 8)).reshape(3, 3, -1)
    steps = np.array([0, 16, 32, 64])
    expected = s.run(lambda i, k: cumulative(order[i, k], steps))
    s.channels_last = True
    np.testing.assert_allclose(s.run(lambda i, k: cumulative(order[i, k], steps)), expected, rtol=1e-5, atol=1e-6)

    class Viewing(nn.Module):  # .view of a channels-last input fails: such a head keeps the default layout
        def forward(self, f, aux):
            return f.view(len(f), -1)[:, :3]

    assert not channels_last_ok(Viewing(), s.feats, None)


@pytest.mark.parametrize("cls", FAITHFULNESS, ids=[c.name for c in FAITHFULNESS])
def test_every_metric_runs_at_input_and_at_a_layer(cls: type[Metric]):
    data, info = toy_data(n=3, size=8)
    net = ToyNet()
    for layer, size in (("input", 8), ("deep", 4)):
        maps = np.random.default_rng(1).normal(size=(3, 3, size, size)).astype(np.float32)
        params = {"patch_size": 2} if cls is RegionPerturbation else {}
        if cls is FaithfulnessCorrelation:
            params = {"nr_runs": 5}
        values = cls(cls.Params(**params)).evaluate(make_ctx(data, info, model=net, layer=layer, attributions=maps))
        stats = _stats(values)
        assert np.isfinite(stats[cls.headline, ""]) and stats["n", ""] >= 1


def test_layer_maps_perturb_the_layer_and_run_the_head_only():
    data, info = toy_data(n=3, size=8)
    net = ToyNet()
    maps = np.random.default_rng(2).normal(size=(3, 3, 4, 4)).astype(np.float32)
    got = _stats(DeletionInsertion(DeletionInsertion.Params(output="logit", step=0.25)).evaluate(
        make_ctx(data, info, model=net, layer="deep", attributions=maps)))
    x = torch.from_numpy(data["test/x"])
    with torch.no_grad():
        feats = net._body(x)
        target = net(x).argmax(1).numpy()
        order = np.argsort(-maps[np.arange(3), target].reshape(3, -1), axis=1, kind="stable")
        curve = []
        for k in (0, 4, 8, 12, 16):
            f = feats.clone().reshape(3, 8, -1)
            for i in range(3):
                f[i, :, order[i, :k]] = 0
            curve.append(net._head(f.reshape(feats.shape))[np.arange(3), target].numpy())
    expected = np.trapezoid(np.stack(curve, 1), dx=0.25, axis=1).mean()
    assert got["deletion", ""] == pytest.approx(expected, rel=1e-5)


def test_orders_steps_and_patches():
    maps = np.array([[[0.1, 0.9], [0.5, -1.0]]])
    assert ranks(maps).tolist() == [[2, 0, 1, 3]]
    assert ranks(maps, most_relevant_first=False).tolist() == [[1, 3, 2, 0]]
    assert counts(10, 0.25).tolist() == [0, 3, 6, 9, 10]
    grid = patches(4, 4, 2)
    assert grid.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    m = np.arange(16, dtype=float).reshape(1, 4, 4)
    assert group_ranks(m, grid)[0].reshape(4, 4).tolist() == [[3, 3, 2, 2], [3, 3, 2, 2], [1, 1, 0, 0], [1, 1, 0, 0]]


def test_imputation_reproduces_a_linear_ramp_and_keeps_known_values():
    ramp = np.add.outer(np.arange(6.0), 2 * np.arange(6.0))[None].repeat(2, 0)  # (2, 6, 6), harmonic inside
    removed = np.zeros(36, dtype=bool)
    removed[[14, 15, 20, 21]] = True  # an interior 2x2 block
    out = impute(ramp, removed)
    np.testing.assert_allclose(out, ramp, atol=1e-10)
    noisy = impute(ramp, removed, noise=0.5, rng=np.random.default_rng(0))
    assert np.array_equal(noisy.reshape(2, -1)[:, ~removed], ramp.reshape(2, -1)[:, ~removed])


def test_baselines_and_scored_outputs():
    from xaibench_metrics.faithfulness.engine import baseline_features, scored_output

    feats = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    mean = baseline_features(feats, "mean", 1.0)
    torch.testing.assert_close(mean[:, :, 2, 3], feats.mean(dim=(2, 3)))
    constant = torch.full((1, 2, 4, 4), 0.7)
    torch.testing.assert_close(baseline_features(constant, "blur", 2.0), constant)  # a blur keeps constants
    blurred = baseline_features(feats, "blur", 1.0)
    assert blurred.shape == feats.shape and blurred[0, 0].std() < feats[0, 0].std()
    assert torch.all(baseline_features(feats, 0.25, 1.0) == 0.25)
    assert scored_output("probability", "multilabel") == "sigmoid"
    assert scored_output("auto", "singlelabel") == "softmax" and scored_output("logit", "multilabel") == "logit"


def test_maps_off_the_layer_grid_are_refused_with_the_shapes():
    data, info = toy_data(n=2, size=8)
    ctx = make_ctx(data, info, model=ToyNet(), layer="deep", attributions=np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"layer 'deep' are \(8, 8\), the layer's features \(4, 4\)"):
        DeletionInsertion().evaluate(ctx)


# -- equality with Quantus --------------------------------------------------------------------------------------------
quantus = pytest.importorskip("quantus")
from xaibench_metrics import quantus_bridge  # noqa: E402,F401  (patches Quantus for NumPy 2)


class _OneInput(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.eval()

    def forward(self, x):
        return self.net(x)


def _quantus_case(bands=1, n=4, size=8):
    data, info = toy_data(n=n, bands=bands, size=size, seed=3)
    net = ToyNet(bands=bands, seed=3)
    x = data["test/x"]
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy()
    maps = np.random.default_rng(5).normal(size=(n, 3, size, size)).astype(np.float32)
    a = maps[np.arange(n), y][:, None]  # (N, 1, H, W): Quantus broadcasts it over the bands
    return data, info, net, x, y, maps, a


def _quantus(metric, net, x, y, a, seed=None):
    if seed is not None:
        np.random.seed(seed)
    return np.asarray(metric(model=_OneInput(net), x_batch=x, y_batch=y, a_batch=a, device="cpu", softmax=False,
                             batch_size=len(x)), dtype=np.float64)


OURS = dict(baseline=0.0, output="logit")


def test_pixel_flipping_equals_quantus():
    # Quantus steps over its flattened (C*H*W) features: 4 bands x 4 pixels is 4 whole positions
    data, info, net, x, y, maps, a = _quantus_case(bands=4)
    q = quantus.PixelFlipping(features_in_step=4 * 4, perturb_baseline=0.0, disable_warnings=True,
                              return_auc_per_sample=True)
    ours = PixelFlipping(PixelFlipping.Params(features_in_step=4, **OURS))
    ctx = make_ctx(data, info, model=net, layer="input", attributions=maps)
    expected = _quantus(q, net, x, y, a)
    curves = ours.curves(ctx)[:, 0]
    np.testing.assert_allclose(np.trapezoid(curves, dx=1.0, axis=-1), expected, rtol=0, atol=1e-5)
    assert _stats(ours.evaluate(ctx))["auc", ""] == pytest.approx(expected.mean(), abs=1e-5)


def test_region_perturbation_equals_quantus():
    data, info, net, x, y, maps, a = _quantus_case(bands=3)
    q = quantus.RegionPerturbation(patch_size=2, regions_evaluation=10, perturb_baseline=0.0, disable_warnings=True)
    ours = RegionPerturbation(RegionPerturbation.Params(patch_size=2, regions=10, **OURS))
    expected = _quantus(q, net, x, y, a)
    got = ours.curves(make_ctx(data, info, model=net, layer="input", attributions=maps))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_faithfulness_estimate_equals_quantus():
    data, info, net, x, y, maps, a = _quantus_case(bands=4)
    q = quantus.FaithfulnessEstimate(features_in_step=4 * 4, perturb_baseline=0.0, disable_warnings=True)
    ours = FaithfulnessEstimate(FaithfulnessEstimate.Params(features_in_step=4, **OURS))
    expected = _quantus(q, net, x, y, a)
    got = ours.correlations(make_ctx(data, info, model=net, layer="input", attributions=maps))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_faithfulness_correlation_equals_quantus_with_the_same_draws():
    # one band: Quantus draws subsets of its flattened (C*H*W) features, our positions are H*W
    data, info, net, x, y, maps, a = _quantus_case(bands=1)
    q = quantus.FaithfulnessCorrelation(nr_runs=20, subset_size=16, perturb_baseline=0.0, disable_warnings=True,
                                        return_aggregate=False)
    ours = FaithfulnessCorrelation(FaithfulnessCorrelation.Params(nr_runs=20, subset_size=16, **OURS))
    expected = _quantus(q, net, x, y, a, seed=11)
    got = ours.correlations(make_ctx(data, info, model=net, layer="input", attributions=maps, seed=11))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_irof_equals_quantus():
    # one band: Quantus' IROF masks (N, 1, H, W) and asserts the input has that shape
    data, info, net, x, y, maps, a = _quantus_case(bands=1, size=16)
    q = quantus.IROF(perturb_baseline=0.0, disable_warnings=True, return_aggregate=False)
    ours = Irof(Irof.Params(**OURS))
    expected = _quantus(q, net, x, y, a)
    got = ours.scores(make_ctx(data, info, model=net, layer="input", attributions=maps))[:, 0]
    # scores of a few hundred are sums of float32 ratios: one float32 ulp at 381 is 3e-5, and the
    # summation order under another thread count moved one by 1.5e-5 (relative 3.9e-8) in CI
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=1e-5)


def test_road_equals_quantus_without_noise():
    # one band (Quantus' imputer takes flat H*W indices); shares whose position counts are whole; a linear
    # model and its exact contributions as maps, so that MoRF removal changes predictions
    data, info, _, x, _, _, _ = _quantus_case(bands=1, n=12)
    net = Linear(1, 8, 3, seed=4)
    maps = (net.fc.weight.detach().numpy().reshape(3, 1, 8, 8)[None] * x[:, None]).sum(2).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy()
    a = maps[np.arange(len(x)), y][:, None]
    percentages = [25.0, 50.0, 75.0]
    q = quantus.ROAD(percentages=percentages, noise=0.0, disable_warnings=True, return_aggregate=False)
    expected = q(model=_OneInput(net), x_batch=x, y_batch=y, a_batch=a, device="cpu", batch_size=len(x))
    expected = np.array([expected[p] for p in percentages])  # accuracy per share
    ours = Road(Road.Params(percentages=tuple(percentages), noise=0.0))
    got = ours.accuracy(make_ctx(data, info, model=net, layer="input", attributions=maps))[:, 0].mean(axis=0)
    assert expected.min() < 1.0  # the removals change some predictions
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)



def test_deletion_curve_equals_quantus_pixel_flipping_curve():
    # the deletion curve after the unperturbed point is Pixel-Flipping's curve (4 positions per step)
    data, info, net, x, y, maps, a = _quantus_case(bands=4)
    q = quantus.PixelFlipping(features_in_step=4 * 4, perturb_baseline=0.0, disable_warnings=True)
    expected = _quantus(q, net, x, y, a)  # (N, 16)
    values = DeletionInsertion(DeletionInsertion.Params(step=4 / 64, **OURS)).evaluate(
        make_ctx(data, info, model=net, layer="input", attributions=maps))
    curve = [v.value for v in values if v.statistic == "deletion_curve"]
    np.testing.assert_allclose(curve[1:], expected.mean(axis=0), rtol=0, atol=1e-5)
    deletion = _stats(values)["deletion", ""]
    with torch.no_grad():
        start = net(torch.from_numpy(x))[np.arange(len(x)), y].numpy().mean()
    assert deletion == pytest.approx(np.trapezoid([start, *expected.mean(axis=0)], dx=1 / 16), abs=1e-5)
