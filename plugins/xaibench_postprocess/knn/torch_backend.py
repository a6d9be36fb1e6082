"""Exact brute-force kNN in torch: blocked matrix product + ``topk`` + float64 re-scoring, on CPU or CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from xaibench.components import Params

from .base import KnnBackend, rescore

CPU_SCRATCH_MB = 256
"""Default bound of the ``(rows, M)`` float32 score block on CPU."""
CPU_MAX_ROWS = 1024
"""Default cap of the query rows scored at once on CPU."""
NUMPY_RESCORE = ("cpu",)
"""Device types whose candidates are re-scored by NumPy's :func:`.base.rescore`: on CPU its gather
and einsum ran 4-10x faster than torch's (2 threads, D = 16 to 512)."""
DEVICE_FRACTION = 0.5
"""Share of the GPU's free memory (torch's cached blocks included) one chunk of work may use."""
DEVICE_CAP_BYTES = 4 * 2**30
"""... and at most this much: 4 GiB already gives matrix products of thousands of rows, which keep
a GPU busy, and leaves the rest of the device to whatever else the process runs."""


class TorchBrute(KnnBackend):
    """Exact search by scoring every train vector: ``q @ train.T`` then ``topk``.

    Cosine ranks by inner product of unit vectors; euclidean by
    ``2 q.t - |t|^2`` (``|q|^2`` is constant per query), the expansion faiss uses too.
    ``device``: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:1"``...

    A block of queries goes to the device once; every chunk of it is scored, ``topk``-ed and
    re-scored in float64 there (:func:`rescore_torch`; on CPU NumPy's :func:`.base.rescore`, which
    is faster there), into one device result that comes back once: no host synchronisation per
    chunk.  Chunk sizes:

    - CPU: ``scratch_mb`` (default 256) bounds the ``(rows, M)`` float32 score block, at most
      ``max_rows`` (default 1024) rows; the block is allocated once and reused, because allocating
      (and page-faulting) a fresh 100 MB block per chunk costs as much as the product itself;
    - CUDA: a chunk's score block, ``topk`` and re-scoring together use ``scratch_mb`` when given,
      else :data:`DEVICE_FRACTION` of the device's free memory, at most :data:`DEVICE_CAP_BYTES`.
    """

    name: ClassVar[str] = "torch"
    exact: ClassVar[bool] = True

    class Params(Params):
        device: str = "auto"
        scratch_mb: int | None = None
        max_rows: int | None = None

    def __init__(self, params: Params | None = None, **options: Any) -> None:
        super().__init__(params, **options)
        self.device, self.scratch_mb, self.max_rows = self.params.device, self.params.scratch_mb, self.params.max_rows
        self._vectors: Any = None
        self._bias: Any = None
        self._scores: Any = None
        self._vectors64: Any = None  # float64 copy of the train matrix for re-scoring on a GPU

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
        self._scores = self._vectors64 = None

    def rows_per_chunk(self, fetch: int) -> int:
        """Query rows scored at once when ``fetch`` candidates per query are kept (see the class doc)."""
        m, d = self._vectors.shape
        if self._vectors.device.type == "cpu":
            scratch = (CPU_SCRATCH_MB if self.scratch_mb is None else self.scratch_mb) * 2**20
            cap = CPU_MAX_ROWS if self.max_rows is None else self.max_rows
            return max(1, min(cap, scratch // (4 * m)))
        if self.scratch_mb is None:
            budget = min(DEVICE_CAP_BYTES, int(DEVICE_FRACTION * device_free_bytes(self._vectors.device)))
        else:
            budget = self.scratch_mb * 2**20
        # scores, topk values and indices, the float64 gather (twice: a margin for the sum), the result
        per_row = 4 * m + 12 * fetch + 16 * fetch * d + 8 * fetch
        rows = max(1, budget // per_row)
        return rows if self.max_rows is None else max(1, min(rows, self.max_rows))

    def _search(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self._run(queries, k, None)

    def _query(self, queries: np.ndarray, fetch: int, k: int, inner_product: bool) -> np.ndarray:
        return self._run(queries, fetch, k if self.refine_margin > 0 else None)

    def _run(self, queries: np.ndarray, fetch: int, keep: int | None) -> np.ndarray:
        """``(B, fetch)`` candidates by float32 score, or, with ``keep``, the best ``keep`` of them
        after float64 re-scoring; computed on the device, copied to the host once."""
        import torch

        device = self._vectors.device
        rows = self.rows_per_chunk(fetch)
        if self._scores is None or self._scores.shape[0] < rows:
            self._scores = torch.empty((rows, self._vectors.shape[0]), dtype=torch.float32, device=device)
        inner_product = self._bias is None
        with torch.no_grad(), _highest_matmul_precision():
            q_all = torch.from_numpy(queries).to(device)
            out = torch.empty((q_all.shape[0], fetch if keep is None else keep), dtype=torch.int64, device=device)
            for start in range(0, q_all.shape[0], rows):
                q = q_all[start : start + rows]
                scores = self._scores[: q.shape[0]]
                if inner_product:
                    torch.mm(q, self._vectors.T, out=scores)
                else:
                    torch.addmm(self._bias, q, self._vectors.T, beta=1.0, alpha=2.0, out=scores)
                idx = torch.topk(scores, fetch, dim=1, largest=True, sorted=True).indices
                if keep is not None and device.type in NUMPY_RESCORE:
                    idx = torch.from_numpy(rescore(self._fitted, queries[start : start + rows], idx.numpy(), keep,
                                                   inner_product))
                elif keep is not None:
                    if self._vectors64 is None:
                        self._vectors64 = self._vectors.double()
                    idx = rescore_torch(self._vectors64, q, idx, keep, inner_product)
                out[start : start + q.shape[0]] = idx
            return out.cpu().numpy()

    def _release(self) -> None:
        self._vectors = self._bias = self._scores = self._vectors64 = None

    def __repr__(self) -> str:
        return f"TorchBrute(device={self.device!r})"


def rescore_torch(train: Any, queries: Any, candidates: Any, k: int, inner_product: bool,
                  chunk_rows: int | None = None) -> Any:
    """:func:`.base.rescore` in torch, on the tensors' device: the best ``k`` of each row of
    ``candidates`` by float64 score, nearest first, ties to the lower index.

    ``train`` ``(M, D)`` float32 or float64 (a float64 copy saves a conversion per candidate),
    ``queries`` ``(B, D)`` float32, ``candidates`` ``(B, C)`` int64 distinct indices per row;
    returns ``(B, k)`` int64 on the same device.  ``chunk_rows`` bounds the ``(rows, C, D)``
    float64 temporary (default: all rows at once).
    """
    import torch

    b = candidates.shape[0]
    step = b if chunk_rows is None else max(1, chunk_rows)
    out = torch.empty((b, k), dtype=torch.int64, device=candidates.device)
    for start in range(0, b, step):
        # Sorted by index first: a stable sort by score then leaves tied scores in index order.
        cand = candidates[start : start + step].sort(dim=1).values
        vecs = train[cand].double()  # (rows, C, D), a new tensor: changed in place below
        q = queries[start : start + step].double()[:, None, :]
        # Elementwise product and sum, not bmm: every row is reduced by the same code, so equal
        # vectors get bit-equal scores (a GEMV kernel may sum remainder rows differently).
        score = vecs.mul_(q).sum(dim=2) if inner_product else -vecs.sub_(q).square_().sum(dim=2)
        # + 0.0 turns -0.0 into +0.0: radix sorts (CUDA) order the two zeros apart.
        order = torch.sort(score + 0.0, dim=1, descending=True, stable=True).indices[:, :k]
        out[start : start + cand.shape[0]] = cand.gather(1, order)
    return out


def device_free_bytes(device: Any) -> int:
    """Free memory of a CUDA ``device``: the driver's free bytes plus torch's cached, unused blocks."""
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


@contextlib.contextmanager
def _highest_matmul_precision() -> Iterator[None]:
    """TF32 (allowed by some user settings on CUDA) would reorder near neighbours."""
    import torch

    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
