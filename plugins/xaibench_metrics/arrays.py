"""Numpy helpers shared by the metrics: reshaping attributions and chunked Pearson correlation."""

from __future__ import annotations

import numpy as np


def channel_summed(attributions: np.ndarray) -> np.ndarray:
    """Spatial maps ``(N, classes, H, W)`` from ``(N, classes, H, W)`` or ``(N, classes, D, H, W)``.

    Methods that keep the layer's channels return the 5-D form; summing over ``D``
    gives the channel-summed map every method returns by default.
    """
    if attributions.ndim == 4:
        return attributions
    if attributions.ndim == 5:
        return attributions.sum(axis=2)
    raise ValueError(f"attributions must be (N, classes, [D,] H, W), got shape {attributions.shape}")


def select_classes(attributions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each sample's map for its target class: ``(N, classes, ...)`` -> ``(N, ...)``.

    ``targets``: ``(N,)`` class indices.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (attributions.shape[0],):
        raise ValueError(f"targets must have shape ({attributions.shape[0]},), got {targets.shape}")
    return attributions[np.arange(attributions.shape[0]), targets]


def pearson(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 22) -> float:
    """Pearson correlation between all values of ``a`` and ``b`` (same shape, any ndim).

    Written out rather than ``np.corrcoef`` because that copies both arrays to one
    float64 ``(2, size)`` matrix: a test set's attributions can be gigabytes.  This
    version works on ``chunk`` values at a time, in float64, in two passes (means,
    then centred products) for accuracy.  Returns NaN when either array is constant,
    where the correlation is undefined.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot correlate arrays of shapes {a.shape} and {b.shape}")
    fa, fb = a.reshape(-1), b.reshape(-1)
    n = fa.size
    if n == 0:
        return float("nan")
    sum_a = sum_b = 0.0
    for start in range(0, n, chunk):
        sum_a += float(fa[start : start + chunk].sum(dtype=np.float64))
        sum_b += float(fb[start : start + chunk].sum(dtype=np.float64))
    mean_a, mean_b = sum_a / n, sum_b / n
    saa = sbb = sab = 0.0
    for start in range(0, n, chunk):
        da = fa[start : start + chunk].astype(np.float64) - mean_a
        db = fb[start : start + chunk].astype(np.float64) - mean_b
        saa += float(da @ da)
        sbb += float(db @ db)
        sab += float(da @ db)
    if saa == 0.0 or sbb == 0.0:
        return float("nan")
    # Clip the rounding error that can push identical arrays a hair above 1.
    return float(np.clip(sab / np.sqrt(saa * sbb), -1.0, 1.0))
