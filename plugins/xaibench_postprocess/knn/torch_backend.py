"""Exact brute-force kNN in torch: blocked matrix product + ``topk``, on CPU or CUDA."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xaibench.components import Params

from .base import KnnBackend


class TorchBrute(KnnBackend):
    """Exact search by scoring every train vector: ``q @ train.T`` then ``topk``.

    Cosine ranks by inner product of unit vectors; euclidean by
    ``2 q.t - |t|^2`` (``|q|^2`` is constant per query), the expansion faiss uses too.
    ``device``: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:1"``...
    ``scratch_mb`` bounds the ``(rows, M)`` float32 score block; it is allocated once
    and reused, because allocating (and page-faulting) a fresh 100 MB block per
    chunk costs as much as the product itself on CPU.
    """

    name: ClassVar[str] = "torch"
    exact: ClassVar[bool] = True

    class Params(Params):
        device: str = "auto"
        scratch_mb: int = 256
        max_rows: int = 1024

    def __init__(self, params: Params | None = None, **options: Any) -> None:
        super().__init__(params, **options)
        self.device, self.scratch_mb, self.max_rows = self.params.device, self.params.scratch_mb, self.params.max_rows
        self._vectors: Any = None
        self._bias: Any = None
        self._scores: Any = None

    def available(self) -> str | None:
        try:
            import torch
        except ImportError as exc:
            return f"torch is not installed ({exc})"
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            return "device 'cuda' requested but torch sees no CUDA device"
        return None

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _prepare(self, train: np.ndarray, inner_product: bool) -> None:
        import torch

        device = torch.device(self.resolved_device())
        self._vectors = torch.from_numpy(train).to(device)
        self._bias = None if inner_product else -(self._vectors * self._vectors).sum(dim=1, keepdim=True).T
        m = train.shape[0]
        rows = max(1, min(self.max_rows, self.scratch_mb * 2**20 // (4 * m)))
        self._scores = torch.empty((rows, m), dtype=torch.float32, device=device)

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        import torch

        out = np.empty((queries.shape[0], k), dtype=np.int64)
        rows = self._scores.shape[0]
        previous = torch.get_float32_matmul_precision()
        # TF32 (allowed by some user settings on CUDA) would reorder near neighbours.
        torch.set_float32_matmul_precision("highest")
        try:
            with torch.no_grad():
                for start in range(0, queries.shape[0], rows):
                    q = torch.from_numpy(queries[start : start + rows]).to(self._vectors.device)
                    scores = self._scores[: q.shape[0]]
                    if self._bias is None:
                        torch.mm(q, self._vectors.T, out=scores)
                    else:
                        torch.addmm(self._bias, q, self._vectors.T, beta=1.0, alpha=2.0, out=scores)
                    idx = torch.topk(scores, k, dim=1, largest=True, sorted=True).indices
                    out[start : start + q.shape[0]] = idx.cpu().numpy()
        finally:
            torch.set_float32_matmul_precision(previous)
        return out

    def _release(self) -> None:
        self._vectors = self._bias = self._scores = None

    def __repr__(self) -> str:
        return f"TorchBrute(device={self.device!r})"
