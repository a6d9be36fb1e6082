"""Toy components: a linear 'model' whose exact attributions are known.

Every component can be told to fail (``fail: true``) or to sleep, so tests can
exercise failure isolation and interruption.
"""

from __future__ import annotations

import os
import time

import numpy as np

from xaibench import hookimpl
from xaibench.bundle import Bundle
from xaibench.components import (
    AttributionMethod,
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

CLASSES = ("a", "b", "c")


class ToyData(Dataset):
    """Random 2-band 4x4 images; mask = argmax of per-class linear scores."""

    name = "toy-data"

    class Params(Params):
        n: int = 6
        size: int = 4

    def info(self) -> DatasetInfo:
        return DatasetInfo("toy", "multilabel", CLASSES, (Band("u", 500.0), Band("v", 800.0)), provides=frozenset({"mask"}))

    def load(self, seed: int) -> Bundle:
        rng = np.random.default_rng(seed)
        splits = {}
        for split in ("train", "val", "test"):
            x = rng.random((self.params.n, 2, self.params.size, self.params.size), dtype=np.float32)
            mask = (x[:, 0] * 3).astype(np.int64).clip(0, 2)
            labels = np.stack([(mask == c).mean(axis=(1, 2)) > 0.1 for c in range(3)], 1).astype(np.float32)
            splits[split] = {"x": x, "mask": mask, "labels": labels, "label": labels.argmax(1)}
        return Bundle.from_splits(splits)


class ToyLinear(Model):
    """logits = W @ mean(x); weights drawn from the seed (``train`` is deterministic)."""

    name = "toy-linear"

    class Params(Params):
        fail: bool = False
        sleep: float = 0.0
        scale: float = 1.0

    def info(self, data: DatasetInfo) -> ModelInfo:
        return ModelInfo(layers=("input", "deep"))

    def train(self, data: Bundle, seed: int) -> Bundle:
        time.sleep(self.params.sleep)
        if self.params.fail:
            raise RuntimeError("toy model asked to fail")
        w = self.params.scale * np.random.default_rng(seed).normal(size=(3, 2)).astype(np.float32)
        return Bundle({"w": w}, {"metrics": {"accuracy": float(abs(w).mean())}})

    def load(self, data: DatasetInfo, state: Bundle):
        return state["w"]

    def features(self, model, data: Bundle, split: str, layer: str) -> np.ndarray:
        return data[f"{split}/x"]


class ToyGradient(AttributionMethod):
    """Exact contributions of the linear toy model: w[c, d] * x[d], summed over bands."""

    name = "toy-gradient"

    class Params(Params):
        scale: float = 1.0
        fail_on_seed: int | None = None
        fail_while_file_exists: str | None = None
        """With fail_on_seed: fail only while this file exists (a transient failure)."""
        sleep: float = 0.0

    def attribute(self, request) -> np.ndarray:
        time.sleep(self.params.sleep)
        flag = self.params.fail_while_file_exists
        if self.params.fail_on_seed == request.seed and (flag is None or os.path.exists(flag)):
            raise ValueError(f"toy-gradient asked to fail on seed {request.seed}")
        x = request.data[f"{request.split}/x"]
        return self.params.scale * np.einsum("cd,ndhw->nchw", request.model, x).astype(np.float32)


class ToyIdentity(PostProcessor):
    """Leaves attributions unchanged."""

    name = "toy-identity"

    def apply(self, state, test, train):
        return test


class ToyMeanShift(PostProcessor):
    """Adds the mean train attribution of each class (needs features and train attributions)."""

    name = "toy-mean-shift"
    needs_features = True
    needs_train_attributions = True

    def prepare(self, features, seed):
        return Bundle({"n": np.array([len(features["train"])])})

    def apply(self, state, test, train):
        return test + train.mean(axis=(0, 2, 3), keepdims=True)


class ToyMean(Metric):
    """Mean attribution of the true class pixels (requires masks)."""

    name = "toy-mean"
    requires = frozenset({"mask"})

    class Params(Params):
        offset: float = 0.0

    def evaluate(self, ctx) -> list[MetricValue]:
        a = ctx.attributions
        vals = [MetricValue("value", float(a.mean()) + self.params.offset)]
        vals += [MetricValue("class_mean", float(a[:, c].mean()), sub_key=name) for c, name in enumerate(CLASSES)]
        return vals


class ToyPairDiff(Metric):
    """Mean absolute difference between every pair of methods."""

    name = "toy-pair-diff"
    scope = "methods"
    higher_is_better = False

    def evaluate(self, ctx) -> list[MetricValue]:
        return [MetricValue("value", float(np.abs(ctx.group[a] - ctx.group[b]).mean()), sub_key=b, attribution=a)
                for a in ctx.group for b in ctx.group if a != b]


class ToyModelDiff(Metric):
    """Mean absolute difference of each model's attributions from the first model's."""

    name = "toy-model-diff"
    scope = "models"
    higher_is_better = False

    def evaluate(self, ctx) -> list[MetricValue]:
        first, *others = list(ctx.group)
        return [MetricValue("value", float(np.abs(ctx.group[m] - ctx.group[first]).mean()), sub_key=first, model=m)
                for m in others]


class ToyNeedsAux(Metric):
    """A metric needing auxiliary vectors: always skipped on toy data."""

    name = "toy-needs-aux"
    requires = frozenset({"aux"})

    def evaluate(self, ctx):
        return [MetricValue("value", 1.0)]


class ToyWeightNorm(Metric):
    """Model-level metric: norm of the weights (never multiplied by methods)."""

    name = "toy-weight-norm"
    scope = "model"

    def evaluate(self, ctx) -> list[MetricValue]:
        return [MetricValue("value", float(np.linalg.norm(ctx.load_model())))]


@hookimpl
def register_datasets(register):
    register(ToyData)


@hookimpl
def register_models(register):
    register(ToyLinear)


@hookimpl
def register_attributions(register):
    register(ToyGradient)


@hookimpl
def register_postprocessors(register):
    register(ToyIdentity)
    register(ToyMeanShift)


@hookimpl
def register_metrics(register):
    register(ToyMean)
    register(ToyPairDiff)
    register(ToyNeedsAux)
    register(ToyModelDiff)
    register(ToyWeightNorm)
