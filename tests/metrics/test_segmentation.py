import numpy as np
import pytest

from xaibench_metrics.segmentation import SegmentationAgreement

from .toys import CLASSES, make_ctx, toy_data


def _evaluate(attributions, mask):
    data, info = toy_data(n=len(mask), size=mask.shape[-1])
    data.arrays["test/mask"] = mask
    values = SegmentationAgreement().evaluate(make_ctx(data, info, attributions=attributions))
    overall = {v.statistic: v.value for v in values if not v.sub_key}
    per_class = {(v.statistic, v.sub_key): v.value for v in values if v.sub_key}
    return overall, per_class


def test_map_whose_argmax_is_the_mask_scores_one():
    data, _ = toy_data(n=4, size=6)
    mask = data["test/mask"]
    one_hot = np.moveaxis(np.eye(len(CLASSES), dtype=np.float32)[mask], -1, 1)  # (N, classes, H, W)
    overall, per_class = _evaluate(one_hot, mask)
    assert overall == pytest.approx({"accuracy": 1.0, "f1_micro": 1.0, "f1_macro": 1.0, "iou_mean": 1.0})
    assert set(per_class) == {(s, c) for s in ("f1", "iou") for c in CLASSES}
    assert all(v == pytest.approx(1.0) for v in per_class.values())


def test_identical_argmax_gives_accuracy_and_f1_one():
    attributions = np.random.default_rng(0).normal(size=(3, 3, 5, 5)).astype(np.float32)
    overall, _ = _evaluate(attributions, attributions.argmax(axis=1))
    assert overall["accuracy"] == pytest.approx(1.0)
    assert overall["f1_macro"] == pytest.approx(1.0)


def test_coarse_map_is_upsampled_to_the_mask():
    # 2x2 blocks at half resolution: bilinear upsampling (align_corners=False) keeps
    # each block's argmax on every pixel of the block.
    rng = np.random.default_rng(1)
    coarse_mask = rng.integers(0, 3, (2, 4, 4))
    mask = coarse_mask.repeat(2, axis=1).repeat(2, axis=2)
    coarse = np.moveaxis(np.eye(3, dtype=np.float32)[coarse_mask], -1, 1)
    overall, _ = _evaluate(coarse, mask)
    assert overall["accuracy"] == pytest.approx(1.0)


def test_known_partial_agreement_and_absent_class():
    mask = np.zeros((1, 4, 4), dtype=np.int64)
    mask[:, 2:] = 1  # half class 0, half class 1, class 2 nowhere
    attributions = np.zeros((1, 3, 4, 4), dtype=np.float32)
    attributions[:, 0] = 1.0  # predicts class 0 everywhere
    overall, per_class = _evaluate(attributions, mask)

    assert overall["accuracy"] == pytest.approx(0.5)
    assert per_class["f1", "water"] == pytest.approx(2 / 3)  # 2tp / (2tp + fp + fn) = 16 / 24
    assert per_class["f1", "forest"] == pytest.approx(0.0)
    assert per_class["iou", "water"] == pytest.approx(0.5)
    # class 2 is in neither truth nor prediction: no row, not averaged
    assert ("f1", "urban") not in per_class
    assert overall["f1_macro"] == pytest.approx(1 / 3)
    assert overall["iou_mean"] == pytest.approx(0.25)


def test_out_of_range_mask_values_are_ignored():
    mask = np.array([[[0, 1], [255, -1]]], dtype=np.int64)
    attributions = np.zeros((1, 3, 2, 2), dtype=np.float32)
    attributions[0, 0, 0, 0] = attributions[0, 1, 0, 1] = 1.0
    overall, _ = _evaluate(attributions, mask)
    assert overall["accuracy"] == pytest.approx(1.0)


def test_requires_mask_and_prefers_high_values():
    assert SegmentationAgreement.requires == frozenset({"mask"})
    assert SegmentationAgreement.higher_is_better is True


def test_scores_equal_sklearn_on_every_pixel():
    from sklearn.metrics import accuracy_score, f1_score, jaccard_score

    rng = np.random.default_rng(2)
    attributions = rng.normal(size=(3, 3, 6, 6)).astype(np.float32)
    mask = rng.integers(0, 2, (3, 6, 6))  # class 2 only ever predicted: scores 0, counted
    overall, per_class = _evaluate(attributions, mask)

    truth, pred = mask.ravel(), attributions.argmax(axis=1).ravel()
    assert overall["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert overall["f1_macro"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert overall["iou_mean"] == pytest.approx(jaccard_score(truth, pred, average="macro"))
    assert per_class["f1", "urban"] == 0.0
    assert per_class["iou", "forest"] == pytest.approx(jaccard_score(truth, pred, average=None)[1])
