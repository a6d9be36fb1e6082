"""Architectures: split equivalence at every layer, shapes, layer names, ReLU usage, Captum hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xaibench.components import SplittableModel

from .helpers import AUX_DIM, N_CLASSES, TINY_MODELS, build_model, make_data, make_info

# stride of each layer's feature map w.r.t. the input (None: 1x1 after global layers)
STRIDES = {
    "uh-net": {"input": 1, "deep": 1, "head1": 2, "head2": 4, "head3": 8},
    "resnet": {"input": 1, "stem": 4, "layer1": 4, "deep": 8, "layer3": 16, "layer4": 32},
    "vgg-16": {"input": 1, "conv1_2": 1, "conv2_2": 2, "conv3_3": 4, "conv4_3": 8, "deep": 16},
}


def _net(key: str):
    comp = build_model(key)
    data = make_data(n=4)
    info = make_info()
    torch.manual_seed(0)
    net = comp.build(info, comp.arch(data, info))
    # non-trivial batch-norm statistics, so that eval mode differs from train mode
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return comp, net.eval(), data


def _inputs(data, n: int = 3):
    return torch.from_numpy(data["test/x"][:n]), torch.from_numpy(data["test/aux"][:n])


@pytest.mark.parametrize("key", list(TINY_MODELS))
def test_split_equivalence_and_shapes_at_every_layer(key):
    comp, net, data = _net(key)
    x, aux = _inputs(data)
    assert isinstance(net, SplittableModel)
    assert net.layer_names == comp.info(make_info()).layers
    with torch.no_grad():
        logits = net(x, aux)
        assert logits.shape == (3, N_CLASSES)
        strides = STRIDES["resnet" if "resnet" in key else key.removesuffix("-skip")]
        for layer in net.layer_names:
            body, head = net.split(layer)
            assert isinstance(body, nn.Module) and isinstance(head, nn.Module)
            feats = body(x, aux)
            assert feats.ndim == 4 and feats.shape[0] == 3
            assert feats.shape[-1] == 32 // strides[layer], (layer, feats.shape)
            torch.testing.assert_close(head(feats, aux), logits, rtol=1e-5, atol=1e-5)
        assert torch.equal(net.split("input")[0](x, aux), x)


def test_deep_layer_channels_and_aliases():
    _, unet, _ = _net("uh-net")
    x = torch.zeros(2, 5, 32, 32)
    with torch.no_grad():
        assert unet.split("deep")[0](x).shape == (2, 16, 32, 32)  # 16 channels at input resolution
        _, resnet, _ = _net("resnet-18")
        torch.testing.assert_close(resnet.split("layer2")[0](x), resnet.split("deep")[0](x))
        _, vgg, _ = _net("vgg-16")
        torch.testing.assert_close(vgg.split("conv5_3")[0](x), vgg.split("deep")[0](x))
    with pytest.raises(KeyError, match="no layer 'nope'.*layers: input"):
        resnet.split("nope")


def test_skip_pooling_keeps_the_bottleneck_resolution():
    from xaibench_zoo.nets.uhnet import UNet

    x = torch.zeros(1, 5, 120, 120)
    with torch.no_grad():
        plain, skipped = UNet(5, 0.0625), UNet(5, 0.0625, skip_pooling=(4,))
        assert plain.down4(plain.down3(plain.down2(plain.down1(plain.inc(x))))).shape[-1] == 7
        assert skipped.down4(skipped.down3(skipped.down2(skipped.down1(skipped.inc(x))))).shape[-1] == 15
        assert skipped(x).shape[-2:] == (120, 120)
    with pytest.raises(ValueError, match="skip_pooling"):
        UNet(5, 0.0625, skip_pooling=(5,))


@pytest.mark.parametrize("key", list(TINY_MODELS))
def test_every_relu_is_a_module_called_at_most_once(key):
    """DeepLift/LRP/GuidedBackprop hook ReLU modules: a reused module breaks them."""
    _, net, data = _net(key)
    x, aux = _inputs(data)
    calls: dict[nn.Module, int] = {}
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert relus and all(not m.inplace for m in relus)
    handles = [m.register_forward_hook(lambda m, i, o: calls.__setitem__(m, calls.get(m, 0) + 1)) for m in relus]
    with torch.no_grad():
        net(x, aux)
    for h in handles:
        h.remove()
    assert calls and max(calls.values()) == 1


def test_aux_models_need_aux_and_use_it():
    for key in ("resnet-18-emb", "resnet-18-cbn"):
        _, net, data = _net(key)
        x, aux = _inputs(data)
        with torch.no_grad():
            # conditioning layers start at zero (CBN) / random (embedding): perturb so aux matters
            for p in net.parameters():
                p.add_(0.1 * torch.randn_like(p))
            assert not torch.allclose(net(x, aux), net(x, aux + 1.0))
            _, head = net.split("deep")
            with pytest.raises(ValueError, match="aux"):
                head(net.split("deep")[0](x, aux), None)


def test_fusion_branches_follow_band_modalities():
    _, net, data = _net("fusion-resnet-18")
    assert net.band_groups == [[0, 1, 3], [2, 4]]
    assert [b.conv1.in_channels for b in net.branches] == [3, 2]
    x, _ = _inputs(data)
    seen: dict[int, list[torch.Tensor]] = {0: [], 1: []}
    for i, branch in enumerate(net.branches):
        branch.conv1.register_forward_hook(lambda m, inp, out, i=i: seen[i].append(inp[0]))
    x2 = x.clone()
    x2[:, 2] += 1.0  # an s1 band
    with torch.no_grad():
        net(x)
        net(x2)
    torch.testing.assert_close(seen[0][0], x[:, [0, 1, 3]])
    torch.testing.assert_close(seen[0][0], seen[0][1])  # the s2 branch does not see it
    torch.testing.assert_close(seen[1][1], x2[:, [2, 4]])


def test_modality_dropout_only_in_training():
    _, net, data = _net("fusion-resnet-18")
    outs = [torch.ones(64, 2, 1, 1), torch.ones(64, 2, 1, 1)]
    assert all(o is p for o, p in zip(net.drop_modalities(outs), outs))  # eval: untouched
    net.train()
    torch.manual_seed(0)
    dropped = net.drop_modalities(outs)
    kept = torch.stack([d[:, 0, 0, 0] for d in dropped], 1)
    assert (kept.sum(1) >= 1).all()  # never every branch of a sample
    assert (kept == 0).any()


@pytest.mark.parametrize("key", ["uh-net", "resnet-18", "vgg-16", "resnet-18-cbn", "fusion-resnet-18"])
def test_captum_hooking_methods_run_on_heads(key):
    from captum.attr import LRP, DeepLift, GuidedBackprop

    _, net, data = _net(key)
    x, aux = _inputs(data, 2)
    for layer in ("input", "deep"):
        body, head = net.split(layer)
        with torch.no_grad():
            feats = body(x, aux)
        for method in (DeepLift, LRP, GuidedBackprop):
            attr = method(head).attribute(feats.clone().requires_grad_(), target=1, additional_forward_args=(aux,))
            assert attr.shape == feats.shape
            assert torch.isfinite(attr).all() and attr.abs().sum() > 0


def test_features_match_the_body_and_are_batched():
    comp, net, data = _net("resnet-18")
    for layer in ("input", "deep", "layer4"):
        feats = comp.features(net, data, "test", layer)
        assert feats.dtype == np.float32
        with torch.no_grad():
            ref = net.split(layer)[0](torch.from_numpy(data["test/x"]), None).numpy()
        assert feats.shape == ref.shape
        np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-5)
    # more samples than one batch of 64
    big = make_data(n=70, size=32)
    assert comp.features(net, big, "train", "deep").shape == (70, 16, 4, 4)
    assert AUX_DIM == big["train/aux"].shape[1]
