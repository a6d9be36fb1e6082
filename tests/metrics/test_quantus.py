"""Max-Sensitivity and the generic Quantus adapter, on the toy net and toy methods."""

import numpy as np
import pytest
import torch

from xaibench.bundle import Bundle
from xaibench.components import AttributionRequest
from xaibench_metrics.explain import to_input_space
from xaibench_metrics.quantus_metrics import MaxSensitivity, QuantusMetric

from .toys import ConstantMethod, GradTimesActivation, ToyNet, make_ctx, toy_data

quantus = pytest.importorskip("quantus")
from xaibench_metrics import quantus_bridge  # noqa: E402  (needs quantus)

pytestmark = pytest.mark.usefixtures("one_thread")


def _stats(values):
    return {(v.statistic, v.sub_key): v.value for v in values}


def _predicted(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).argmax(1).numpy()


# -- max-sensitivity ----------------------------------------------------------


@pytest.mark.parametrize("layer", ["input", "deep"])
def test_method_ignoring_the_input_has_zero_sensitivity(layer):
    # ConstantMethod's pattern depends on the seed only: with common random numbers it ignores the input
    data, info = toy_data(n=5)
    ctx = make_ctx(data, info, model=ToyNet(), method=ConstantMethod(), layer=layer)
    params = MaxSensitivity.Params(nr_samples=3, batch_size=2, common_random_numbers=True)
    stats = _stats(MaxSensitivity(params).evaluate(ctx))
    assert stats == {("rejected", ""): 0.0, ("mean", ""): 0.0, ("std", ""): 0.0}


def test_stochastic_methods_are_re_explained_with_fresh_draws_by_default():
    # a method whose map is pure seeded noise: common random numbers call it perfectly robust,
    # fresh draws (the default) show its variance; both are reproducible
    data, info = toy_data(n=4)
    ctx = make_ctx(data, info, model=ToyNet(), method=ConstantMethod(), layer="input", seed=3)
    fresh = _stats(MaxSensitivity(MaxSensitivity.Params(nr_samples=3, batch_size=2)).evaluate(ctx))
    again = _stats(MaxSensitivity(MaxSensitivity.Params(nr_samples=3, batch_size=2)).evaluate(ctx))
    assert fresh["mean", ""] > 0.5 and fresh == again
    # a deterministic method scores the same either way
    ctx = make_ctx(data, info, model=ToyNet(), method=GradTimesActivation(), layer="input")
    a, b = (_stats(MaxSensitivity(MaxSensitivity.Params(nr_samples=3, common_random_numbers=crn)).evaluate(ctx))
            for crn in (False, True))
    assert a == pytest.approx(b, rel=1e-6)
    # the generic adapter's robustness metrics do the same
    ctx = make_ctx(data, info, model=ToyNet(), method=ConstantMethod(), layer="input", seed=3)
    avg = {crn: _stats(QuantusMetric(QuantusMetric.Params(metric="AvgSensitivity", metric_params={"nr_samples": 2},
                                                           common_random_numbers=crn)).evaluate(ctx))["mean", ""]
           for crn in (False, True)}
    assert avg[True] == 0.0 and avg[False] > 0.5


def test_max_sensitivity_matches_its_definition():
    # Recompute max_k ||a(x + u_k) - a(x)|| / ||a(x)|| with the same noise stream.
    data, info = toy_data(n=4)
    net, method, seed, radius, nr = ToyNet(), GradTimesActivation(), 7, 0.05, 3
    params = MaxSensitivity.Params(nr_samples=nr, radius=radius, batch_size=4)
    ctx = make_ctx(data, info, model=net, method=method, layer="input", seed=seed)
    stats = _stats(MaxSensitivity(params).evaluate(ctx))

    x = data["test/x"]
    targets = _predicted(net, x)

    def explain(inputs):
        a = method.attribute(AttributionRequest(net, Bundle({"test/x": inputs}), info, "test", "input", seed))
        return a[np.arange(len(a)), targets].reshape(len(a), -1).astype(np.float64)

    rng = np.random.default_rng(seed)
    original = explain(x)
    ratios = []
    for _ in range(nr):
        noise = rng.uniform(-radius, radius, size=(len(x), x[0].size)).reshape(x.shape)
        perturbed = explain((x + noise).astype(np.float32))
        ratios.append(np.linalg.norm(perturbed - original, axis=1) / np.linalg.norm(original, axis=1))
    expected = np.max(ratios, axis=0)
    assert stats["mean", ""] == pytest.approx(expected.mean(), rel=1e-4)
    assert stats["std", ""] == pytest.approx(expected.std(), rel=1e-3)
    assert stats["mean", ""] > 0


