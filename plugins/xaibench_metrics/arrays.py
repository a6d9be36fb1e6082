"""Numpy helpers shared by the metrics: reshaping attributions and chunked Pearson correlation."""

from __future__ import annotations

from typing import Any

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


def pearson_pairs(arrays: dict[str, Any], pairs: list[tuple[str, str]], rows: int) -> dict[tuple[str, str], float]:
    """Pearson correlation of each pair of ``arrays`` over all their values, a chunk of ``rows``
    samples at a time (the arrays may be lazy: :class:`xaibench.arrays.LazyArray`).

    The same two passes in float64 as :func:`pearson` (means, then centred products), so the
    value equals the whole-array one up to summation order.  A pair whose arrays differ in
    dimension (per-channel maps against channel-summed ones) is compared through the sums
    over the channel axis, as :func:`pearson` is called on :func:`channel_summed` arrays.
    """
    from xaibench.arrays import iter_chunks

    summed = {name for a, b in pairs if arrays[a].ndim != arrays[b].ndim for name in (a, b)}

    def views(name: str, block: np.ndarray) -> dict[str, np.ndarray]:
        out = {"raw": block.reshape(-1)}
        if name in summed:
            out["summed"] = channel_summed(block).reshape(-1)
        return out

    def key(a: str, b: str) -> str:
        return "summed" if a in summed and arrays[a].ndim != arrays[b].ndim else "raw"

    names = sorted({n for p in pairs for n in p})
    for a, b in pairs:
        same = arrays[a].shape == arrays[b].shape
        if key(a, b) == "raw" and not same or len({len(arrays[a]), len(arrays[b])}) > 1:
            raise ValueError(f"cannot correlate arrays of shapes {arrays[a].shape} and {arrays[b].shape}")

    def blocks():  # the same rows of every array, a chunk at a time
        iters = [iter_chunks(arrays[n], rows) for n in names]
        for parts in zip(*iters):
            yield {n: views(n, np.asarray(block)) for n, (_, block) in zip(names, parts)}

    sums: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    for chunk in blocks():
        for n, v in chunk.items():
            for kind, flat in v.items():
                sums[n, kind] = sums.get((n, kind), 0.0) + float(flat.sum(dtype=np.float64))
                counts[n, kind] = counts.get((n, kind), 0) + flat.size
    means = {k: sums[k] / counts[k] if counts[k] else float("nan") for k in sums}
    acc = {pair: [0.0, 0.0, 0.0] for pair in pairs}
    for chunk in blocks():
        centred = {(n, kind): flat.astype(np.float64) - means[n, kind] for n, v in chunk.items() for kind, flat in v.items()}
        for (a, b), s in acc.items():
            kind = key(a, b)
            da, db = centred[a, kind], centred[b, kind]
            s[0] += float(da @ da)
            s[1] += float(db @ db)
            s[2] += float(da @ db)
    out = {}
    for (a, b), (saa, sbb, sab) in acc.items():
        n = counts.get((a, key(a, b)), 0)
        out[a, b] = float("nan") if n == 0 or saa == 0.0 or sbb == 0.0 else float(np.clip(sab / np.sqrt(saa * sbb), -1.0, 1.0))
    return out
