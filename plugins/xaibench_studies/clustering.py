"""CSP's clustering step: soft-DTW k-means of time series with K chosen by the GoodnessScore.

Imports tslearn (and numba through it): import this module inside ``evaluate`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clustering:
    """The chosen clustering of one variable: ``k``, ``labels (N,)`` int64, ``centroids (k, T)``,
    ``goodness`` of the chosen K and ``scores`` (K -> GoodnessScore) of every K tried."""

    k: int
    labels: np.ndarray
    centroids: np.ndarray
    goodness: float
    scores: dict[int, float]


def resample(series: np.ndarray, step: int) -> np.ndarray:
    """Mean of each run of ``step`` values along the last axis (a trailing partial run is dropped)."""
    if step <= 1:
        return series
    t = series.shape[-1] // step * step
    return series[..., :t].reshape(*series.shape[:-1], -1, step).mean(axis=-1)


def _dtw_to(centroid: np.ndarray, series: np.ndarray) -> np.ndarray:
    from tslearn.metrics import dtw

    return np.array([dtw(centroid, s) for s in series])


def intra_cluster_score(series: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    """Eq. (6): the cluster-size-weighted mean over clusters of ``mean_j exp(DTW(centroid_i, j))``.

    The paper's "fractional average" read as a per-cluster mean weighted by ``N_i / N``.
    """
    n = len(series)
    total = 0.0
    for i, c in enumerate(centroids):
        members = series[labels == i]
        if len(members):
            total += len(members) / n * float(np.exp(_dtw_to(c, members)).mean())
    return total


def inter_centroid_score(centroids: np.ndarray, threshold: float) -> float:
    """Eq. (7): ``(P - S**2) / P`` with ``P = K (K-1) / 2`` centroid pairs, ``S`` of them closer than
    ``threshold`` in DTW (negative when many centroids are alike)."""
    from tslearn.metrics import dtw

    k = len(centroids)
    pairs = k * (k - 1) / 2
    similar = sum(dtw(centroids[i], centroids[j]) < threshold for i in range(k) for j in range(i + 1, k))
    return (pairs - similar**2) / pairs


def cluster_series(series: np.ndarray, ks: range, threshold: float, seed: int, max_iter: int = 10,
                   gamma: float = 1.0) -> Clustering:
    """Soft-DTW k-means of ``series (N, T)`` for each K in ``ks`` (capped at ``N - 1``); the K with the
    highest ``GoodnessScore = interCentroidScore / intraClusterScore`` (ties: the smallest K)."""
    from tslearn.clustering import TimeSeriesKMeans

    series = np.asarray(series, dtype=np.float64)
    best: Clustering | None = None
    scores: dict[int, float] = {}
    fits = {}
    for k in ks:
        if k < 2 or k >= len(series):
            continue
        km = TimeSeriesKMeans(n_clusters=k, metric="softdtw", metric_params={"gamma": gamma}, max_iter=max_iter,
                              random_state=seed, n_init=1)
        labels = km.fit_predict(series[:, :, None]).astype(np.int64)
        centroids = km.cluster_centers_[:, :, 0]
        scores[k] = inter_centroid_score(centroids, threshold) / intra_cluster_score(series, labels, centroids)
        fits[k] = (labels, centroids)
        if best is None or scores[k] > best.goodness:
            best = Clustering(k, labels, centroids, scores[k], {})
    if best is None:
        raise ValueError(f"cannot cluster {len(series)} series into K in {list(ks)} (needs K < N)")
    return Clustering(best.k, best.labels, best.centroids, best.goodness, scores)


def segments(labels: dict[str, np.ndarray]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Weather segments: samples sharing the tuple of cluster indices over the variables.

    Returns ``segment (N,)`` int64 and the tuple of each segment, segments sorted by
    tuple (lexicographic), so the numbering is deterministic.
    """
    stacked = np.stack(list(labels.values()), axis=1)
    tuples, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), [tuple(int(v) for v in t) for t in tuples]
