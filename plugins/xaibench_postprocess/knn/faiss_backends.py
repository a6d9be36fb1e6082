"""faiss backends: exact flat indexes, and IVF / HNSW approximations of them."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xaibench.components import Params

from .base import KnnBackend


def _faiss_missing() -> str | None:
    try:
        import faiss  # noqa: F401
    except ImportError as exc:
        return f"faiss is not installed ({exc}); pip install faiss-cpu"
    return None


class FaissFlat(KnnBackend):
    """Exact search: ``IndexFlatIP`` on unit vectors for cosine, ``IndexFlatL2`` for euclidean."""

    name: ClassVar[str] = "faiss"
    exact: ClassVar[bool] = True

    def __init__(self, params: Any = None, **options: Any) -> None:
        super().__init__(params, **options)
        self._index: Any = None

    def available(self) -> str | None:
        return _faiss_missing()

    def _build(self, dim: int, inner_product: bool) -> Any:
        import faiss

        return faiss.IndexFlatIP(dim) if inner_product else faiss.IndexFlatL2(dim)

    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        index = self._build(train.shape[1], inner_product)
        if not index.is_trained:
            index.train(train)
        index.add(train)
        self._index = index

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        _, labels = self._index.search(queries, k)
        return labels

    def _release(self) -> None:
        self._index = None


class FaissIVF(FaissFlat):
    """Approximate: inverted lists (``IndexIVFFlat``), ``nlist`` k-means cells, ``nprobe`` visited.

    ``nlist`` shrinks to ``M // 39`` when there are too few train vectors to fit it
    (faiss wants at least 39 per cell).  Queries for which the visited cells hold
    fewer than ``k`` vectors (faiss pads with ``-1``) are answered by exact search,
    so every returned index is valid.
    """

    name: ClassVar[str] = "faiss-ivf"
    exact: ClassVar[bool] = False

    class Params(Params):
        nlist: int = 512
        nprobe: int = 32

    def __init__(self, params: Any = None, **options: Any) -> None:
        super().__init__(params, **options)
        self.nlist, self.nprobe = self.params.nlist, self.params.nprobe
        self._exact: FaissFlat | None = None

    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        import faiss

        nlist = max(1, min(self.nlist, train.shape[0] // 39))
        metric = faiss.METRIC_INNER_PRODUCT if inner_product else faiss.METRIC_L2
        quantizer = faiss.IndexFlatIP(train.shape[1]) if inner_product else faiss.IndexFlatL2(train.shape[1])
        index = faiss.IndexIVFFlat(quantizer, train.shape[1], nlist, metric)
        index.train(train)
        index.add(train)
        index.nprobe = min(self.nprobe, nlist)
        self._index = index
        self._exact = None

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        labels = super()._search(queries, k)
        short = np.flatnonzero((labels < 0).any(axis=1))
        if short.size:
            if self._exact is None:
                self._exact = FaissFlat()
                self._exact._prepare(self._fitted, self._metric == "cosine")
            labels[short] = self._exact._search(np.ascontiguousarray(queries[short]), k)
        return labels

    def _release(self) -> None:
        super()._release()
        self._exact = None

    def __repr__(self) -> str:
        return f"FaissIVF(nlist={self.nlist}, nprobe={self.nprobe})"


class FaissHNSW(FaissFlat):
    """Approximate: a navigable small-world graph (``IndexHNSWFlat``) with ``m`` links per node.

    ``ef_search`` (candidate list length) defaults to ``max(2 * k, 64)`` and is
    raised to ``k`` if smaller, so that the search can return ``k`` neighbours.
    Graph construction is multithreaded, so results may vary slightly with the
    thread count.
    """

    name: ClassVar[str] = "faiss-hnsw"
    exact: ClassVar[bool] = False

    class Params(Params):
        m: int = 32
        ef_construction: int = 64
        ef_search: int | None = None

    def __init__(self, params: Any = None, **options: Any) -> None:
        super().__init__(params, **options)
        self.m, self.ef_construction, self.ef_search = self.params.m, self.params.ef_construction, self.params.ef_search

    def _build(self, dim: int, inner_product: bool) -> Any:
        import faiss

        metric = faiss.METRIC_INNER_PRODUCT if inner_product else faiss.METRIC_L2
        index = faiss.IndexHNSWFlat(dim, self.m, metric)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        ef = self.ef_search if self.ef_search is not None else max(2 * k, 64)
        self._index.hnsw.efSearch = max(ef, k)
        labels = super()._search(queries, k)
        if (labels < 0).any():
            raise RuntimeError(f"HNSW returned fewer than k={k} neighbours; raise ef_search")
        return labels

    def __repr__(self) -> str:
        return f"FaissHNSW(m={self.m}, ef_construction={self.ef_construction}, ef_search={self.ef_search})"
