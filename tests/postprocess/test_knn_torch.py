"""The torch kNN backend's device-resident path gives exactly what the host path of main at 2c0e776 gave.

``legacy_search`` is a frozen copy of that algorithm (chunked ``mm``/``addmm`` + ``topk`` in torch,
every chunk copied to the host, float64 re-scoring of the ``k + 16`` candidates in NumPy).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaibench_postprocess.knn import KnnBackend, TorchBrute, l2_normalise, torch_backend
from xaibench_postprocess.knn.torch_backend import CPU_MAX_ROWS, rescore_torch

MARGIN = 16


def legacy_rescore(train, queries, candidates, k, inner_product):
    out = np.empty((candidates.shape[0], k), dtype=np.int64)
    step = max(1, 64 * 2**20 // max(1, candidates.shape[1] * train.shape[1] * 8))
    for start in range(0, candidates.shape[0], step):
        cand = candidates[start : start + step].astype(np.int64, copy=False)
        vecs = train[cand].astype(np.float64)
        q = queries[start : start + step].astype(np.float64)
        if inner_product:
            score = np.einsum("rcd,rd->rc", vecs, q)
        else:
            score = -np.square(vecs - q[:, None, :]).sum(axis=2)
        order = np.lexsort((cand, -score), axis=1)[:, :k]
        out[start : start + step] = np.take_along_axis(cand, order, axis=1)
    return out


def legacy_search(train, queries, k, metric, rows=1024):
    inner_product = metric == "cosine"
    if inner_product:
        train, queries = l2_normalise(train), l2_normalise(queries)
    train, queries = np.ascontiguousarray(train, np.float32), np.ascontiguousarray(queries, np.float32)
    vectors = torch.from_numpy(train)
    bias = None if inner_product else -(vectors * vectors).sum(dim=1, keepdim=True).T
    fetch = min(k + MARGIN, train.shape[0])
    cand = np.empty((queries.shape[0], fetch), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, queries.shape[0], rows):
            q = torch.from_numpy(queries[start : start + rows])
            scores = q @ vectors.T if bias is None else torch.addmm(bias, q, vectors.T, beta=1.0, alpha=2.0)
            cand[start : start + q.shape[0]] = torch.topk(scores, fetch, dim=1, largest=True, sorted=True).indices
    return legacy_rescore(train, queries, cand, k, inner_product)


def tied_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Small integer vectors: many exact ties in both metrics, duplicates, and a zero query."""
    rng = np.random.default_rng(seed)
    train = rng.integers(-2, 3, size=(700, 5)).astype(np.float32)
    train[rng.integers(0, 700, 50)] = train[:50]  # exact duplicates at higher indices
    queries = rng.integers(-2, 3, size=(90, 5)).astype(np.float32)
    queries[0] = 0.0
    return train, queries


def smooth_data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2000, 33), dtype=np.float32), rng.standard_normal((150, 33), dtype=np.float32)


