"""Properties with known answers: linear contributions, completeness, LRP = Gradient x Input, occlusion drops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaibench_attributions.engine import prepare
from xaibench_attributions.methods import (
    LRP,
    DeepLift,
    GradientsXFeatures,
    IntegratedGradients,
    KMeansOcclusion,
    SlidingWindowOcclusion,
)
from xaibench_attributions.occlusion import cluster_occlusion

from .toy_models import LinearModel, ReluNet, ToyConvNet, make_bundle, make_request


def _linear_case():
    model = LinearModel(in_ch=3, size=8, n_classes=4)
    data = make_bundle(n=3, in_ch=3, size=8)
    weight = model.fc.weight.detach().numpy().reshape(4, 3, 8, 8)
    return model, data, weight, data["test/x"]


def test_gradients_x_features_on_linear_model_is_exact_contribution():
    model, data, weight, x = _linear_case()
    got = GradientsXFeatures(GradientsXFeatures.Params(keep_channels=True)).attribute(make_request(model, data, "input"))
    expected = weight[None] * x[:, None]  # W[k, c, h, w] * x[c, h, w]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_deeplift_equals_integrated_gradients_on_linear_model():
    model, data, _, _ = _linear_case()
    request = make_request(model, data, "input")
    dl = DeepLift(DeepLift.Params(keep_channels=True)).attribute(request)
    ig = IntegratedGradients(IntegratedGradients.Params(keep_channels=True)).attribute(request)
    assert np.abs(ig).max() > 1e-2
    np.testing.assert_allclose(dl, ig, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", ["input", "deep"])
def test_integrated_gradients_completeness_at_200_steps(layer):
    model = ToyConvNet()
    data = make_bundle(n=4)
    request = make_request(model, data, layer)
    attr = IntegratedGradients(IntegratedGradients.Params(n_steps=200)).attribute(request)
    _, head = model.split(layer)
    p = prepare(request)
    with torch.no_grad():
        delta = (head(p.feats, None) - head(torch.zeros_like(p.feats), None)).numpy()
    total = attr.sum(axis=(-2, -1))
    assert np.abs(delta).min() > 1e-3  # the relative bound below is meaningful
    np.testing.assert_array_less(np.abs(total - delta), 0.01 * np.abs(delta))


@pytest.mark.parametrize("layer", ["input", "deep"])
def test_lrp_with_small_epsilon_equals_gradients_x_features_on_relu_net(layer):
    model = ReluNet(size=8)
    data = make_bundle(n=3, size=8)
    request = make_request(model, data, layer)
    lrp = LRP(LRP.Params(epsilon=1e-9, keep_channels=True)).attribute(request)
    gxf = GradientsXFeatures(GradientsXFeatures.Params(keep_channels=True)).attribute(request)
    assert np.abs(gxf).max() > 1e-2
    np.testing.assert_allclose(lrp, gxf, rtol=0, atol=1e-4)


def test_occlusion_of_a_window_is_the_hand_computed_output_drop():
    model, data, weight, x = _linear_case()
    request = make_request(model, data, "input")
    got = SlidingWindowOcclusion(SlidingWindowOcclusion.Params(windows=4, keep_channels=True)).attribute(request)
    # tile (row 1, col 2) of a 4x4 tiling of 8x8: pixels [2:4, 4:6]; occluding it with 0 removes
    # exactly its linear contribution, which every element of the tile receives
    drop = (weight[None, :, :, 2:4, 4:6] * x[:, None, :, 2:4, 4:6]).sum(axis=(-3, -2, -1))  # (N, K)
    np.testing.assert_allclose(got[:, :, :, 2:4, 4:6], np.broadcast_to(drop[:, :, None, None, None], (3, 4, 3, 2, 2)),
                               rtol=1e-5, atol=1e-6)
    summed = SlidingWindowOcclusion(SlidingWindowOcclusion.Params(windows=4)).attribute(request)
    np.testing.assert_allclose(summed[:, :, 2, 4], 3 * drop, rtol=1e-5, atol=1e-6)  # 3 channels


def test_window_stride_mode_averages_overlapping_windows():
    model, data, weight, x = _linear_case()
    request = make_request(model, data, "input")
    got = SlidingWindowOcclusion(SlidingWindowOcclusion.Params(window=4, stride=2, keep_channels=True)).attribute(request)
    contrib = weight[None] * x[:, None]  # (N, K, C, H, W)
    # pixel (0, 0) is covered only by the window at (0, 0); pixel (3, 3) by the 4 windows at (0|2, 0|2)
    w00 = contrib[..., 0:4, 0:4].sum(axis=(-3, -2, -1))
    np.testing.assert_allclose(got[:, :, 0, 0, 0], w00, rtol=1e-5, atol=1e-6)
    four = [contrib[..., r:r + 4, c:c + 4].sum(axis=(-3, -2, -1)) for r in (0, 2) for c in (0, 2)]
    np.testing.assert_allclose(got[:, :, 0, 3, 3], np.mean(four, axis=0), rtol=1e-5, atol=1e-6)


def test_kmeans_occlusion_distributes_the_whole_contribution_on_a_linear_model():
    model, data, weight, x = _linear_case()
    request = make_request(model, data, "input")
    got = KMeansOcclusion(KMeansOcclusion.Params(n_clusters=6, keep_channels=True)).attribute(request)
    # clusters partition the image and a linear model's drops add up: per channel, the
    # attributions sum to f(x) - f(0)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        delta = (model(xt) - model(torch.zeros_like(xt))).numpy()
    np.testing.assert_allclose(got[:, :, 0].sum(axis=(-2, -1)), delta, rtol=1e-4, atol=1e-5)


def test_kmeans_occlusion_is_invariant_to_cluster_label_permutation():
    model = ToyConvNet()
    data = make_bundle(n=2)
    p = prepare(make_request(model, data, "deep"))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=(2, *p.feats.shape[-2:]))
    permuted = rng.permutation(5)[labels] + 10  # relabelled, not even starting at 0
    a = cluster_occlusion(p, labels, keep_channels=False, value=0.0)
    b = cluster_occlusion(p, permuted, keep_channels=False, value=0.0)
    assert np.abs(a).max() > 1e-3
    np.testing.assert_array_equal(a, b)
