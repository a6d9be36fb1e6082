"""kNN backends: nearest-neighbour search for feature-space post-processors (harmonization)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .base import Component

if TYPE_CHECKING:
    import numpy as np


class KnnBackend(Component):
    """Finds, for each query vector, the ``k`` nearest rows of a train matrix.

    ``exact`` says whether results are the true neighbours (ties aside);
    :meth:`available` returns ``None`` when the backend can run on this machine,
    otherwise the reason (no CUDA, library missing), so it can be listed as
    unavailable instead of failing at import.
    """

    kind: ClassVar[str] = "knn_backend"
    exact: ClassVar[bool] = True

    def available(self) -> str | None:
        return None

    def search(self, train: np.ndarray, queries: np.ndarray, k: int, metric: str = "cosine") -> np.ndarray:
        """``train`` ``(M, D)``, ``queries`` ``(Q, D)`` float32; ``metric`` ``"cosine"`` or
        ``"euclidean"``.  Returns ``(Q, k)`` int64 indices into ``train``, nearest first."""
        raise NotImplementedError
