"""kNN backends: exact ones agree with a float64 reference and each other; approximate ones are close."""

from __future__ import annotations

import numpy as np
import pytest

from xaibench.catalog import Catalog
from xaibench.errors import PluginError
from xaibench_postprocess import plugin
from xaibench_postprocess.knn import (
    BUILTIN,
    CumlBrute,
    FaissIVF,
    KnnBackend,
    KnnBackendUnavailable,
    TorchBrute,
    backend_names,
    resolve_auto,
)
from xaibench_postprocess.knn import get_backend as get_from
from xaibench_postprocess.knn.base import rescore
from xaibench_postprocess.ops import neighbour_mean, take_rows
from xaibench_postprocess.quality import averaged_error, recall_at_k

EXACT_HERE = sorted(cls.name for cls in BUILTIN if cls.exact and cls().available() is None)
APPROX = sorted(cls.name for cls in BUILTIN if not cls.exact)


def catalog() -> Catalog:
    """A catalog with this plugin's backends, registered through its hook like any plugin's."""
    c = Catalog()
    plugin.register_knn_backends(lambda cls: c.add("knn_backend", cls, "postprocessors"))
    return c


CATALOG = catalog()


def get_backend(name: str) -> KnnBackend:
    return get_from(name, CATALOG)


def reference_scores(train: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """(Q, M) float64 scores, larger = nearer: cosine similarity or minus the euclidean distance."""
    t, q = train.astype(np.float64), queries.astype(np.float64)
    if metric == "cosine":
        t = t / np.linalg.norm(t, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        return q @ t.T
    return -np.sqrt(((q[:, None, :] - t[None, :, :]) ** 2).sum(-1))


def assert_true_neighbours(idx: np.ndarray, scores: np.ndarray, k: int, tol: float = 1e-5) -> None:
    """Every returned neighbour scores at least the true k-th best (ties within ``tol`` allowed), nearest first."""
    assert idx.shape == (scores.shape[0], k)
    assert idx.dtype == np.int64
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    got = np.take_along_axis(scores, idx, axis=1)
    assert (got >= kth[:, None] - tol).all()
    assert (np.diff(got, axis=1) <= tol).all(), "neighbours are not sorted nearest first"
    assert all(len(set(row)) == k for row in idx.tolist()), "duplicate neighbours"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((3000, 24), dtype=np.float32), rng.standard_normal((250, 24), dtype=np.float32)


def test_registry_names_and_errors() -> None:
    assert set(backend_names(CATALOG)) == {"auto", "faiss", "faiss-ivf", "faiss-hnsw", "torch", "cuml", "sklearn"}
    with pytest.raises(ValueError, match="known: auto, cuml, faiss"):
        get_backend("annoy")

    class Impostor(KnnBackend):
        name = "faiss"

    with pytest.raises(PluginError, match="registered twice"):
        catalog().add("knn_backend", Impostor, "impostor")
    assert all(get_backend(n).available() is None for n in ("faiss", "sklearn", "torch"))


def test_auto_picks_faiss_on_cpu() -> None:
    import torch

    if torch.cuda.is_available():
        assert resolve_auto(CATALOG) in {"cuml", "torch"}
    else:
        assert resolve_auto(CATALOG) == "faiss"
        assert get_backend("auto").name == "faiss"


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("name", EXACT_HERE)
def test_exact_backend_matches_float64_reference(name: str, metric: str, data) -> None:
    train, queries = data
    k = 20
    idx = get_backend(name).search(train, queries, k, metric)
    assert_true_neighbours(idx, reference_scores(train, queries, metric), k)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_backends_agree_on_sets_and_averages(metric: str, data) -> None:
    train, queries = data
    k = 20
    values = np.random.default_rng(1).standard_normal((train.shape[0], 6)).astype(np.float32)
    ref = get_backend("sklearn").search(train, queries, k, metric)
    ref_mean = neighbour_mean(take_rows(values), ref, 6)
    for name in EXACT_HERE:
        idx = get_backend(name).search(train, queries, k, metric)
        # float64 re-scoring with index tie-breaks: same neighbours in the same order.
        np.testing.assert_array_equal(idx, ref, err_msg=name)
        np.testing.assert_allclose(neighbour_mean(take_rows(values), idx, 6), ref_mean, atol=1e-5, err_msg=name)


def test_torch_chunking_does_not_change_results(data) -> None:
    train, queries = data
    big = TorchBrute(device="cpu").search(train, queries, 10, "euclidean")
    # scratch of 0 MB -> one query row per block
    tiny = TorchBrute(device="cpu", scratch_mb=0).search(train, queries, 10, "euclidean")
    np.testing.assert_array_equal(big, tiny)


def test_cosine_ignores_vector_norms(data) -> None:
    train, queries = data
    scale = np.random.default_rng(3).uniform(0.1, 10, size=(train.shape[0], 1)).astype(np.float32)
    a = get_backend("faiss").search(train, queries, 15, "cosine")
    b = get_backend("faiss").search(train * scale, queries * 3, 15, "cosine")
    np.testing.assert_array_equal(np.sort(a, 1), np.sort(b, 1))


@pytest.mark.parametrize("name", APPROX)
def test_approximate_backends_have_high_recall(name: str, data) -> None:
    train, queries = data
    k = 20
    exact = get_backend("faiss").search(train, queries, k, "cosine")
    approx = get_backend(name).search(train, queries, k, "cosine")
    assert approx.shape == exact.shape and approx.min() >= 0 and approx.max() < train.shape[0]
    assert recall_at_k(exact, approx) > 0.85


def test_ivf_falls_back_to_exact_when_cells_hold_fewer_than_k() -> None:
    rng = np.random.default_rng(0)
    train = rng.standard_normal((400, 8), dtype=np.float32)
    queries = rng.standard_normal((30, 8), dtype=np.float32)
    k = 150  # with 1 of ~10 cells probed, faiss pads with -1
    approx = FaissIVF(nlist=10, nprobe=1).search(train, queries, k, "euclidean")
    assert approx.min() >= 0
    exact = get_backend("faiss").search(train, queries, k, "euclidean")
    np.testing.assert_array_equal(np.sort(approx, 1), np.sort(exact, 1))


def test_search_rejects_bad_inputs(data) -> None:
    train, queries = data
    backend = get_backend("faiss")
    with pytest.raises(ValueError, match="k must be in"):
        backend.search(train, queries, 0)
    with pytest.raises(ValueError, match="k must be in"):
        backend.search(train[:5], queries, 6)
    with pytest.raises(ValueError, match="unknown metric"):
        backend.search(train, queries, 5, "manhattan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dimensions"):
        backend.search(train, queries[:, :3], 5)
    with pytest.raises(ValueError, match="NaN"):
        backend.search(np.full_like(train, np.nan), queries, 5)


def test_recall_and_averaged_error_known_answers() -> None:
    exact = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert recall_at_k(exact, exact[:, ::-1]) == 1.0
    assert recall_at_k(exact, np.array([[0, 1, 8, 9], [4, 5, 6, 7]])) == 0.75
    assert recall_at_k(exact, exact + 10) == 0.0
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert averaged_error(values, exact, exact[:, ::-1]) == {"max_abs": 0.0, "rel_l2": 0.0}
    # row 0 swaps neighbours 2, 3 (values 4..7) for 8, 9 (values 16..19): mean moves by 6
    err = averaged_error(values, exact, np.array([[0, 1, 8, 9], [4, 5, 6, 7]]))
    assert err["max_abs"] == pytest.approx(6.0)


def test_cuml_reports_why_it_is_unavailable_or_matches_faiss(data) -> None:
    backend = CumlBrute()
    reason = backend.available()
    if reason is not None:
        assert isinstance(reason, str) and reason
        with pytest.raises(KnnBackendUnavailable, match="cuml"):
            backend.search(*data, 5)
        pytest.skip(f"cuML unavailable: {reason}")
    train, queries = data
    idx = backend.search(train, queries, 20, "cosine")
    assert_true_neighbours(idx, reference_scores(train, queries, "cosine"), 20)


def test_torch_on_cuda_matches_cpu(data) -> None:
    import torch

    if not torch.cuda.is_available():
        assert TorchBrute(device="cuda").available() is not None
        pytest.skip("no CUDA device")
    train, queries = data
    cpu = TorchBrute(device="cpu").search(train, queries, 20, "cosine")
    gpu = TorchBrute(device="cuda").search(train, queries, 20, "cosine")
    np.testing.assert_array_equal(np.sort(cpu, 1), np.sort(gpu, 1))


def test_fit_then_query_equals_search(data) -> None:
    train, queries = data
    backend = get_backend("torch")
    with pytest.raises(RuntimeError, match="fit"):
        backend.query(queries, 5)
    backend.fit(train, "euclidean")
    first, second = backend.query(queries[:100], 8), backend.query(queries[100:], 8)
    backend.release()
    np.testing.assert_array_equal(np.concatenate([first, second]), backend.search(train, queries, 8, "euclidean"))


@pytest.mark.parametrize("name", EXACT_HERE)
def test_exact_ties_go_to_the_lower_index(name: str) -> None:
    rng = np.random.default_rng(4)
    v, w = rng.standard_normal((2, 6)).astype(np.float32)
    train = np.stack([w, v, w * 3, v, v * 2, w, v])  # v at 1, 3, 6; 2v at 4 (same direction)
    idx = get_backend(name).search(train, v[None], 3, "cosine")
    np.testing.assert_array_equal(idx, [[1, 3, 4]])
    idx = get_backend(name).search(train, v[None], 3, "euclidean")
    np.testing.assert_array_equal(idx, [[1, 3, 6]])


def test_rescore_orders_candidates_by_float64_score() -> None:
    train = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    cand = np.array([[0, 2, 3, 1]])
    np.testing.assert_array_equal(rescore(train, query, cand, 3, inner_product=True), [[1, 3, 2]])
    np.testing.assert_array_equal(rescore(train, query, cand, 2, inner_product=False), [[1, 3]])


def test_unrefined_search_is_still_exact(data) -> None:
    train, queries = data
    backend = TorchBrute(device="cpu")
    backend.refine_margin = 0
    idx = backend.search(train, queries, 20, "cosine")
    assert_true_neighbours(idx, reference_scores(train, queries, "cosine"), 20)
