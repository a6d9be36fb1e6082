"""Reference exact kNN: scikit-learn's brute-force ``NearestNeighbors`` (for tests)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .base import KnnBackend


class SklearnBrute(KnnBackend):
    """Exact search with ``sklearn.neighbors.NearestNeighbors(algorithm="brute")``.

    Slow but independent of faiss and torch, so it is the reference the other
    exact backends are checked against.  Cosine arrives here as euclidean on unit
    vectors, which ranks identically.
    """

    name: ClassVar[str] = "sklearn"
    exact: ClassVar[bool] = True

    def __init__(self, params: Any = None, **options: Any) -> None:
        super().__init__(params, **options)
        self._nn: Any = None

    def available(self) -> str | None:
        try:
            import sklearn.neighbors  # noqa: F401
        except ImportError as exc:
            return f"scikit-learn is not installed ({exc})"
        return None

    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        from sklearn.neighbors import NearestNeighbors

        self._nn = NearestNeighbors(algorithm="brute", metric="euclidean").fit(train)

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self._nn.kneighbors(queries, n_neighbors=k, return_distance=False).astype(np.int64, copy=False)

    def _release(self) -> None:
        self._nn = None
