"""The engine's transfers (preallocated outputs, pinned copies on CUDA) change no result.

``legacy`` puts back the code of main at 2c0e776: every chunk copied to the host and the chunks
concatenated with ``torch.cat`` (maps and body features).  On CPU every method gives bit-identical
arrays either way, in one chunk and in many.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xaibench_attributions import engine, occlusion
from xaibench_attributions.engine import gather
from xaibench_attributions.methods import METHODS

from .toy_models import ToyConvNet, make_bundle, make_request

SMALL = {"kmeans-occlusion": {"n_clusters": 5}, "gradient-shap": {"n_baselines": 4},
         "deeplift-shap": {"n_baselines": 4}, "sliding-window-occlusion": {"windows": 2}}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def legacy_gather(n, parts):
    return torch.cat([p.detach().float().cpu() for p in parts]).numpy()


def legacy_run_body(body, x, aux, budget_bytes, device):
    x0 = x[:1].to(device).requires_grad_(True)
    a0 = None if aux is None else aux[:1].to(device)
    per_sample, _ = engine.saved_bytes(lambda: body(x0, a0))
    chunk = max(1, budget_bytes // max(per_sample, 1))
    outs = []
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            xa = x[s:s + chunk].to(device)
            aa = None if aux is None else aux[s:s + chunk].to(device)
            outs.append(body(xa, aa).float())
    return torch.cat(outs).detach()


@pytest.fixture
def legacy(monkeypatch):
    def install():
        monkeypatch.setattr(engine, "gather", legacy_gather)
        monkeypatch.setattr(occlusion, "gather", legacy_gather)
        monkeypatch.setattr(engine, "run_body", legacy_run_body)

    return install


@pytest.mark.parametrize("budget_mb", [2048, 0], ids=["one-chunk", "many-chunks"])
@pytest.mark.parametrize("keep_channels", [False, True], ids=["summed", "kept"])
def test_every_method_is_bit_identical_to_the_concatenating_code(legacy, keep_channels, budget_mb):
    model = ToyConvNet(n_aux=2)
    data = make_bundle(n=5, n_aux=2)
    methods = [cls(cls.Params(**SMALL.get(cls.name, {}), keep_channels=keep_channels)) for cls in METHODS]
    new = [m.attribute(make_request(model, data, "deep", seed=3, memory_budget_mb=budget_mb)) for m in methods]
    legacy()
    old = [m.attribute(make_request(model, data, "deep", seed=3, memory_budget_mb=budget_mb)) for m in methods]
    for method, a, b in zip(methods, new, old, strict=True):
        assert a.dtype == np.float32 and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b, err_msg=method.name)


def test_run_body_fills_the_features_in_place_identically():
    model = ToyConvNet(n_aux=2)
    data = make_bundle(n=7, n_aux=2)
    x, aux = torch.from_numpy(data["test/x"]), torch.from_numpy(data["test/aux"])
    body, _ = model.split("deep")
    with engine.frozen_parameters(body):
        for budget in (0, 2**30):  # one sample per chunk, then all at once
            new = engine.run_body(body, x, aux, budget, torch.device("cpu"))
            assert torch.equal(new, legacy_run_body(body, x, aux, budget, torch.device("cpu")))


def test_gather_known_answer_and_count_check():
    parts = [torch.arange(6.0).reshape(2, 3), torch.arange(6.0, 9.0).reshape(1, 3).double()]
    out = gather(3, iter(parts))
    assert out.dtype == np.float32 and out.shape == (3, 3)
    np.testing.assert_array_equal(out, np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="hold 3 samples, expected 4"):
        gather(4, iter(parts))
    with pytest.raises(ValueError, match="hold 0 samples"):
        gather(2, iter([]))


@needs_cuda
def test_gather_from_cuda_uses_pinned_memory_and_equals_the_concatenation():
    parts = [torch.randn(3, 4, 5, device="cuda") for _ in range(4)]
    out = gather(12, iter(parts))
    np.testing.assert_array_equal(out, torch.cat(parts).cpu().numpy())
    assert torch.from_numpy(out).is_pinned()


@needs_cuda
@pytest.mark.parametrize("cls", METHODS, ids=[m.name for m in METHODS])
def test_cuda_many_chunks_equal_cpu(cls, monkeypatch):
    model = ToyConvNet(n_aux=2)
    data = make_bundle(n=5, n_aux=2)
    params = cls.Params(**SMALL.get(cls.name, {}))
    on_cpu = cls(params).attribute(make_request(model, data, "deep", seed=2))
    monkeypatch.setattr(engine, "DEVICE_FRACTION", 1e-12)  # one sample per chunk on the device
    on_gpu = cls(params).attribute(make_request(copy.deepcopy(model).cuda(), data, "deep", seed=2))
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-4)


@needs_cuda
def test_cuda_chunks_are_sized_from_free_device_memory():
    model = ToyConvNet().cuda()
    request = make_request(model, make_bundle(n=2), "deep", memory_budget_mb=1)
    assert engine.chunk_bytes(request) > 2**20  # not the request's 1 MB host budget
    assert engine.chunk_bytes(request) <= engine.device_free_bytes(torch.device("cuda"))
