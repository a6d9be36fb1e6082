"""Array operations of harmonization: subset sampling and neighbour averaging (numpy only)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xaibench.arrays import seeded_subset

# Working memory of one neighbour-averaging chunk: (rows, k, width) float values.
CHUNK_BYTES = 64 * 2**20


sample_subset = seeded_subset
"""The train positions harmonization searches: the engine's draw (:func:`xaibench.arrays.seeded_subset`)."""


def neighbour_mean(
    rows: Callable[[np.ndarray], np.ndarray],
    neighbors: np.ndarray,
    width: int,
    dtype: np.dtype | type = np.float32,
    chunk_bytes: int = CHUNK_BYTES,
) -> np.ndarray:
    """Mean of the neighbours' values for every query: ``(Q, width)`` of ``dtype``.

    ``neighbors``: ``(Q, k)`` integer indices; ``rows(idx)`` returns the values of
    the items ``idx`` (any integer array) with shape ``(*idx.shape, width)``.
    Processed in chunks of queries so that the gathered ``(chunk, k, width)``
    block stays under ``chunk_bytes``; sums are accumulated in float64.
    """
    q, k = neighbors.shape
    out = np.empty((q, width), dtype=dtype)
    step = max(1, chunk_bytes // max(1, k * width * 8))
    for start in range(0, q, step):
        block = rows(neighbors[start : start + step])
        out[start : start + block.shape[0]] = block.mean(axis=1, dtype=np.float64)
    return out


def take_rows(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The ``rows`` callable of :func:`neighbour_mean` for a plain ``(M, width)`` matrix."""
    return lambda idx: values[idx]
