"""Exact kNN on GPU with RAPIDS cuML; importable everywhere, usable only with RAPIDS and CUDA."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import KnnBackend


class CumlBrute(KnnBackend):
    """Exact search with ``cuml.neighbors.NearestNeighbors(algorithm="brute")`` on the GPU.

    Cosine arrives as euclidean on unit vectors (same ranking), so the inputs are
    those every other backend sees.
    """

    name: ClassVar[str] = "cuml"
    exact: ClassVar[bool] = True

    def __init__(self, params: Any = None, **options: Any) -> None:
        super().__init__(params, **options)
        self._nn: Any = None

    def available(self) -> str | None:
        try:
            import cuml  # noqa: F401
            import cupy
        except ImportError as exc:
            return f"RAPIDS cuML is not installed ({exc}); it needs a CUDA GPU and the rapids packages"
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                return "cuML is installed but no CUDA device is visible"
        except Exception as exc:  # cupy raises CUDARuntimeError without a driver
            return f"cuML is installed but CUDA is unusable ({exc})"
        return None

    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        from cuml.neighbors import NearestNeighbors

        self._nn = NearestNeighbors(algorithm="brute", metric="euclidean", output_type="numpy").fit(train)

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        idx = self._nn.kneighbors(queries, n_neighbors=k, return_distance=False)
        return np.asarray(idx, dtype=np.int64)

    def _release(self) -> None:
        self._nn = None
