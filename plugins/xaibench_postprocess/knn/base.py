"""The kNN backend interface shared by every implementation.

A backend finds, for each query vector, the ``k`` nearest rows of a train matrix.
Subclasses implement ``_prepare`` (build an index), ``_search`` (query it) and
``_release``, and may override ``_query`` (search and re-score one block, e.g. without leaving a
GPU); the public :meth:`KnnBackend.fit` / :meth:`KnnBackend.query` /
:meth:`KnnBackend.search` validate the inputs, L2-normalise them for the cosine
metric (so every backend sees identical vectors and ranks them identically) and
feed queries in blocks to bound memory.  Backends import their heavy library (faiss, torch, cuML, sklearn)
inside their methods so that listing them stays cheap.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from xaibench.components import KnnBackend as KnnBackendBase
from xaibench.components import Params

Metric = Literal["cosine", "euclidean"]
METRICS: tuple[str, ...] = ("cosine", "euclidean")

# Queries handed to ``_search`` at once: bounds the (block, k) distance/index arrays
# a backend allocates, and its own scratch memory, whatever the number of queries.
QUERY_BLOCK = 65_536
# Working memory of one float64 re-scoring chunk, (rows, candidates, D).
RESCORE_CHUNK_BYTES = 64 * 2**20


class KnnBackendUnavailable(RuntimeError):
    """Raised when a backend is asked to search but cannot run here."""


class KnnBackend(KnnBackendBase):
    """Exact or approximate k-nearest-neighbour search over float32 vectors.

    Class attributes: ``name`` (the registry name, e.g. ``"faiss"``) and ``exact``
    (whether results are the true neighbours, ties aside).

    ``refine_margin``: the backend is asked for ``k + refine_margin`` candidates,
    which are re-scored in float64 and the best ``k`` kept, ties broken by the
    lower index.  float32 scores from different kernels (faiss, BLAS, cuBLAS)
    differ by ~1e-6, enough to swap near-tied k-th neighbours between backends;
    re-scoring makes every exact backend return the same neighbours, in the same
    order, unless more than ``refine_margin`` vectors tie within float32 rounding.
    Set it to 0 on an instance to get the backend's raw answer.
    """

    name: ClassVar[str] = ""
    exact: ClassVar[bool] = True
    refine_margin: int = 16

    def __init__(self, params: Params | None = None, **options: Any) -> None:
        """``params`` (a :attr:`Params`, as the catalog passes them) or the same as keywords."""
        super().__init__(params if params is not None else self.Params(**options))

    # Set by fit(): the (normalised) train matrix and the metric queries are ranked by.
    _fitted: np.ndarray | None = None
    _metric: Metric = "cosine"

    def available(self) -> str | None:
        """``None`` when the backend can run here, otherwise the reason it cannot."""
        return None

    def search(self, train: np.ndarray, queries: np.ndarray, k: int, metric: Metric = "cosine") -> np.ndarray:
        """Indices of the ``k`` nearest train rows of each query, nearest first.

        ``train``: ``(M, D)``; ``queries``: ``(Q, D)`` (cast to float32);
        ``metric``: ``"cosine"`` (largest cosine similarity; zero vectors are tied
        with everything) or ``"euclidean"``.  Returns ``(Q, k)`` int64 in ``[0, M)``.
        Same as :meth:`fit`, then :meth:`query`, then :meth:`release`.
        """
        self.fit(train, metric)
        try:
            return self.query(queries, k)
        finally:
            self.release()

    def fit(self, train: np.ndarray, metric: Metric = "cosine") -> None:
        """Build the index on ``train`` ``(M, D)``, for queries ranked by ``metric``."""
        reason = self.available()
        if reason is not None:
            raise KnnBackendUnavailable(f"kNN backend {self.name!r} is unavailable: {reason}")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
        train = _as_matrix(train, "train")
        if train.shape[0] == 0:
            raise ValueError("train has no vectors")
        # On unit vectors the largest inner product is the largest cosine.
        train = l2_normalise(train) if metric == "cosine" else train
        self._prepare(train, metric == "cosine")
        self._fitted, self._metric = train, metric

    def query(self, queries: np.ndarray, k: int) -> np.ndarray:
        """``(Q, k)`` int64 indices of the nearest fitted train rows of ``queries`` ``(Q, D)``, nearest first."""
        if self._fitted is None:
            raise RuntimeError(f"kNN backend {self.name!r}: call fit() before query()")
        shape = self._fitted.shape
        queries = _as_matrix(queries, "queries")
        if queries.shape[1] != shape[1]:
            raise ValueError(f"train has {shape[1]} dimensions but queries have {queries.shape[1]}")
        if not 0 < k <= shape[0]:
            raise ValueError(f"k must be in [1, {shape[0]}] (the number of train vectors), got {k}")
        if self._metric == "cosine":
            queries = l2_normalise(queries)
        fetch = min(k + max(0, self.refine_margin), shape[0])
        inner_product = self._metric == "cosine"
        out = np.empty((queries.shape[0], k), dtype=np.int64)
        for start in range(0, queries.shape[0], QUERY_BLOCK):
            block = queries[start : start + QUERY_BLOCK]
            out[start : start + block.shape[0]] = self._query(block, fetch, k, inner_product)
        return out

    def release(self) -> None:
        """Free the index built by :meth:`fit`."""
        self._release()
        self._fitted = None

    # -- what a subclass implements ------------------------------------------
    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        """Build the index on ``train`` ``(M, D)`` float32 C-contiguous.

        ``inner_product``: rank by largest inner product (vectors are unit norm);
        otherwise by smallest L2 distance.
        """
        raise NotImplementedError

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """``(B, k)`` indices into the prepared train rows, nearest first."""
        raise NotImplementedError

    def _query(self, queries: np.ndarray, fetch: int, k: int, inner_product: bool) -> np.ndarray:
        """``(B, k)`` int64 nearest train rows of one block of ``queries`` ``(B, D)``, nearest first.

        ``fetch`` (``>= k``) candidates come from :meth:`_search` and are re-scored in float64 by
        :func:`rescore` when ``refine_margin > 0``.  A backend overrides this to keep the whole
        block on its device; it must return what this default returns.
        """
        candidates = self._search(queries, fetch)
        if self.refine_margin > 0:
            candidates = rescore(self._fitted, queries, candidates, k, inner_product)
        return candidates

    def _release(self) -> None:
        """Drop the index built by :meth:`_prepare`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def rescore(train: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int, inner_product: bool) -> np.ndarray:
    """The best ``k`` of each row of ``candidates`` by float64 score, nearest first, ties to the lower index.

    ``train`` ``(M, D)``, ``queries`` ``(B, D)``, ``candidates`` ``(B, C)`` indices
    into ``train`` with ``C >= k``.  Score: inner product, or minus the squared
    euclidean distance.  Returns ``(B, k)`` int64.
    """
    b, c = candidates.shape
    out = np.empty((b, k), dtype=np.int64)
    step = max(1, RESCORE_CHUNK_BYTES // max(1, c * train.shape[1] * 8))
    for start in range(0, b, step):
        cand = candidates[start : start + step].astype(np.int64, copy=False)
        vecs = train[cand].astype(np.float64)  # (rows, C, D)
        q = queries[start : start + step].astype(np.float64)  # (rows, D)
        if inner_product:
            score = np.einsum("rcd,rd->rc", vecs, q)
        else:
            score = -np.square(vecs - q[:, None, :]).sum(axis=2)
        order = np.lexsort((cand, -score), axis=1)[:, :k]  # primary key: score; then index
        out[start : start + step] = np.take_along_axis(cand, order, axis=1)
    return out


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``(M, D)`` scaled to unit L2 norm (zero rows stay zero); a new float32 array."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.finfo(np.float32).tiny), dtype=np.float32)


def _as_matrix(x: np.ndarray, what: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (vectors, dimensions) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return x
