"""Shapes, chunking under a memory budget, seeds, registration and incompatibilities."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xaibench.components import AttributionMethod, ModelInfo
from xaibench_attributions import plugin
from xaibench_attributions.engine import prepare
from xaibench_attributions.methods import LRP, METHODS, GradientShap, GuidedGradCam, KMeansOcclusion

from .toy_models import ToyConvNet, make_bundle, make_request

SMALL = {"kmeans-occlusion": {"n_clusters": 5}, "gradient-shap": {"n_baselines": 4},
         "deeplift-shap": {"n_baselines": 4}, "sliding-window-occlusion": {"windows": 2}}


def _params(cls, **extra):
    return cls.Params(**SMALL.get(cls.name, {}), **extra)


@pytest.mark.parametrize("cls", METHODS, ids=[m.name for m in METHODS])
def test_keep_channels_shape_and_channel_sum(cls):
    model = ToyConvNet(in_ch=3, width=5, n_classes=3)
    request = make_request(model, make_bundle(n=2), "deep")
    kept = cls(_params(cls, keep_channels=True)).attribute(request)
    summed = cls(_params(cls)).attribute(request)
    assert kept.shape == (2, 3, 5, 4, 4) and kept.dtype == np.float32
    assert summed.shape == (2, 3, 4, 4) and summed.dtype == np.float32
    np.testing.assert_allclose(kept.sum(axis=2), summed, rtol=1e-5, atol=1e-6)


class _CountCalls:
    def __init__(self, module: torch.nn.Module) -> None:
        self.calls = 0
        module.register_forward_hook(self)

    def __call__(self, *_):
        self.calls += 1


@pytest.mark.parametrize("cls", METHODS, ids=[m.name for m in METHODS])
def test_tiny_memory_budget_chunks_and_gives_identical_results(cls):
    model = ToyConvNet(n_aux=2)
    data = make_bundle(n=3, n_aux=2)
    counter = _CountCalls(model.fc)
    big = cls(_params(cls)).attribute(make_request(model, data, "deep", seed=1))
    calls_big, counter.calls = counter.calls, 0
    tiny_request = make_request(model, data, "deep", seed=1, memory_budget_mb=0)
    tiny = cls(_params(cls)).attribute(tiny_request)
    assert prepare(tiny_request).rows_per_chunk(1) == 1
    assert counter.calls > calls_big  # the head really ran in more, smaller chunks
    np.testing.assert_allclose(tiny, big, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [GradientShap, KMeansOcclusion], ids=["gradient-shap", "kmeans-occlusion"])
def test_stochastic_methods_are_deterministic_under_the_seed(cls):
    model = ToyConvNet()
    data = make_bundle(n=3)
    method = cls(_params(cls))
    a = method.attribute(make_request(model, data, "deep", seed=5))
    b = method.attribute(make_request(model, data, "deep", seed=5))
    c = method.attribute(make_request(model, data, "deep", seed=6))
    np.testing.assert_array_equal(a, b)
    if cls is GradientShap:  # k-means may well find the same clusters from another seed
        assert not np.allclose(a, c)


def test_plugin_registers_the_13_methods():
    registered = {}
    plugin.register_attributions(lambda cls, name=None: registered.setdefault(name or cls.name, cls))
    assert len(registered) == 13
    assert set(registered) == {
        "sliding-window-occlusion", "kmeans-occlusion", "grad-cam", "guided-grad-cam", "guided-backprop",
        "deconvolution", "saliency", "gradients-x-features", "lrp", "integrated-gradients", "deeplift",
        "gradient-shap", "deeplift-shap"}
    assert all(issubclass(c, AttributionMethod) for c in registered.values())


def test_guided_grad_cam_needs_its_cam_layer():
    info = ModelInfo(layers=("input",))
    assert "deep" in GuidedGradCam().incompatibility(info, "input")
    assert GuidedGradCam(GuidedGradCam.Params(cam_layer="input")).incompatibility(info, "input") is None


def test_lrp_refuses_a_head_that_reuses_a_module():
    class Reuse(ToyConvNet):
        def head_forward(self, f, aux):
            z = self.relu3(self.relu3(self.conv3(f)))
            return self.fc(torch.flatten(self.gap(z), 1))

    request = make_request(Reuse(), make_bundle(n=1), "deep")
    with pytest.raises(ValueError, match="reuses"):
        LRP().attribute(request)


def test_parameters_keep_requiring_grad_after_attribution():
    model = ToyConvNet()
    request = make_request(model, make_bundle(n=1), "deep")
    for cls in METHODS:
        cls(_params(cls)).attribute(request)
    assert all(p.requires_grad for p in model.parameters())
    assert not any(hasattr(m, "rule") for m in model.modules())  # LRP rules removed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cls", METHODS, ids=[m.name for m in METHODS])
def test_cuda_matches_cpu(cls):
    model = ToyConvNet(n_aux=2)
    data = make_bundle(n=3, n_aux=2)
    on_cpu = cls(_params(cls)).attribute(make_request(model, data, "deep", seed=2))
    on_gpu = cls(_params(cls)).attribute(make_request(copy.deepcopy(model).cuda(), data, "deep", seed=2))
    assert isinstance(on_gpu, np.ndarray) and on_gpu.dtype == np.float32
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("cls", METHODS, ids=[m.name for m in METHODS])
def test_a_method_keeps_nothing_of_the_samples_it_explained(cls):
    # The chunk-size probe once saved its own outputs through a pack hook, a reference cycle in
    # C++ that pinned every chunk's input array: memory grew by a chunk per chunk.
    import gc
    import weakref

    from xaibench.bundle import Bundle

    model = ToyConvNet(in_ch=3, width=5, n_classes=3)
    data = make_bundle(n=2)
    x = np.array(data["test/x"], dtype=np.float32)  # its own copy: `data` keeps the original
    alive = weakref.ref(x)
    own = Bundle({**{k: data[k] for k in data if k != "test/x"}, "test/x": x}, data.meta)
    for layer in ("input", "deep"):
        cls(_params(cls)).attribute(make_request(model, own, layer))
    del own, x
    gc.collect()
    assert alive() is None
