"""Components that each break one rule of the contract (and well-behaved references), for the kit's tests."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import ConfigDict

from xaibench.bundle import Bundle
from xaibench.components import (
    Band,
    Dataset,
    DatasetInfo,
    Metric,
    MetricValue,
    Model,
    ModelInfo,
    Params,
    PostProcessor,
)
from xaibench.testing.reference import GradientTimesFeatures
from xaibench.testing.torch_model import KitNet


# -- attribution methods ------------------------------------------------------------------------
class GoodMethod(GradientTimesFeatures):
    """Gradient x features (the kit's reference): passes every check."""

    name = "good-method"


class IgnoresLayer(GradientTimesFeatures):
    """Accepts every layer but always explains the input."""

    name = "ignores-layer"

    def attribute(self, request):
        from dataclasses import replace

        return super().attribute(replace(request, layer="input"))


class GlobalRng(GradientTimesFeatures):
    """Adds noise from numpy's global RNG instead of the request's seed."""

    name = "global-rng"

    def attribute(self, request):
        a = super().attribute(request)
        return (a + np.random.normal(size=a.shape)).astype(np.float32)


class NanOnZero(GradientTimesFeatures):
    """Normalises each map by its norm without guarding zero."""

    name = "nan-on-zero"

    def attribute(self, request):
        x = request.data[f"{request.split}/x"]
        a = super().attribute(request)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (a * (np.abs(x).sum(axis=(1, 2, 3)) / np.abs(x).sum(axis=(1, 2, 3)))[:, None, None, None]).astype(np.float32)


class Float64(GradientTimesFeatures):
    """Returns float64 maps."""

    name = "float64"

    def attribute(self, request):
        return super().attribute(request).astype(np.float64)


class OneClass(GradientTimesFeatures):
    """Explains only the first class."""

    name = "one-class"

    def attribute(self, request):
        return super().attribute(request)[:, :1]


class MutatesInput(GradientTimesFeatures):
    """Clips the request's input in place."""

    name = "mutates-input"

    def attribute(self, request):
        np.clip(request.data[f"{request.split}/x"], 0, 0.3, out=request.data[f"{request.split}/x"])
        return super().attribute(request)


class LaxParams(Params):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AcceptsUnknownParams(GradientTimesFeatures):
    """Its Params silently ignore unknown keys."""

    name = "lax-params"

    class Params(LaxParams):
        steps: int = 3


class IncompatibleWithAll(GradientTimesFeatures):
    """Declares every layer incompatible."""

    name = "incompatible"

    def incompatibility(self, model_info, layer):
        return "never"


class NeedsClouds(GradientTimesFeatures):
    """Requires a capability no kit scenario provides."""

    name = "needs-clouds"
    requires = frozenset({"clouds"})


# -- metrics ---------------------------------------------------------------------------------
class GoodMetric(Metric):
    """Mean absolute attribution."""

    name = "good-metric"

    def evaluate(self, ctx):
        return [MetricValue("value", float(np.abs(ctx.attributions).mean()))]


class InfMetric(GoodMetric):
    """Divides by the mean attribution, which is zero on a zero input."""

    name = "inf-metric"

    def evaluate(self, ctx):
        m = float(np.abs(ctx.attributions).mean())
        return [MetricValue("value", 1.0 / m if m else float("inf"))]


class NoisyMetric(GoodMetric):
    """Adds global-RNG noise."""

    name = "noisy-metric"

    def evaluate(self, ctx):
        return [MetricValue("value", float(np.abs(ctx.attributions).mean() + np.random.rand()))]


class TupleMetric(GoodMetric):
    """Returns bare tuples."""

    name = "tuple-metric"

    def evaluate(self, ctx):
        return [("value", 1.0)]


class StringDirectionMetric(GoodMetric):
    """Declares a statistic's direction as a word instead of True/False/None."""

    name = "string-direction"
    directions = {"value": "lower"}


class WrongMemberMetric(Metric):
    """A methods-scope metric naming a method outside the group."""

    name = "wrong-member"
    scope = "methods"
    higher_is_better = None

    def evaluate(self, ctx):
        return [MetricValue("value", 0.5, attribution="not-in-group")]


# -- datasets -----------------------------------------------------------------------------------
BANDS = tuple(Band(f"B{i}", 400.0 + 50 * i, "s2", "reflectance") for i in range(13))


class GoodDataset(Dataset):
    """Random 13-band patches, 3 classes, a mask; the same data for every seed."""

    name = "good-data"

    class Params(Params):
        n: int = 4
        lie_about_seed: bool = False
        drop_mask: bool = False
        float64: bool = False

    def info(self):
        return DatasetInfo("good-data", "multilabel", ("a", "b", "c"), BANDS, ("s2",), provides=frozenset({"mask"}))

    def varies_with_seed(self):
        return self.params.lie_about_seed

    def load(self, seed):
        rng = np.random.default_rng(0)
        splits = {}
        for s in ("train", "val", "test"):
            x = rng.random((self.params.n, 13, 8, 8))
            fields = {"x": x if self.params.float64 else x.astype(np.float32),
                      "labels": (rng.random((self.params.n, 3)) > 0.5).astype(np.float32)}
            if not self.params.drop_mask:
                fields["mask"] = rng.integers(0, 3, (self.params.n, 8, 8))
            splits[s] = fields
        return Bundle.from_splits(splits)


# -- models ---------------------------------------------------------------------------------
class _DropoutNet(KitNet):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x, aux=None):
        return super().forward(self.drop(x), aux)


