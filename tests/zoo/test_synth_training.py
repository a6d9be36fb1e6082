"""Training targets on ``synth-landcover`` at default widths (slow: trains three real models).

Targets: test F1 micro >= 0.85 for UH-Net, >= 0.80 for ResNet-18 and VGG-16.  Runs on one
thread (the package conftest): about 90 + 30 + 95 CPU-seconds of training.
"""

from __future__ import annotations

import dataclasses

import pytest

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def landcover():
    synth = pytest.importorskip("xaibench_synth.landcover")
    dataset = synth.SynthLandcover()
    data = dataset.load(0)
    data.meta["info"] = dataclasses.asdict(dataset.info())
    return data


@pytest.mark.parametrize(("name", "target"), [("uh-net", 0.85), ("resnet-18", 0.80), ("vgg-16", 0.80)])
def test_default_models_reach_their_f1_on_synth_landcover(landcover, name, target):
    from xaibench_zoo.components import MODELS

    cls = next(m for m in MODELS if m.name == name)
    metrics = cls().train(landcover, seed=0).meta["metrics"]
    print(name, {k: round(v, 4) for k, v in metrics.items()})  # shown with -s
    assert metrics["test_f1_micro"] >= target, metrics
