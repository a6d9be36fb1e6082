"""How far an approximate kNN backend is from exact search, on neighbours and on harmonized values."""

from __future__ import annotations

import numpy as np

from .ops import neighbour_mean, take_rows


def recall_at_k(exact: np.ndarray, approx: np.ndarray) -> float:
    """Mean fraction of each query's exact ``k`` neighbours that ``approx`` also returned.

    ``exact``, ``approx``: ``(Q, k)`` indices.  1.0 means identical neighbour sets.
    """
    if exact.shape != approx.shape:
        raise ValueError(f"shapes differ: exact {exact.shape}, approx {approx.shape}")
    q, k = exact.shape
    if q == 0:
        return 1.0
    # Sort each row once, then membership of approx in exact by binary search per row:
    # offsets by row make one flat searchsorted do every row at once.
    span = int(max(exact.max(), approx.max())) + 1
    offsets = np.arange(q, dtype=np.int64)[:, None] * span
    ex = np.sort(exact.astype(np.int64) + offsets, axis=1).ravel()
    ap = (approx.astype(np.int64) + offsets).ravel()
    pos = np.clip(np.searchsorted(ex, ap), 0, ex.size - 1)
    return float((ex[pos] == ap).sum() / (q * k))


def averaged_error(values: np.ndarray, exact: np.ndarray, approx: np.ndarray) -> dict[str, float]:
    """Error of the neighbour-averaged values (harmonization's output) using ``approx`` instead of ``exact``.

    ``values``: ``(M, P)`` per-train-vector values (attribution vectors);
    ``exact``/``approx``: ``(Q, k)`` neighbour indices.  Returns ``max_abs`` (largest
    absolute difference) and ``rel_l2`` (``|approx - exact|_2 / |exact|_2``).
    """
    ref = neighbour_mean(take_rows(values), exact, values.shape[1], np.float64)
    got = neighbour_mean(take_rows(values), approx, values.shape[1], np.float64)
    diff = got - ref
    norm = float(np.linalg.norm(ref))
    return {
        "max_abs": float(np.abs(diff).max()) if diff.size else 0.0,
        "rel_l2": float(np.linalg.norm(diff) / norm) if norm > 0 else 0.0,
    }