class _BadHeadNet(KitNet):
    def split(self, layer):
        body, head = super().split(layer)
        return body, (lambda f, aux=None: head(f, aux) + 1.0)


class _InplaceNet(KitNet):
    """torchvision style: the head's ReLU works in place on the convolution's output."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.relu2 = torch.nn.ReLU(inplace=True)


class _SharedReluNet(KitNet):
    """One ReLU module for both activations: at "input" the head calls it twice."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.relu2 = self.relu1


class _Scripted(torch.nn.Module):
    """A head whose modules are a TorchScript graph's (they take no hooks)."""

    def __init__(self, head):
        super().__init__()
        self.graph = torch.jit.trace(head, (torch.zeros(1, head.conv2.in_channels, 4, 4),))

    def forward(self, f, aux=None):
        return self.graph(f)


class _ScriptedHeadNet(KitNet):
    def split(self, layer):
        body, head = super().split(layer)
        return body, (_Scripted(head) if layer == "deep" else head)


class GoodModel(Model):
    """KitNet 'trained' by drawing its weights from the seed; options break one rule each."""

    name = "good-model"

    class Params(Params):
        flaw: str = ""

    def info(self, data):
        from xaibench.capabilities import NO_MODULE_HOOKS

        provides = frozenset({NO_MODULE_HOOKS}) if self.params.flaw == "scripted-declared" else frozenset()
        return ModelInfo(layers=("input", "deep"), provides=provides)

    def _net(self, info, seed):
        cls = {"dropout": _DropoutNet, "bad-head": _BadHeadNet, "inplace-relu": _InplaceNet,
               "shared-relu": _SharedReluNet, "scripted-head": _ScriptedHeadNet,
               "scripted-declared": _ScriptedHeadNet}.get(self.params.flaw, KitNet)
        return cls(info.n_bands, info.n_classes, aux_dim=0, seed=seed)

    def train(self, data, seed):
        from xaibench.components import info_from_dict

        s = int(np.random.randint(1000)) if self.params.flaw == "global-rng" else seed
        net = self._net(info_from_dict(data.meta["info"]), s)
        return Bundle({k: v.numpy() for k, v in net.state_dict().items()}, {"metrics": {"loss": 0.1}})

    def load(self, data, state):
        net = self._net(data, 0)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in state.arrays.items()})
        if self.params.flaw == "dropout":
            net.train()
        return net

    def features(self, model, data, split, layer):
        body, _ = model.split(layer)
        with torch.no_grad():
            return body(torch.from_numpy(data[f"{split}/x"]), None).numpy()


# -- post-processors ---------------------------------------------------------------------------
class GoodPost(PostProcessor):
    """Scales maps by 2."""

    name = "good-post"

    def apply(self, state, test, train):
        return (test * 2).astype(np.float32)


class MaxNormalise(PostProcessor):
    """Divides each map by its maximum without guarding zero."""

    name = "max-normalise"

    def apply(self, state, test, train):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (test / np.abs(test).max(axis=(-2, -1), keepdims=True)).astype(np.float32)


class Pools(PostProcessor):
    """Halves the resolution."""

    name = "pools"

    def apply(self, state, test, train):
        return test[..., ::2, ::2]


class InPlace(PostProcessor):
    """Takes absolute values in place."""

    name = "in-place"

    def apply(self, state, test, train):
        np.abs(test, out=test)
        return test


class ChannelSummedOnly(PostProcessor):
    """Only handles (N, classes, H, W) attributions."""

    name = "summed-only"

    def apply(self, state, test, train):
        n, k, h, w = test.shape
        return test.reshape(n, k, h, w)
