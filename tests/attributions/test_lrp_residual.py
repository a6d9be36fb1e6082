"""LRP through residual sums and skip concatenations: LRP-0 = Gradient x Input on a bias-free
piecewise-linear residual net and on bias-free versions of the zoo's ResNet-18 and UH-Net,
relevance conserved at every sum and in total, and equality with zennit when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xaibench.components import ModelInfo
from xaibench_attributions.methods import LRP, GradientsXFeatures

from .toy_models import _init_weights, _Splittable, make_bundle, make_request


class ResidualNet(_Splittable):
    """Bias-free and piecewise linear: two residual sums (one with a 1x1 projection), a skip
    concatenation and bilinear upsampling, so LRP-0's relevance is exactly Gradient x Input.

    ``record`` collects ``(name, tensor)`` pairs of every sum's branches and result during a forward,
    with their (rule-modified) gradients appended by tensor hooks during backward passes.
    """

    def __init__(self, in_ch: int = 3, n_classes: int = 3, width: int = 4, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.inp = nn.Identity()
        self.conv1 = nn.Conv2d(in_ch, width, 3, padding=1, bias=False)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.deep = nn.ReLU()
        self.conv3 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False)
        self.proj = nn.Conv2d(width, 2 * width, 1, stride=2, bias=False)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(3 * width, width, 1, bias=False)
        self.relu4 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, n_classes, bias=False)
        _init_weights(self)
        self.record: list[list] | None = None
        self.eval()

    def _watch(self, name: str, t: torch.Tensor) -> torch.Tensor:
        if self.record is not None and t.requires_grad:
            entry = [name, t.detach(), []]
            self.record.append(entry)
            t.register_hook(lambda g: entry[2].append(g.detach()))
        return t

    def body_forward(self, x, aux):
        h = self.relu1(self.conv1(x))
        a, b = self._watch("s1.a", self.conv2(h)), self._watch("s1.b", h.view_as(h))  # the shortcut branch alone
        return self.deep(self._watch("s1.z", a + b))  # identity shortcut

    def head_forward(self, f, aux):
        a, b = self._watch("s2.a", self.conv3(f)), self._watch("s2.b", self.proj(f))
        z = self.relu3(self._watch("s2.z", a + b))  # projection shortcut
        up = nn.functional.interpolate(z, size=f.shape[-2:], mode="bilinear", align_corners=False)
        cat = torch.cat([up, f], dim=1)  # skip concatenation, as in a U-Net decoder
        return self.fc(torch.flatten(self.gap(self.relu4(self.conv4(cat))), 1))


def test_lrp_no_longer_refuses_residual_or_skip_models():
    info = ModelInfo(layers=("input", "deep"), provides=frozenset({"residual", "skip-connections"}))
    assert LRP().incompatibility(info, "input") is None
    assert LRP().incompatibility(info, "deep") is None


@pytest.mark.parametrize("layer", ["input", "deep"])
def test_lrp0_equals_gradients_x_input_and_conserves_relevance(layer):
    model = ResidualNet()
    request = make_request(model, make_bundle(n=3), layer)
    lrp = LRP(LRP.Params(epsilon=1e-12, keep_channels=True)).attribute(request)
    gxf = GradientsXFeatures(GradientsXFeatures.Params(keep_channels=True)).attribute(request)
    assert np.abs(gxf).max() > 1e-2
    np.testing.assert_allclose(lrp, gxf, rtol=0, atol=1e-5)
    # no bias anywhere: the relevance at the layer sums to each logit
    _, head = model.split(layer)
    body, _ = model.split(layer)
    with torch.no_grad():
        x = torch.from_numpy(request.data["test/x"])
        logits = head(body(x, None), None).numpy()
    np.testing.assert_allclose(lrp.sum(axis=(2, 3, 4)), logits, rtol=1e-4, atol=1e-5)


def test_relevance_is_conserved_at_every_residual_sum():
    from xaibench_attributions import backward_rules as rules
    from xaibench_attributions.engine import prepare

    model = ResidualNet()
    request = make_request(model, make_bundle(n=2), "input")
    p = prepare(request)
    model.record = []
    leaves = rules.used_leaves(p.head, p.feats[:1], None)
    model.record = []
    rules.lrp_gradients(p.head, leaves, p.feats, None, p.n_classes, lambda g, k: g, epsilon=1e-6)
    relevance = {}
    for name, t, grads in model.record:  # one gradient per class, in class order
        assert len(grads) == p.n_classes
        relevance[name] = torch.stack([(t * g).sum(dim=(1, 2, 3)) for g in grads])  # (K, N)
    for s in ("s1", "s2"):
        total = relevance[f"{s}.z"]
        assert total.abs().max() > 1e-3
        torch.testing.assert_close(relevance[f"{s}.a"] + relevance[f"{s}.b"], total, rtol=1e-5, atol=1e-6)
        # the split is proportional: neither branch gets all of it on this net
        assert relevance[f"{s}.a"].abs().max() > 1e-4 and relevance[f"{s}.b"].abs().max() > 1e-4


def _zoo(name: str):
    """The zoo's ResNet-18 or UH-Net, made bias-free (BN without shift or running mean, linear layers
    without bias) with non-trivial BN scales, so that LRP-0 has a known answer."""
    from xaibench_zoo.nets.resnet import ResNet
    from xaibench_zoo.nets.uhnet import UHNet

    torch.manual_seed(0)
    net = ResNet("resnet-18", 3, 3, width=0.125) if name == "resnet-18" else UHNet(3, 3, width=0.0625)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.zero_()
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.zero_()
    return net.eval()


@pytest.mark.parametrize("name", ["resnet-18", "uh-net"])
def test_lrp_runs_through_zoo_residual_and_skip_nets_at_the_input(name):
    # Captum's LRP is no reference here: its rules ignore functional sums, so its relevance through
    # a ResNet's shortcuts is not conserved (it differs from ours by orders of magnitude)
    model = _zoo(name)
    data = make_bundle(n=2, size=16)
    request = make_request(model, data, "input")
    lrp = LRP(LRP.Params(epsilon=1e-12, keep_channels=True)).attribute(request)
    gxf = GradientsXFeatures(GradientsXFeatures.Params(keep_channels=True)).attribute(request)
    scale = np.abs(gxf).max()
    assert np.isfinite(lrp).all() and scale > 0
    np.testing.assert_allclose(lrp, gxf, rtol=0, atol=1e-4 * scale)
    with torch.no_grad():
        logits = model(torch.from_numpy(data["test/x"]), None).numpy()
    np.testing.assert_allclose(lrp.sum(axis=(2, 3, 4)), logits, rtol=1e-3, atol=1e-4 * np.abs(logits).max())


def test_lrp_equals_zennit_on_a_residual_net():
    zennit = pytest.importorskip("zennit")  # needs torchvision: absent from the CPU test environment
    from zennit.attribution import Gradient
    from zennit.composites import LayerMapComposite
    from zennit.rules import Epsilon, Pass
    from zennit.types import Activation, Convolution

    del zennit
    eps = 1e-6
    model = ResidualNet()
    data = make_bundle(n=2)
    ours = LRP(LRP.Params(epsilon=eps, keep_channels=True)).attribute(make_request(model, data, "input"))
    composite = LayerMapComposite([(Activation, Pass()), (Convolution, Epsilon(eps)), (nn.Linear, Epsilon(eps))])
    x = torch.from_numpy(data["test/x"]).requires_grad_(True)
    expected = []
    for k in range(3):
        with Gradient(model=model, composite=composite) as attributor:
            out, relevance = attributor(x, lambda y, k=k: torch.nn.functional.one_hot(
                torch.full((len(y),), k), y.shape[1]).to(y) * y)
        expected.append(relevance.detach().numpy())
    np.testing.assert_allclose(ours, np.stack(expected, axis=1), rtol=0, atol=1e-5)


class TanhResidualNet(ResidualNet):
    """:class:`ResidualNet` with a Tanh after the head's residual sum: a module without an LRP rule
    here, whose fallback (Captum) would mishandle the sums."""

    def __init__(self) -> None:
        super().__init__()
        self.relu3 = nn.Tanh()


@pytest.mark.parametrize("layer", ["input", "deep"])
def test_lrp_refuses_a_residual_head_with_modules_outside_its_rules(layer):
    from xaibench_attributions import backward_rules as rules

    model = TanhResidualNet()
    _, head = model.split(layer)
    probe = torch.randn(1, 3, 8, 8) if layer == "input" else model.split(layer)[0](torch.randn(1, 3, 8, 8), None)
    assert rules.branch_sums(head, probe, None) == (2 if layer == "input" else 1)
    with pytest.raises(ValueError, match=r"LRP refused: the head runs Tanh .* at \d residual sum") as err:
        LRP().attribute(make_request(model, make_bundle(n=2), layer))
    assert "\n" not in str(err.value)


def test_lrp_without_residual_sums_still_falls_back_to_captum():
    from xaibench_attributions import backward_rules as rules

    from .toy_models import ToyConvNet

    model = ToyConvNet(head_activation=nn.Tanh)
    _, head = model.split("deep")
    feats = model.split("deep")[0](torch.randn(2, 3, 8, 8), None)
    assert rules.branch_sums(head, feats[:1], None) == 0
    maps = LRP().attribute(make_request(model, make_bundle(n=2), "deep"))
    assert np.isfinite(maps).all() and np.abs(maps).max() > 0