@pytest.mark.parametrize("options", [{}, {"scratch_mb": 0}, {"max_rows": 7}], ids=["default", "one-row", "7-rows"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("make", [tied_data, smooth_data], ids=["ties", "gaussian"])
def test_cpu_results_equal_the_frozen_host_algorithm(make, metric, options):
    train, queries = make()
    for k in (1, 10, 40):
        got = TorchBrute(device="cpu", **options).search(train, queries, k, metric)
        np.testing.assert_array_equal(got, legacy_search(train, queries, k, metric), err_msg=f"k={k}")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_the_gpu_branch_run_on_cpu_equals_the_frozen_algorithm(metric, monkeypatch):
    """What CUDA runs (torch re-scoring from a float64 copy of the train matrix), here on CPU."""
    monkeypatch.setattr(torch_backend, "NUMPY_RESCORE", ())
    for make in (tied_data, smooth_data):
        train, queries = make()
        backend = TorchBrute(device="cpu", max_rows=13)
        np.testing.assert_array_equal(backend.search(train, queries, 20, metric), legacy_search(train, queries, 20, metric))


@pytest.mark.parametrize("inner_product", [True, False])
def test_rescore_torch_equals_the_numpy_rescore_with_ties(inner_product):
    train, queries = tied_data(3)
    rng = np.random.default_rng(5)
    cand = np.stack([rng.permutation(train.shape[0])[:30] for _ in range(queries.shape[0])])
    want = legacy_rescore(train, queries, cand, 12, inner_product)
    for chunk_rows in (None, 1, 7):
        got = rescore_torch(torch.from_numpy(train), torch.from_numpy(queries), torch.from_numpy(cand), 12,
                            inner_product, chunk_rows)
        assert got.dtype == torch.int64
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"chunk_rows={chunk_rows}")


def test_rescore_torch_orders_a_known_answer():
    train = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [1.0, 0.0]])
    query = torch.tensor([[1.0, 0.0]])
    cand = torch.tensor([[4, 0, 2, 3, 1]])
    # 1 and 4 tie exactly (same vector): the lower index first
    assert rescore_torch(train, query, cand, 4, inner_product=True).tolist() == [[1, 4, 3, 2]]
    assert rescore_torch(train, query, cand, 2, inner_product=False).tolist() == [[1, 4]]


def test_device_path_equals_the_base_host_path():
    """The override of ``_query`` returns what the base's ``_search`` + NumPy ``rescore`` returns."""
    train, queries = tied_data(7)
    backend = TorchBrute(device="cpu", max_rows=5)
    backend.fit(train, "euclidean")
    q = np.ascontiguousarray(queries, np.float32)
    for k in (3, 25):
        fetch = k + backend.refine_margin
        np.testing.assert_array_equal(backend._query(q, fetch, k, False), KnnBackend._query(backend, q, fetch, k, False))
    backend.release()


def test_cpu_chunk_sizes_are_unchanged():
    backend = TorchBrute(device="cpu")
    backend.fit(np.ones((100_000, 4), np.float32), "cosine")
    assert backend.rows_per_chunk(116) == 256 * 2**20 // (4 * 100_000)  # 671, as scratch_mb=256 gave
    backend._vectors = backend._vectors[:1000]
    assert backend.rows_per_chunk(116) == CPU_MAX_ROWS
    small = TorchBrute(device="cpu", scratch_mb=1, max_rows=3)
    small.fit(np.ones((10, 2), np.float32))
    assert small.rows_per_chunk(5) == 3


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_cuda_equals_cpu_exactly_ties_included(metric):
    for make in (tied_data, smooth_data):
        train, queries = make()
        cpu = TorchBrute(device="cpu").search(train, queries, 20, metric)
        gpu = TorchBrute(device="cuda").search(train, queries, 20, metric)
        np.testing.assert_array_equal(gpu, cpu)
        # several chunks on the device: same answer
        np.testing.assert_array_equal(TorchBrute(device="cuda", max_rows=8).search(train, queries, 20, metric), cpu)


@needs_cuda
def test_cuda_chunks_are_sized_from_free_device_memory():
    backend = TorchBrute(device="cuda")
    backend.fit(np.ones((100_000, 128), np.float32), "cosine")
    assert backend.rows_per_chunk(116) > CPU_MAX_ROWS  # not the CPU's 671 rows
    backend.release()


def test_rescore_torch_from_a_float64_train_copy_is_the_same():
    train, queries = smooth_data(2)
    cand = torch.from_numpy(np.stack([np.random.default_rng(i).permutation(2000)[:40] for i in range(150)]))
    t, q = torch.from_numpy(train), torch.from_numpy(queries)
    for inner_product in (True, False):
        assert torch.equal(rescore_torch(t.double(), q, cand, 10, inner_product),
                           rescore_torch(t, q, cand, 10, inner_product))
