"""Training targets of the two embedded-world studies (slow: trains real zoo models).

- Bioclimatic context (Leonhardt et al.): on ``synth-bioclim`` at the settings of
  ``examples/bioclim.yaml`` (width 0.25, 32 px, 320 train patches, 10 epochs),
  ResNet-18-CBN beats the bioclimate-agnostic ResNet-18 in test accuracy (exact match)
  for at least 2 of 3 seeds.  About 6 x 4 CPU-seconds of training on one thread.
- Clouds in training (Gawlikowski et al.): a ``fusion-resnet-18`` trained on cloudy
  ``synth-sar-optical`` loses less accuracy under clouds than one trained on clear data
  (the models are the module fixture of ``tests/studies/test_shape_study.py``).
"""

from __future__ import annotations

import dataclasses

import pytest

pytestmark = pytest.mark.training

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def bioclim():
    synth = pytest.importorskip("xaibench_synth.bioclim")
    dataset = synth.SynthBioclim(
        synth.SynthBioclim.Params(n_train=320, n_val=64, n_test=400, patch_size=32, prior_shift=1.0, climate_shift=1.0)
    )
    data = dataset.load(0)
    data.meta["info"] = dataclasses.asdict(dataset.info())
    return data


def _test_accuracy(name: str, data, seed: int) -> float:
    from xaibench_zoo.components import MODELS

    cls = next(m for m in MODELS if m.name == name)
    model = cls(cls.Params(width=0.25, train={"epochs": 10}))
    return model.train(data, seed=seed).meta["metrics"]["test_accuracy"]


def test_cbn_beats_agnostic_resnet_on_synth_bioclim(bioclim):
    agnostic = [_test_accuracy("resnet-18", bioclim, s) for s in SEEDS]
    cbn = [_test_accuracy("resnet-18-cbn", bioclim, s) for s in SEEDS]
    print("resnet-18", agnostic, "resnet-18-cbn", cbn)  # shown with -s
    wins = sum(c > a for c, a in zip(cbn, agnostic))
    assert wins >= 2, (agnostic, cbn)
