from __future__ import annotations

import numpy as np
import pytest
import torch

import xaibench.components as xc
from xaibench.bundle import Bundle
from xaibench_studies.shape import Shape, modality_bands
from xaibench_studies.shapley import coalitions, interaction, shapley_values

from .helpers import FnModel, context, values


def fusion_data(n: int = 64, seed: int = 0) -> tuple[Bundle, xc.DatasetInfo]:
    """Two bands of ``s2`` then two of ``s1``; band 0 and band 2 both carry the class (mean > 0.5)."""
    g = np.random.default_rng(seed)
    label = g.integers(0, 2, n)
    x = g.uniform(0.0, 0.4, (n, 4, 4, 4)).astype(np.float32)
    x[:, 0] += 0.6 * label[:, None, None]
    x[:, 2] += 0.6 * label[:, None, None]
    bands = (xc.Band("B2", 490, "s2"), xc.Band("B3", 560, "s2"), xc.Band("VV", 0, "s1"), xc.Band("VH", 0, "s1"))
    info = xc.DatasetInfo("toy", "singlelabel", ("a", "b"), bands, modalities=("s2", "s1"))
    return Bundle.from_splits({"test": {"x": x, "label": label}, "train": {"x": x, "label": label}}), info


def two_class(score: torch.Tensor) -> torch.Tensor:
    """Logits ``(N, 2)`` whose arg-max is class 1 where ``score > 0.5``."""
    return torch.stack([torch.full_like(score, 0.5), score], dim=1)


def test_two_modality_formula_on_hand_table():
    v = {frozenset(): 0.1, frozenset({"s2"}): 0.7, frozenset({"s1"}): 0.4, frozenset({"s2", "s1"}): 0.8}
    phi = shapley_values(["s2", "s1"], v, scale=1.0)
    # SHAPE Eq. (1): [V(a,b) - V(0,b) + V(a,0) - V(0,0)] / (2 Z_f)
    assert phi["s2"] == pytest.approx((0.8 - 0.4 + 0.7 - 0.1) / 2)
    assert phi["s1"] == pytest.approx((0.8 - 0.7 + 0.4 - 0.1) / 2)
    assert shapley_values(["s2", "s1"], v, scale=2.0)["s1"] == pytest.approx(phi["s1"] / 2)
    assert interaction(["s2", "s1"], v) == pytest.approx(0.8 - 0.1 - (0.6 + 0.3))


def test_three_players_efficiency_and_weights():
    players = ["a", "b", "c"]
    g = np.random.default_rng(1)
    v = {s: float(g.random()) for s in coalitions(players)}
    phi = shapley_values(players, v)
    assert sum(phi.values()) == pytest.approx(v[frozenset(players)] - v[frozenset()])
    # hand expansion for "a": weights 1/3 (empty), 1/6 ({b}, {c}), 1/3 ({b, c})
    f = frozenset
    expected = (v[f("a")] - v[f()]) / 3 + (v[f("ab")] - v[f("b")]) / 6 + (v[f("ac")] - v[f("c")]) / 6 \
        + (v[f("abc")] - v[f("bc")]) / 3
    assert phi["a"] == pytest.approx(expected)


def test_additive_game_has_no_interaction():
    v = {s: 0.2 * ("a" in s) + 0.5 * ("b" in s) for s in coalitions(["a", "b"])}
    assert interaction(["a", "b"], v) == pytest.approx(0.0)
    assert shapley_values(["a", "b"], v) == pytest.approx({"a": 0.2, "b": 0.5})


def test_ignored_modality_has_zero_shape():
    data, info = fusion_data()
    model = FnModel(lambda x, aux: two_class(x[:, 0].mean(dim=(1, 2))))  # reads s2 only
    out = Shape(Shape.Params(performance=("accuracy", "f1_macro", "f2_micro"))).evaluate(context(data, info, model))
    for m in ("accuracy", "f1_macro", "f2_micro"):
        shape = values(out, f"shape_{m}")
        assert shape["s1"] == 0.0
        assert shape["s2"] > 0.3
    acc = values(out, "accuracy")
    assert acc["s2+s1"] == 1.0 and acc["s2"] == 1.0
    assert acc["none"] == acc["s1"] == pytest.approx(1 - data["test/label"].mean())  # always class 0


def test_symmetric_model_gives_equal_values():
    data, info = fusion_data()
    model = FnModel(lambda x, aux: two_class((x[:, 0] + x[:, 2]).mean(dim=(1, 2))))
    out = Shape().evaluate(context(data, info, model))
    shape = values(out, "shape_accuracy")
    assert shape["s2"] == pytest.approx(shape["s1"])
    assert shape["s2"] > 0.0
    acc = values(out, "accuracy")
    total = sum(shape.values())
    assert total == pytest.approx(acc["s2+s1"] - acc["none"])
    assert values(out, "interaction_accuracy")[""] == pytest.approx(
        acc["s2+s1"] - acc["none"] - (acc["s2"] - acc["none"]) - (acc["s1"] - acc["none"]))


def test_train_mean_baseline_fills_with_band_means():
    data, info = fusion_data()
    data.arrays["train/x"] = data["test/x"] + 0.25
    train_mean = float(data["train/x"][:, 2].mean())
    seen = []

    def fn(x, aux):
        seen.append(x[:, 2].mean().item())
        return two_class(x[:, 0].mean(dim=(1, 2)))

    Shape(Shape.Params(baseline="train-mean")).evaluate(context(data, info, FnModel(fn)))
    assert sum(m == pytest.approx(train_mean, rel=1e-5) for m in seen) == 2  # the two subsets without s1
    assert sum(m == pytest.approx(train_mean - 0.25, rel=1e-5) for m in seen) == 2


def test_modality_bands_keeps_first_appearance_order():
    _, info = fusion_data()
    assert modality_bands(info) == {"s2": [0, 1], "s1": [2, 3]}


def test_rejects_forecast_data():
    data, info = fusion_data()
    info = xc.DatasetInfo("toy", "forecast", ("ndvi",), info.bands)
    with pytest.raises(ValueError, match="classification"):
        Shape().evaluate(context(data, info, FnModel(lambda x, aux: x[:, :1, 0, 0])))


def test_conforms_to_the_metric_contract():
    from xaibench.testing import check_metric

    check_metric(Shape, {"performance": ["accuracy", "f2_macro"]}, layers=("input",))
