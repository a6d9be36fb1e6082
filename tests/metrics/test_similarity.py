import numpy as np
import pytest

from xaibench_metrics.arrays import pearson
from xaibench_metrics.similarity import OriginalVsHarmonized, PearsonSimilarity

from .toys import make_ctx, toy_data


def _ctx(group):
    data, info = toy_data()
    return make_ctx(data, info, group=group)


def test_chunked_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3, 7, 7)).astype(np.float32)
    b = (a + rng.normal(size=a.shape)).astype(np.float32)
    expected = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert pearson(a, b, chunk=13) == pytest.approx(expected, abs=1e-9)
    assert pearson(a, b) == pytest.approx(expected, abs=1e-9)


def test_pearson_of_constant_is_nan_and_shapes_must_match():
    assert np.isnan(pearson(np.ones((2, 3)), np.arange(6.0).reshape(2, 3)))
    with pytest.raises(ValueError):
        pearson(np.ones((2, 3)), np.ones((3, 2)))


def test_identical_maps_correlate_to_one_in_both_orders():
    x = np.random.default_rng(1).normal(size=(4, 3, 5, 5)).astype(np.float32)
    group = {"saliency": x, "copy": x.copy(), "negated": -x}
    values = PearsonSimilarity().evaluate(_ctx(group))

    matrix = {(v.attribution, v.sub_key): v.value for v in values}
    assert len(values) == 6 and len(matrix) == 6  # every ordered pair once
    assert all(v.statistic == "value" for v in values)
    assert matrix["saliency", "copy"] == pytest.approx(1.0)
    assert matrix["copy", "saliency"] == pytest.approx(1.0)
    assert matrix["negated", "saliency"] == pytest.approx(-1.0)
    assert matrix["saliency", "negated"] == pytest.approx(-1.0)


def test_original_vs_harmonized_against_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3, 5, 5)).astype(np.float32)
    y = rng.normal(size=x.shape).astype(np.float32)
    group = {"none": x, "scaled": 3 * x + 1, "other": y}
    values = OriginalVsHarmonized().evaluate(_ctx(group))

    by_key = {v.sub_key: v for v in values}
    assert set(by_key) == {"scaled", "other"}
    assert all(v.postprocessor == "none" and v.statistic == "value" for v in values)
    assert by_key["scaled"].value == pytest.approx(1.0)
    assert by_key["other"].value == pytest.approx(pearson(x, y))


def test_original_vs_harmonized_custom_and_missing_reference():
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 4))
    metric = OriginalVsHarmonized(OriginalVsHarmonized.Params(reference="identity"))
    values = metric.evaluate(_ctx({"identity": x, "harmonized": x}))
    assert [(v.sub_key, v.postprocessor) for v in values] == [("harmonized", "identity")]
    with pytest.raises(ValueError, match="reference"):
        OriginalVsHarmonized().evaluate(_ctx({"identity": x, "harmonized": x}))


def test_per_channel_maps_are_compared_through_their_channel_sum():
    rng = np.random.default_rng(4)
    per_channel = rng.normal(size=(2, 3, 4, 5, 5))
    summed = per_channel.sum(axis=2)
    (ab, ba) = PearsonSimilarity().evaluate(_ctx({"kept": per_channel, "summed": summed}))
    assert ab.value == pytest.approx(1.0) and ba.value == pytest.approx(1.0)
