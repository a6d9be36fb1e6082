from __future__ import annotations

import numpy as np
import pytest

import xaibench.components as xc
from xaibench.bundle import Bundle
from xaibench_studies.shortcut import ShortcutCheck, per_sample_pearson, upsample_bicubic

BANDS = (xc.Band("B4", 665, "s2"),)
AWARE = xc.ModelInfo(provides=frozenset({"aux-input"}))
AGNOSTIC = xc.ModelInfo()


def ctx(group: dict[str, np.ndarray], infos: dict[str, xc.ModelInfo], n: int = 6, size: int = 16,
        task: str = "singlelabel") -> xc.MetricContext:
    label = np.arange(n) % 3
    labels = np.eye(3, dtype=bool)[label]
    data = Bundle.from_splits({"test": {"x": np.zeros((n, 1, size, size), np.float32), "label": label, "labels": labels}})
    info = xc.DatasetInfo("toy", task, ("a", "b", "c"), BANDS)
    first = next(iter(group))
    return xc.MetricContext(data=data, data_info=info, model_info=infos[first], seed=0, load_model=lambda: None,
                            layer="layer4", group=group, group_info=infos)


def maps(seed: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 4, 4)).astype(np.float32)


def by_model(out: list[xc.MetricValue], statistic: str = "pearson") -> dict[tuple[str, str], float]:
    return {(v.model, v.sub_key): v.value for v in out if v.statistic == statistic}


def test_identical_maps_correlate_perfectly_and_the_agnostic_model_is_the_reference():
    a = maps(0)
    out = ShortcutCheck().evaluate(ctx({"cbn": a, "plain": a.copy()}, {"cbn": AWARE, "plain": AGNOSTIC}))
    assert by_model(out) == {("cbn", "plain"): pytest.approx(1.0)}
    assert by_model(out, "n") == {("cbn", "plain"): 6.0}


def test_a_model_looking_elsewhere_correlates_less():
    a = maps(0)
    same = ShortcutCheck().evaluate(ctx({"plain": a, "cbn": a + 0.1 * maps(1)}, {"plain": AGNOSTIC, "cbn": AWARE}))
    other = ShortcutCheck().evaluate(ctx({"plain": a, "cbn": maps(2)}, {"plain": AGNOSTIC, "cbn": AWARE}))
    assert by_model(same)[("cbn", "plain")] > 0.9 > 0.5 > abs(by_model(other)[("cbn", "plain")])


def test_only_the_target_class_maps_are_compared():
    a, b = maps(0), maps(0)
    n = len(a)
    label = np.arange(n) % 3
    for i in range(n):  # scramble every class map but the true one
        for c in range(3):
            if c != label[i]:
                b[i, c] = np.random.default_rng(10 + i * 3 + c).normal(size=(4, 4))
    infos = {"plain": AGNOSTIC, "cbn": AWARE}
    target = by_model(ShortcutCheck().evaluate(ctx({"plain": a, "cbn": b}, infos)))
    every = by_model(ShortcutCheck(ShortcutCheck.Params(classes="all")).evaluate(ctx({"plain": a, "cbn": b}, infos)))
    assert target[("cbn", "plain")] == pytest.approx(1.0) and every[("cbn", "plain")] < 0.9
    multi = by_model(ShortcutCheck().evaluate(ctx({"plain": a, "cbn": b}, infos, task="multilabel")))
    assert multi[("cbn", "plain")] == pytest.approx(1.0)


def test_explicit_references_and_every_aware_model():
    a = maps(0)
    group = {"plain": a, "emb": a.copy(), "cbn": -a}
    infos = {"plain": AGNOSTIC, "emb": AWARE, "cbn": AWARE}
    assert by_model(ShortcutCheck().evaluate(ctx(group, infos))) == {("emb", "plain"): pytest.approx(1.0),
                                                                    ("cbn", "plain"): pytest.approx(-1.0)}
    explicit = ShortcutCheck(ShortcutCheck.Params(reference=["emb"])).evaluate(ctx(group, infos))
    assert set(by_model(explicit)) == {("plain", "emb"), ("cbn", "emb")}
    with pytest.raises(ValueError, match="not in this group"):
        ShortcutCheck(ShortcutCheck.Params(reference=["nope"])).evaluate(ctx(group, infos))


def test_bicubic_upsampling_keeps_constants_and_reaches_the_image_size():
    up = upsample_bicubic(np.full((2, 3, 4, 4), 0.7, np.float32), (16, 16))
    assert up.shape == (2, 3, 16, 16) and np.allclose(up, 0.7, atol=1e-6)
    assert upsample_bicubic(np.ones((2, 3, 5, 4, 4), np.float32), (4, 4)).shape == (2, 3, 4, 4)


def test_constant_maps_give_nan_not_an_error():
    r = per_sample_pearson(np.ones((2, 1, 4, 4)), np.ones((2, 1, 4, 4)), np.ones((2, 1), bool))
    assert np.isnan(r).all()


def test_conforms_to_the_metric_contract():
    from xaibench.testing import check_metric

    check_metric(ShortcutCheck, layers=("deep",))
