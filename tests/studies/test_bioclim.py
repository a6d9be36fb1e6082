from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xaibench.components as xc
from xaibench.bundle import Bundle
from xaibench_studies.bioclim import AuxShuffle, Efficiency, Generalization, epochs_to_threshold

from .helpers import FnModel, context, values

BANDS = (xc.Band("B4", 665, "s2"),)


def regional_data(n: int = 40) -> tuple[Bundle, xc.DatasetInfo]:
    """Single-label data whose class is ``aux[:, 0] > 0.5``; band 0 holds the class in train only
    and in test region 0 only (region 1's images say the opposite)."""
    g = np.random.default_rng(0)
    splits = {}
    for split in ("train", "test"):
        label = np.tile([0, 1], n // 2)
        region = np.repeat([0, 1], n // 2)
        aux = np.stack([label * 0.8 + 0.1, g.random(n)], axis=1).astype(np.float32)
        shown = label if split == "train" else np.where(region == 0, label, 1 - label)
        x = np.broadcast_to(shown[:, None, None, None], (n, 1, 4, 4)).astype(np.float32)
        splits[split] = {"x": x, "label": label, "aux": aux, "region": region}
    info = xc.DatasetInfo("toy", "singlelabel", ("a", "b"), BANDS, provides=frozenset({"aux", "region"}),
                          extra={"regions": ["north", "south"]})
    return Bundle.from_splits(splits), info


def image_model() -> FnModel:
    return FnModel(lambda x, aux: torch.stack([0.5 - x[:, 0, 0, 0], x[:, 0, 0, 0] - 0.5], dim=1))


def aux_model() -> FnModel:
    return FnModel(lambda x, aux: torch.stack([0.5 - aux[:, 0], aux[:, 0] - 0.5], dim=1))


def test_generalization_gaps_by_hand():
    data, info = regional_data()
    out = Generalization().evaluate(context(data, info, image_model()))
    acc = values(out, "accuracy")
    assert acc["train"] == 1.0 and acc["test"] == 0.5
    assert acc["region:north"] == 1.0 and acc["region:south"] == 0.0
    assert values(out, "gen_ml")[""] == pytest.approx(0.5)
    assert values(out, "gen_geo")[""] == pytest.approx(0.5)  # sqrt(((1 - .5)^2 + (0 - .5)^2) / 2)


def test_generalization_of_a_consistent_model_is_zero():
    data, info = regional_data()
    out = Generalization(Generalization.Params(performance="f1_macro")).evaluate(
        context(data, info, aux_model(), provides=frozenset({"aux-input"})))
    assert values(out, "gen_ml")[""] == 0.0
    assert values(out, "gen_geo")[""] == 0.0


def test_generalization_without_regions_reports_gen_ml_only():
    data, info = regional_data()
    del data.arrays["test/region"]
    out = Generalization().evaluate(context(data, info, image_model()))
    assert "" in values(out, "gen_ml") and not values(out, "gen_geo")


def test_aux_shuffle_drop_is_zero_when_aux_is_ignored_and_large_when_used():
    data, info = regional_data()
    ignored = AuxShuffle().evaluate(context(data, info, image_model(), provides=frozenset({"aux-input"})))
    assert values(ignored, "drop")[""] == 0.0
    used = AuxShuffle(AuxShuffle.Params(repeats=4)).evaluate(
        context(data, info, aux_model(), provides=frozenset({"aux-input"})))
    acc = values(used, "accuracy")
    assert acc["original"] == 1.0
    assert 0.25 < acc["shuffled"] < 0.75  # a random pairing guesses the class half the time
    assert values(used, "drop")[""] == pytest.approx(1.0 - acc["shuffled"])


def test_aux_shuffle_is_deterministic_and_skips_models_without_aux():
    data, info = regional_data()
    ctx = context(data, info, aux_model(), provides=frozenset({"aux-input"}))
    assert AuxShuffle().evaluate(ctx) == AuxShuffle().evaluate(ctx)
    assert AuxShuffle().incompatibility(xc.ModelInfo(), "input")
    assert AuxShuffle().incompatibility(xc.ModelInfo(provides=frozenset({"aux-input"})), "input") is None


def test_epochs_to_threshold():
    assert epochs_to_threshold([0.5, 0.9, 0.96, 0.99], 0.95) == 3
    assert epochs_to_threshold([0.5, 0.9, 0.96], 0.95, alpha=1.5) == 4.5
    assert math.isnan(epochs_to_threshold([0.5, 0.6], 0.95))


def test_efficiency_explains_missing_history():
    data, info = regional_data()
    with pytest.raises(ValueError, match="history"):
        Efficiency().evaluate(context(data, info, image_model()))


@pytest.mark.parametrize("cls", [Generalization, AuxShuffle])
def test_conforms_to_the_metric_contract(cls):
    from xaibench.testing import check_metric

    check_metric(cls, layers=("input",))
