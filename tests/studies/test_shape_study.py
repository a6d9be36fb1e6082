"""SHAPE on the embedded world (Gawlikowski et al.): clouds in training shift relevance to SAR.

Two ``fusion-resnet-18`` (width 0.25, fused after layer2, 10 epochs) are trained once per
module on ``synth-sar-optical`` (256 train patches of 32 px, S2 + S1): one on clear
patches, one with a cloud cover drawn in [0, 0.9] per training patch.  Both are tested on
the same clear and cloudy (cover in [0.2, 0.9]) test patches.  Expected, as in the paper:

- the cloudy-trained model loses less accuracy under clouds than the clear-trained one;
- its SHAPE relevance of S1 on the cloudy test set is higher.

About 2 x 2 x 5 CPU-seconds of training on one thread.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from .helpers import context, values

pytestmark = pytest.mark.training

SEEDS = (0, 1)
COMMON: dict[str, Any] = dict(n_train=256, n_val=64, n_test=256, patch_size=32, modalities=("s2", "s1"))
CLOUDY_TEST = (0.2, 0.9)


def _load(train_cloud_fraction: Any, test_cloud_fraction: Any):
    synth = pytest.importorskip("xaibench_synth.sar_optical")
    dataset = synth.SynthSarOptical(
        synth.SynthSarOptical.Params(
            **COMMON, train_cloud_fraction=train_cloud_fraction, test_cloud_fraction=test_cloud_fraction
        )
    )
    data = dataset.load(0)
    data.meta["info"] = dataclasses.asdict(dataset.info())
    return dataset.info(), data


@pytest.fixture(scope="module")
def study() -> dict[str, Any]:
    """Trained nets ``{"clear"|"cloudy": [net per seed]}`` and test bundles ``{"clear"|"cloudy": data}``."""
    pytest.importorskip("torch")
    from xaibench_zoo.components import FusionResNet18Model

    info, cloudy_test = _load(0.0, CLOUDY_TEST)  # train split clear: the clear-trained model's data
    _, clear_test = _load(0.0, 0.0)
    _, cloudy_train = _load((0.0, 0.9), CLOUDY_TEST)
    nets: dict[str, list[Any]] = {}
    for name, data in (("clear", cloudy_test), ("cloudy", cloudy_train)):
        nets[name] = []
        for seed in SEEDS:
            model = FusionResNet18Model(FusionResNet18Model.Params(width=0.25, fuse_after="layer2", train={"epochs": 10}))
            nets[name].append(model.load(info, model.train(data, seed=seed)))
    return {"info": info, "nets": nets, "test": {"clear": clear_test, "cloudy": cloudy_test}}


def _accuracy(net: Any, data: Any) -> float:
    from xaibench_studies.scoring import decisions, performance, predict, targets

    pred = decisions(predict(net, data["test/x"]), "multilabel")
    return performance(targets(data, "test", "multilabel"), pred, "accuracy")


def _shape(study: dict[str, Any], net: Any, test: str) -> dict[str, float]:
    from xaibench_studies.shape import Shape

    ctx = context(study["test"][test], study["info"], net, provides=frozenset({"multimodal"}))
    return values(Shape(Shape.Params(performance=("accuracy",))).evaluate(ctx), "shape_accuracy")


def test_cloudy_training_loses_less_accuracy_under_clouds(study):
    for seed, clear_net, cloudy_net in zip(SEEDS, study["nets"]["clear"], study["nets"]["cloudy"]):
        acc = {
            (trained, test): _accuracy(net, study["test"][test])
            for trained, net in (("clear", clear_net), ("cloudy", cloudy_net))
            for test in ("clear", "cloudy")
        }
        drop = {t: acc[(t, "clear")] - acc[(t, "cloudy")] for t in ("clear", "cloudy")}
        print(f"seed {seed}: accuracy {acc}, drop {drop}")  # shown with -s
        assert drop["cloudy"] < drop["clear"], acc
        assert acc[("cloudy", "cloudy")] > acc[("clear", "cloudy")], acc


def test_cloudy_training_raises_sar_relevance(study):
    for seed, clear_net, cloudy_net in zip(SEEDS, study["nets"]["clear"], study["nets"]["cloudy"]):
        clear, cloudy = _shape(study, clear_net, "cloudy"), _shape(study, cloudy_net, "cloudy")
        print(f"seed {seed}: SHAPE on cloudy test, clear-trained {clear}, cloudy-trained {cloudy}")
        assert cloudy["s1"] > clear["s1"], (clear, cloudy)
