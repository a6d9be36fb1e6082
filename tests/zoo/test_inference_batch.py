"""No-grad batches (evaluation, features) hold as many samples as their activations allow, and the
result does not depend on the batch."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from xaibench.bundle import Bundle
from xaibench_zoo import training
from xaibench_zoo.training import inference_batch


def test_the_batch_is_what_the_budget_holds_of_one_samples_activations(monkeypatch):
    net = nn.Sequential(nn.Conv2d(1, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
    x = torch.ones(1, 1, 16, 16)
    per_sample = 3 * 4 * 16 * 16 * 4  # three leaf outputs of (4, 16, 16) float32
    monkeypatch.setattr(training, "INFERENCE_BYTES", 5 * per_sample + 1)
    net.train()
    stats = net[1].running_mean.clone()
    assert inference_batch(net, lambda: net(x), 64) == 5
    assert inference_batch(net, lambda: net(x), 3) == 3
    monkeypatch.setattr(training, "INFERENCE_BYTES", 1)
    assert inference_batch(net, lambda: net(x), 64) == 1  # never fewer than one
    # the probe runs in eval mode and leaves the network as it found it
    assert net.training and torch.equal(net[1].running_mean, stats)
    assert not net[0]._forward_hooks


def test_features_in_small_batches_equal_features_in_one(monkeypatch, session):
    info = SimpleNamespace(n_bands=13, n_classes=8, task="singlelabel")
    torch.manual_seed(0)
    net = session.catalog.create("model", "uh-net", {"width": 0.0625}).build(info, {}).eval()
    x = np.random.default_rng(0).random((7, 13, 32, 32), dtype=np.float32)
    data = Bundle({"test/x": x})
    whole = training.features(net, data, "test", "deep", "singlelabel")

    seen: list[int] = []
    handle = net.unet.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0])))
    monkeypatch.setattr(training, "INFERENCE_BYTES", 1)
    small = training.features(net, data, "test", "deep", "singlelabel")
    handle.remove()
    assert seen == [1] * 8  # the one-sample probe, then seven batches of one
    assert small.shape == whole.shape == (7, 16, 32, 32)
    np.testing.assert_allclose(small, whole, rtol=1e-5, atol=1e-6)
    assert whole.dtype == np.float32 and np.abs(whole).max() > 0
