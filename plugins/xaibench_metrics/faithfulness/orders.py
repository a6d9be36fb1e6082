"""Numpy side of the faithfulness metrics: in which order positions are removed, and how many at
each step.  ``maps`` are ``(m, H, W)`` (one map per row); positions are indexed ``h * W + w``."""

from __future__ import annotations

import numpy as np


def ranks(maps: np.ndarray, most_relevant_first: bool = True) -> np.ndarray:
    """Rank ``(m, H * W)`` int64 of each position in removal order (0 = removed first).

    MoRF (most relevant first) sorts by decreasing value, LeRF by increasing; ties keep position
    order (a stable sort), so a constant map removes positions in raster order.
    """
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat if most_relevant_first else flat, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(flat.shape[1])[None].repeat(len(flat), 0), axis=1)
    return out


def group_ranks(maps: np.ndarray, groups: np.ndarray, reduce: str = "sum") -> np.ndarray:
    """Rank ``(m, H * W)`` of each position's group (patch or segment) in MoRF order of the groups'
    ``reduce`` (``sum`` or ``mean``) of the map.  ``groups`` ``(m, H, W)`` or ``(H, W)``: labels
    ``0..G-1``; every position of a group shares the group's rank."""
    m = len(maps)
    flat = maps.reshape(m, -1)
    labels = np.broadcast_to(groups.reshape(-1, flat.shape[1]), flat.shape)
    n_groups = int(labels.max()) + 1
    sums = np.zeros((m, n_groups))
    np.add.at(sums, (np.arange(m)[:, None].repeat(flat.shape[1], 1), labels), flat)
    if reduce == "mean":
        counts = np.zeros((m, n_groups))
        np.add.at(counts, (np.arange(m)[:, None].repeat(flat.shape[1], 1), labels), 1.0)
        sums = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)  # absent labels go last
    group_rank = ranks(sums[:, None, :])
    return np.take_along_axis(group_rank, labels, axis=1)


def patches(height: int, width: int, size: int) -> np.ndarray:
    """Labels ``(H, W)`` of a grid of non-overlapping ``size x size`` patches in raster order (edge
    patches are cut by the border, as Quantus' padded ones are)."""
    rows = np.arange(height) // size
    cols = np.arange(width) // size
    return rows[:, None] * (-(-width // size)) + cols[None, :]


def counts(positions: int, fraction: float) -> np.ndarray:
    """Positions removed after each step: ``0, k, 2k, ..., positions`` with ``k = ceil(fraction *
    positions)`` (at least 1); the first step is the unperturbed input."""
    k = max(1, int(np.ceil(fraction * positions - 1e-9)))
    return np.unique(np.minimum(np.arange(0, positions + k, k), positions))


def cumulative(rank: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Masks ``(m, S, P)``: position removed at step ``s`` when its rank is below ``steps[s]``."""
    return rank[:, None, :] < np.asarray(steps)[None, :, None]


def auc(curve: np.ndarray, steps: np.ndarray, positions: int) -> np.ndarray:
    """Trapezoidal area under ``curve`` ``(..., S)`` over the removed fraction ``steps / positions``
    in [0, 1]: the mean height of the curve."""
    return np.trapezoid(curve, x=np.asarray(steps) / positions, axis=-1)


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``a[i]`` and ``b[i]`` (``(m, S)`` each) per row; NaN when a row is
    constant (as ``scipy.stats.pearsonr``, which Quantus uses)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, np.nan)
