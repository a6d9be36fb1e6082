"""Each method's batched all-class output equals Captum's one-class-at-a-time call (1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaibench_attributions.methods import METHODS

from .captum_reference import reference
from .toy_models import ReluNet, ToyConvNet, make_bundle, make_request

BY_NAME = {m.name: m for m in METHODS}

# Params that make the toy case non-trivial (8x8 input, 4x4 deep layer).
CASES = [
    ("grad-cam", {}),
    ("saliency", {}),
    ("saliency", {"absolute": False}),
    ("gradients-x-features", {}),
    ("integrated-gradients", {}),
    ("integrated-gradients", {"n_steps": 7, "method": "riemann_trapezoid"}),
    ("deeplift", {}),
    ("deeplift-shap", {"n_baselines": 4}),
    ("gradient-shap", {"n_baselines": 4}),
    ("lrp", {}),
    ("lrp", {"epsilon": 0.1}),
    ("guided-backprop", {}),
    ("deconvolution", {}),
    ("guided-grad-cam", {}),
    ("guided-grad-cam", {"relu_cam": True}),
    ("sliding-window-occlusion", {"windows": 2}),
    ("sliding-window-occlusion", {"window": 2, "stride": 1}),
    ("kmeans-occlusion", {"n_clusters": 5}),
]


@pytest.mark.parametrize("n_aux", [0, 2])
@pytest.mark.parametrize("layer", ["input", "deep"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_captum_per_class(name, params, layer, n_aux):
    model = ToyConvNet(n_aux=n_aux)
    data = make_bundle(n=3, n_aux=n_aux)
    request = make_request(model, data, layer, seed=3)
    cls = BY_NAME[name]
    kept = cls(cls.Params(keep_channels=True, **params)).attribute(request)
    summed = cls(cls.Params(**params)).attribute(request)
    ref = reference(name, model, data, layer, params, seed=3)

    assert kept.dtype == np.float32 and summed.dtype == np.float32
    assert kept.shape == ref.shape
    # errors relative to the largest value, so that the tolerance means the same at every layer
    scale = np.abs(ref).max()
    assert scale > 1e-6  # the comparison is not between zeros
    np.testing.assert_allclose(kept / scale, ref / scale, rtol=0, atol=1e-5)
    summed_ref = ref.sum(axis=2)
    np.testing.assert_allclose(summed / np.abs(summed_ref).max(), summed_ref / np.abs(summed_ref).max(),
                               rtol=0, atol=1e-5)


# Heads with other modules: max pooling (DeepLift falls back to Captum, LRP and Guided Backprop
# use their own rules) and tanh (own DeepLift rescale rule, LRP falls back to Captum).  ReluNet's
# body has biases, so only "input" has a zero baseline that Captum's Layer* methods share.
OTHER_HEADS = [
    ("relu-maxpool", "input", ["deeplift", "deeplift-shap", "lrp", "guided-backprop", "deconvolution"]),
    ("tanh", "input", ["deeplift", "lrp", "deeplift-shap"]),
    ("tanh", "deep", ["deeplift", "lrp"]),
]


@pytest.mark.parametrize(("head", "layer", "name"), [(h, lay, n) for h, lay, names in OTHER_HEADS for n in names])
def test_matches_captum_per_class_on_other_heads(head, layer, name):
    model = ReluNet() if head == "relu-maxpool" else ToyConvNet(head_activation=torch.nn.Tanh)
    data = make_bundle(n=3)
    request = make_request(model, data, layer, seed=1)
    params = {"n_baselines": 4} if name == "deeplift-shap" else {}
    cls = BY_NAME[name]
    kept = cls(cls.Params(keep_channels=True, **params)).attribute(request)
    ref = reference(name, model, data, layer, params, seed=1)
    scale = np.abs(ref).max()
    assert scale > 1e-6
    np.testing.assert_allclose(kept / scale, ref / scale, rtol=0, atol=1e-5)