def test_max_sensitivity_is_deterministic_at_a_deep_layer():
    data, info = toy_data(n=4)
    metric = MaxSensitivity(MaxSensitivity.Params(nr_samples=2))
    runs = [
        _stats(metric.evaluate(make_ctx(data, info, model=ToyNet(), method=GradTimesActivation(), layer="deep")))
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert np.isfinite(runs[0]["mean", ""]) and runs[0]["mean", ""] > 0


def test_auxiliary_inputs_reach_model_and_method():
    data, info = toy_data(n=4, aux_dim=2)
    net = ToyNet(aux_dim=2)  # raises if called without aux
    metric = MaxSensitivity(MaxSensitivity.Params(nr_samples=2, batch_size=3, common_random_numbers=True))
    ctx = make_ctx(data, info, model=net, method=ConstantMethod(), layer="deep")
    assert _stats(metric.evaluate(ctx))["mean", ""] == 0.0
    values = QuantusMetric(QuantusMetric.Params(metric="AvgSensitivity", metric_params={"nr_samples": 2})).evaluate(
        make_ctx(data, info, model=net, method=GradTimesActivation(), layer="deep")
    )
    assert np.isfinite(_stats(values)["mean", ""])


def test_rejected_maps_are_counted_and_scored_nan():
    data, info = toy_data(n=3)
    method = ConstantMethod(ConstantMethod.Params(negative=True))  # Quantus refuses all-negative maps
    ctx = make_ctx(data, info, model=ToyNet(), method=method)
    stats = _stats(MaxSensitivity(MaxSensitivity.Params(nr_samples=2)).evaluate(ctx))
    assert stats["rejected", ""] == 3.0
    assert np.isnan(stats["mean", ""])


def test_metrics_that_reexplain_declare_raw_attributions():
    assert MaxSensitivity.needs_raw_attributions is True
    assert QuantusMetric(QuantusMetric.Params(metric="AvgSensitivity")).needs_raw_attributions is True
    assert QuantusMetric(QuantusMetric.Params(metric="MPRT")).needs_raw_attributions is True
    assert QuantusMetric(QuantusMetric.Params(metric="Sparseness")).needs_raw_attributions is False
    given = QuantusMetric(QuantusMetric.Params(metric="AvgSensitivity", attributions="given"))
    assert given.needs_raw_attributions is False


# -- generic adapter ------------------------------------------------------------


def test_adapter_reproduces_quantus_on_given_attributions():
    data, info = toy_data(n=5)
    net = ToyNet()
    ctx = make_ctx(data, info, model=net, method=GradTimesActivation(), layer="deep")
    values = QuantusMetric(QuantusMetric.Params(metric="Sparseness", batch_size=2)).evaluate(ctx)

    x = data["test/x"]
    targets = _predicted(net, x)
    a_batch = to_input_space(ctx.attributions, targets, x.shape[1:])
    direct = quantus.Sparseness(disable_warnings=True)(
        model=net, x_batch=x, y_batch=targets, a_batch=a_batch, channel_first=True
    )
    assert _stats(values)["mean", ""] == pytest.approx(np.mean(direct))
    assert _stats(values)["std", ""] == pytest.approx(np.std(direct))


def test_adapter_reproduces_quantus_when_reexplaining():
    data, info = toy_data(n=4)
    net, method, seed = ToyNet(), GradTimesActivation(), 3
    params = QuantusMetric.Params(metric="Max-Sensitivity", metric_params={"nr_samples": 3, "lower_bound": 0.05})
    values = QuantusMetric(params).evaluate(make_ctx(data, info, model=net, method=method, seed=seed))

    x = data["test/x"]
    targets = _predicted(net, x)

    def explain_func(model, inputs, targets, **kwargs):
        a = method.attribute(AttributionRequest(model, Bundle({"test/x": inputs}), info, "test", "input", seed))
        return a[np.arange(len(a)), targets][:, None]

    np.random.seed(seed)  # Quantus's noise comes from numpy's global state
    direct = quantus.MaxSensitivity(nr_samples=3, lower_bound=0.05, disable_warnings=True)(
        model=net, x_batch=x, y_batch=targets, channel_first=True, explain_func=explain_func
    )
    assert _stats(values)["mean", ""] == pytest.approx(np.mean(direct), rel=1e-6)


def test_adapter_takes_direction_and_category_from_quantus():
    assert QuantusMetric.higher_is_better is None
    sparse = QuantusMetric(QuantusMetric.Params(metric="Sparseness"))
    robust = QuantusMetric(QuantusMetric.Params(metric="max sensitivity"))
    assert (sparse.higher_is_better, sparse.category) == (True, "Complexity")
    assert (robust.higher_is_better, robust.category) == (False, "Robustness")
    assert robust.quantus_info()["cls"] is quantus.MaxSensitivity


def test_adapter_metric_names():
    with pytest.raises(ValueError, match="unknown"):
        QuantusMetric(QuantusMetric.Params(metric="NoSuchMetric")).quantus_info()
    with pytest.raises(ValueError, match="ambiguous"):
        quantus_bridge.resolve_metric("Model Parameter Randomisation Test")
    data, info = toy_data(n=2)
    ctx = make_ctx(data, info, model=ToyNet(), method=GradTimesActivation())
    with pytest.raises(ValueError, match="aggregates"):
        QuantusMetric(QuantusMetric.Params(metric="Sparseness", metric_params={"return_aggregate": True})).evaluate(ctx)


def test_localisation_uses_the_mask_of_the_target_class():
    data, info = toy_data(n=3)
    mask = data["test/mask"]
    one_hot = np.moveaxis(np.eye(3, dtype=np.float32)[mask], -1, 1)  # maps = the classes' masks
    ctx = make_ctx(data, info, model=ToyNet(), method=GradTimesActivation(), attributions=one_hot)
    values = QuantusMetric(QuantusMetric.Params(metric="PointingGame", target=1)).evaluate(ctx)
    assert _stats(values)["mean", ""] == 1.0


def test_per_layer_scores_of_model_randomisation():
    data, info = toy_data(n=3)
    ctx = make_ctx(data, info, model=ToyNet(), method=GradTimesActivation(), layer="deep")
    stats = _stats(QuantusMetric(QuantusMetric.Params(metric="MPRT")).evaluate(ctx))
    assert {k for _, k in stats if k} == {"original", "fc", "conv"}
    assert stats["mean", "original"] == pytest.approx(1.0)  # unrandomised model: identical maps
    assert stats["mean", "conv"] < 1.0


def test_curve_metrics_work_under_numpy_2():
    data, info = toy_data(n=3)
    ctx = make_ctx(data, info, model=ToyNet(), method=GradTimesActivation())
    params = QuantusMetric.Params(
        metric="PixelFlipping", metric_params={"features_in_step": 16, "return_auc_per_sample": True}
    )
    assert np.isfinite(_stats(QuantusMetric(params).evaluate(ctx))["mean", ""])


def test_functions_are_resolved_by_name():
    resolved = quantus_bridge.resolve_functions({"similarity_func": "correlation_spearman", "nr_samples": 3})
    assert resolved["similarity_func"] is quantus.functions.similarity_func.correlation_spearman
    assert resolved["nr_samples"] == 3
    with pytest.raises(ValueError):
        quantus_bridge.resolve_functions({"perturb_func": "no_such_function"})


def test_input_space_layout():
    rng = np.random.default_rng(0)
    targets = np.array([2, 0])
    per_band = rng.normal(size=(2, 3, 4, 8, 8))  # (N, classes, C, H, W) at the input
    assert np.array_equal(to_input_space(per_band, targets, (4, 8, 8)), per_band[[0, 1], [2, 0]].astype(np.float32))
    coarse = rng.normal(size=(2, 3, 4, 4))
    up = to_input_space(coarse, targets, (4, 8, 8))
    assert up.shape == (2, 1, 8, 8)
    assert up[0, 0].mean() == pytest.approx(coarse[0, 2].mean(), rel=1e-5)  # bilinear x2 keeps the mean


def test_quantus_module_refuses_misaligned_aux():
    module = quantus_bridge.QuantusModule(ToyNet(aux_dim=2), np.zeros((3, 2), np.float32))
    assert module(torch.zeros(3, 3, 8, 8)).shape == (3, 3)
    with pytest.raises(ValueError, match="pair"):
        module(torch.zeros(2, 3, 8, 8))
    single = quantus_bridge.QuantusModule(ToyNet(aux_dim=2), np.zeros((1, 2), np.float32))
    assert single(torch.zeros(5, 3, 8, 8)).shape == (5, 3)
