"""A TorchScript model cut at an inner layer by interpreting its top-level graph (``scripted.py``):
``head(body(x)) == model(x)`` with the same input gradients, nested module paths, tuples, ``if``,
keyword-only operator arguments; skips over the cut and unknown nodes refused in one line."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xaibench_torchmodule.adaptation import ModelMismatch
from xaibench_torchmodule.scripted import ScriptCutError, ScriptGraph
from xaibench_torchmodule.sources import torchscript

from . import helpers as h
from .models import UserUNet, init


class _Pair(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.relu(), -x


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
        self.block3 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())


class Nested(nn.Module):
    """Calls ``self.encoder.block3`` from its own forward; an ``if`` on a shape, a module returning a
    tuple, a scripted function (``F.adaptive_avg_pool2d``), a keyword-only ``dtype``."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.pair, self.fc = _Encoder(), _Pair(), nn.Linear(4, 3)

    def forward(self, x):
        x = self.encoder.block1(x)
        if x.shape[-1] > 4:
            x = F.avg_pool2d(x, 2)
        a, b = self.pair(self.encoder.block3(x))
        pooled = torch.flatten(F.adaptive_avg_pool2d(a * b, 1), 1) + (a + b).sum(dim=(2, 3), dtype=torch.float32)
        return self.fc(pooled)


class InPlace(nn.Module):
    """``f += 1`` on the inner layer's output, in the model's own forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 3, 3, padding=1), nn.Linear(3, 2)

    def forward(self, x):
        f = self.conv(x)
        f += 1.0
        return self.fc(f.relu().mean(dim=(2, 3)))


class Looping(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 3, 3, padding=1), nn.Linear(3, 3)

    def forward(self, x):
        for _ in range(2):
            x = self.conv(x)
        return self.fc(x.mean(dim=(2, 3)))


def _graph(model: nn.Module, tmp_path) -> ScriptGraph:
    torch.jit.save(torch.jit.script(init(model)), tmp_path / "m.pt")
    script = torchscript(str(tmp_path / "m.pt"))
    return ScriptGraph(script.module, script.function)


def test_head_of_body_is_the_model_with_the_same_gradients(tmp_path):
    graph = _graph(Nested(), tmp_path)
    assert set(graph.calls) == {"encoder.block1", "encoder.block3", "pair", "fc"}
    assert graph.cut_points() == ["encoder.block1", "encoder.block3", "fc"]
    with pytest.raises(ScriptCutError, match=r"module 'pair' returns Tuple\[Tensor, Tensor\], not one tensor; layers that can be "
                                             r"cut: encoder.block1, encoder.block3, fc"):
        graph.split("pair")
    body, head = graph.split("encoder.block3")
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    want = graph.module(x)
    (want_grad,) = torch.autograd.grad(want[:, 1].sum(), x)
    features = body(x)
    assert features.shape == (2, 4, 4, 4)
    got = head(features)
    (got_grad,) = torch.autograd.grad(got[:, 1].sum(), x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_grad, want_grad, rtol=0, atol=1e-6)
    assert got_grad.abs().sum() > 0
    # the head depends on its argument only: zero features give the model's output on them
    zero = head(torch.zeros_like(features))
    assert not torch.allclose(zero, got)


def test_a_skip_over_the_cut_is_refused_with_the_layers_that_can_be_cut(tmp_path):
    graph = _graph(UserUNet(), tmp_path)
    assert graph.cut_points() == ["enc1", "dec", "out"]  # enc1's output reaches the head itself
    with pytest.raises(ScriptCutError, match=r"values computed before 'enc2' are used after it \(e1\.1: skip "
                                             r"connections over the cut\); layers that can be cut: enc1, dec, out"):
        graph.split("enc2")
    with pytest.raises(ScriptCutError, match=r"forward calls no module 'nope' \(modules it calls: enc1, enc2"):
        graph.split("nope")


def test_an_unsupported_node_names_itself_and_suggests_export(tmp_path):
    with pytest.raises(ScriptCutError, match=r"TorchScript node prim::Loop \(.*\) cannot be interpreted .* "
                                             r"save the model with torch.export \(exported: file.pt2\)"):
        _graph(Looping(), tmp_path)


def test_the_component_reports_a_bad_torchscript_layer_in_one_line(tmp_path):
    torch.jit.save(torch.jit.script(init(UserUNet())), tmp_path / "unet.pt")
    data = h.bundle()
    with pytest.raises(ModelMismatch, match=r"layer 'deep' \(up\): values computed before 'up' are used after"):
        h.component({"torchscript": str(tmp_path / "unet.pt"), "layers": {"deep": "up"}}, data)
    with pytest.raises(ModelMismatch, match=r"layer 'deep': the TorchScript model's forward has no module 'enc9'"):
        h.component({"torchscript": str(tmp_path / "unet.pt"), "layers": {"deep": "enc9"}}, data)
    torch.jit.save(torch.jit.script(init(Looping())), tmp_path / "loop.pt")
    with pytest.raises(ModelMismatch, match=r"torchscript .*loop.pt: TorchScript node prim::Loop"):
        h.component({"torchscript": str(tmp_path / "loop.pt"), "layers": {"deep": "conv"}}, h.bundle(bands=3))


class WithAux(nn.Module):
    """``forward(x, aux)``: the aux vector joins after the inner layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Sequential(nn.Conv2d(4, 3, 3, padding=1), nn.ReLU()), nn.Linear(5, 3)

    def forward(self, x, aux):
        return self.fc(torch.cat([self.conv(x).mean(dim=(2, 3)), aux], dim=1))


def test_the_aux_input_reaches_the_head(tmp_path):
    torch.jit.save(torch.jit.script(init(WithAux())), tmp_path / "aux.pt")
    data = h.bundle()
    rng = torch.Generator().manual_seed(0)
    arrays = {k: data[k] for k in data.arrays}
    arrays.update({f"{s}/aux": torch.rand(len(data[f"{s}/x"]), 2, generator=rng).numpy() for s in ("train", "test")})
    data = type(data)(arrays, dict(data.meta))
    _, model = h.component({"torchscript": str(tmp_path / "aux.pt"), "layers": {"deep": "conv"}, "aux": True}, data)
    x, aux = (torch.from_numpy(data[f"test/{k}"]) for k in ("x", "aux"))
    body, head = model.split("deep")
    torch.testing.assert_close(head(body(x, aux), aux), model(x, aux), rtol=0, atol=1e-6)
    assert not torch.allclose(head(body(x, aux), aux), head(body(x, aux), torch.zeros_like(aux)))
    with pytest.raises(ScriptCutError, match=r"values computed before 'conv' are used after it \(aux"):
        model._scripted.split("conv")  # without the aux passthrough, aux would skip over the cut


def test_an_in_place_operation_on_the_features_leaves_the_methods_leaf_alone(tmp_path):
    graph = _graph(InPlace(), tmp_path)
    body, head = graph.split("conv")
    x = torch.rand(2, 3, 8, 8)
    features = body(x).detach().requires_grad_()  # what the layer methods give the head
    out = head(features)
    (grad,) = torch.autograd.grad(out[:, 0].sum(), features)
    reference = features.detach().clone().requires_grad_()
    want = graph.module.fc((reference + 1.0).relu().mean(dim=(2, 3)))
    (want_grad,) = torch.autograd.grad(want[:, 0].sum(), reference)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=1e-6)
    torch.testing.assert_close(out, graph.module(x), rtol=0, atol=1e-6)
