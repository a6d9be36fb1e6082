"""Harmonization and identity post-processors: known answers, a loop reference, determinism, errors."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from xaibench.bundle import Bundle
from xaibench.plugins import PluginSession
from xaibench_postprocess import plugin
from xaibench_postprocess.harmonize import Harmonize
from xaibench_postprocess.identity import NoPostProcess
from xaibench_postprocess.knn import BUILTIN

EXACT_HERE = sorted(cls.name for cls in BUILTIN if cls.exact and cls().available() is None)
CATALOG = PluginSession(disabled=set()).catalog


def make(**params) -> Harmonize:
    """Harmonize as a grid creates it: through the catalog, which it asks for its kNN backend."""
    return CATALOG.create("postprocessor", "harmonize", params)  # type: ignore[return-value]


def two_clusters(rng: np.random.Generator, n: int, hw: int, d: int = 8, classes: int = 3, channels: int | None = None):
    """Features in two tight clusters (around +c and -c) and attributions constant per cluster.

    Returns features (n, d, hw, hw), attributions (n, classes[, channels], hw, hw), cluster labels (n, hw, hw),
    and the per-cluster attribution values (2, classes[, channels]).
    """
    centre = rng.standard_normal(d).astype(np.float32) * 5
    labels = rng.integers(0, 2, size=(n, hw, hw))
    sign = np.where(labels == 0, 1.0, -1.0)[:, None]  # (n, 1, hw, hw)
    feats = sign * centre[None, :, None, None] + 0.05 * rng.standard_normal((n, d, hw, hw))
    per_position = (classes,) if channels is None else (classes, channels)
    values = rng.standard_normal((2, *per_position)).astype(np.float32)
    attr = np.moveaxis(values[labels], (1, 2), (-2, -1))  # (n, *per_position, hw, hw)
    return feats.astype(np.float32), np.ascontiguousarray(attr), labels, values


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("backend", EXACT_HERE)
def test_two_clusters_return_their_attribution_exactly(backend: str, metric: str) -> None:
    rng = np.random.default_rng(0)
    f_tr, a_tr, _, values = two_clusters(rng, n=12, hw=5)
    f_te, _, lab_te, _ = two_clusters(np.random.default_rng(0), n=12, hw=5)  # same centre, same values
    f_te = f_te[:4] + 0.05 * rng.standard_normal(f_te[:4].shape).astype(np.float32)
    lab_te = lab_te[:4]
    h = make(k=10, metric=metric, backend=backend)
    state = h.prepare(Bundle({"train": f_tr, "test": f_te}), seed=0)
    test_attr = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)  # replaced entirely
    out = h.apply(state, test_attr, a_tr)
    expected = np.moveaxis(values[lab_te], -1, 1)  # (4, 3, 5, 5)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_two_clusters_with_channel_axis() -> None:
    rng = np.random.default_rng(1)
    f_tr, a_tr, _, values = two_clusters(rng, n=10, hw=4, channels=2)
    f_te, _, lab_te, _ = two_clusters(np.random.default_rng(1), n=10, hw=4, channels=2)
    h = make(k=7)
    state = h.prepare(Bundle({"train": f_tr, "test": f_te[:3]}), seed=0)
    out = h.apply(state, np.zeros((3, 3, 2, 4, 4), np.float32), a_tr)
    assert out.shape == (3, 3, 2, 4, 4)
    np.testing.assert_allclose(out, np.moveaxis(values[lab_te[:3]], (-2, -1), (1, 2)), atol=1e-6)


def loop_reference(f_tr, f_te, a_tr, k, subset):
    """Harmonization written position by position in float64, with an explicit argsort."""
    n_tr, d, h, w = f_tr.shape
    pos = [(n, i, j) for n in range(n_tr) for i in range(h) for j in range(w)]
    pos = [pos[s] for s in subset]
    train_vecs = np.stack([f_tr[n, :, i, j] for n, i, j in pos]).astype(np.float64)
    train_vecs /= np.linalg.norm(train_vecs, axis=1, keepdims=True)
    out = np.zeros((f_te.shape[0], a_tr.shape[1], h, w))
    for n in range(f_te.shape[0]):
        for i in range(h):
            for j in range(w):
                q = f_te[n, :, i, j].astype(np.float64)
                nearest = np.argsort(-(train_vecs @ (q / np.linalg.norm(q))), kind="stable")[:k]
                out[n, :, i, j] = np.mean([a_tr[pos[s][0], :, pos[s][1], pos[s][2]] for s in nearest], axis=0)
    return out


def test_matches_position_by_position_reference_on_a_subset() -> None:
    rng = np.random.default_rng(2)
    f_tr = rng.standard_normal((6, 5, 3, 4)).astype(np.float32)
    f_te = rng.standard_normal((2, 5, 3, 4)).astype(np.float32)
    a_tr = rng.standard_normal((6, 4, 3, 4)).astype(np.float32)
    h = make(k=5, max_train_vectors=40)  # 72 train positions -> a 40-position subset
    state = h.prepare(Bundle({"train": f_tr, "test": f_te}), seed=11)
    subset = state["subset"]
    assert subset.shape == (40,)
    expected = loop_reference(f_tr, f_te, a_tr, 5, subset)
    out = h.apply(state, np.zeros((2, 4, 3, 4), np.float32), a_tr)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_state_layout_and_subset_determinism() -> None:
    rng = np.random.default_rng(3)
    feats = Bundle(
        {
            "train": rng.standard_normal((10, 4, 5, 5), dtype=np.float32),
            "test": rng.standard_normal((3, 4, 5, 5), dtype=np.float32),
        }
    )
    h = make(k=4, max_train_vectors=100)  # 250 train positions
    a, b, c = h.prepare(feats, seed=5), h.prepare(feats, seed=5), h.prepare(feats, seed=6)
    assert a["subset"].dtype == np.int64 and a["subset"].shape == (100,)
    assert np.unique(a["subset"]).size == 100 and a["subset"].min() >= 0 and a["subset"].max() < 250
    assert (np.diff(a["subset"]) > 0).all()
    assert a["neighbors"].shape == (3, 5 * 5, 4) and a["neighbors"].dtype in (np.int32, np.int64)
    np.testing.assert_array_equal(a["subset"], b["subset"])
    np.testing.assert_array_equal(a["neighbors"], b["neighbors"])
    assert not np.array_equal(a["subset"], c["subset"])
    assert a.meta["backend"] in {"faiss", "torch", "cuml"}  # what "auto" resolved to
    # the state survives the cache's serialisation
    again = Bundle.from_bytes(a.to_bytes())
    np.testing.assert_array_equal(again["neighbors"], a["neighbors"])
    assert again.meta == a.meta
    # all positions kept when they fit
    assert make(k=4).prepare(feats, seed=5)["subset"].tolist() == list(range(250))


def test_k_fraction_keeps_the_share_of_the_feature_space() -> None:
    h = make(k=100, k_fraction=0.001, k_min=10)
    assert [h.neighbours(n) for n in (2_048, 50_000, 100_000, 1_000_000)] == [10, 50, 100, 100]
    assert make(k=100).neighbours(2_048) == 100  # without k_fraction, k is fixed
    rng = np.random.default_rng(7)
    feats = Bundle({"train": rng.standard_normal((12, 4, 5, 5), dtype=np.float32),
                    "test": rng.standard_normal((2, 4, 5, 5), dtype=np.float32)})
    state = make(k=50, k_fraction=0.04, k_min=3).prepare(feats, seed=0)  # 300 train vectors -> k = 12
    assert state["neighbors"].shape == (2, 5 * 5, 12) and state.meta["k"] == 12


def test_shapes_dtypes_preserved_and_spatial_mismatch_rejected() -> None:
    rng = np.random.default_rng(4)
    feats = Bundle(
        {
            "train": rng.standard_normal((5, 3, 4, 6), dtype=np.float32),
            "test": rng.standard_normal((2, 3, 4, 6), dtype=np.float32),
        }
    )
    h = make(k=3)
    state = h.prepare(feats, seed=0)
    for dtype in (np.float32, np.float64):
        test = rng.standard_normal((2, 7, 4, 6)).astype(dtype)
        out = h.apply(state, test, rng.standard_normal((5, 7, 4, 6)).astype(dtype))
        assert out.shape == test.shape and out.dtype == dtype
    with pytest.raises(ValueError, match="do not match the layer features"):
        h.apply(state, np.zeros((2, 7, 6, 4), np.float32), np.zeros((5, 7, 4, 6), np.float32))
    with pytest.raises(ValueError, match="do not match the layer features"):
        h.apply(state, np.zeros((2, 7, 4, 6), np.float32), np.zeros((4, 7, 4, 6), np.float32))
    with pytest.raises(ValueError, match="differ per position"):
        h.apply(state, np.zeros((2, 7, 4, 6), np.float32), np.zeros((5, 6, 4, 6), np.float32))
    with pytest.raises(ValueError, match="train attributions"):
        h.apply(state, np.zeros((2, 7, 4, 6), np.float32), None)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k": 0}, "greater than 0"),
        ({"k": -3}, "greater than 0"),
        ({"max_train_vectors": 0}, "greater than 0"),
        ({"metric": "manhattan"}, "cosine"),
        ({"backend": "annoy"}, "known: auto, cuml, faiss, faiss-hnsw, faiss-ivf, sklearn, torch"),
        ({"neighbours": 3}, "Extra inputs"),
    ],
)
def test_bad_params_rejected(params: dict, match: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=match):
        CATALOG.validate("postprocessor", "harmonize", params)


def test_prepare_rejects_bad_features_and_too_large_k() -> None:
    rng = np.random.default_rng(5)
    tr, te = rng.standard_normal((2, 3, 2, 2), dtype=np.float32), rng.standard_normal((1, 3, 2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="exceeds the 8 train feature vectors"):
        make(k=9).prepare(Bundle({"train": tr, "test": te}), seed=0)
    with pytest.raises(ValueError, match="'test' and 'train'"):
        make(k=2).prepare(None, seed=0)
    with pytest.raises(ValueError, match="do not match the train vectors"):
        make(k=2).prepare(Bundle({"train": tr, "test": te[:, :2]}), seed=0)
    with pytest.raises(ValueError, match=r"\(N, D_l, H_l, W_l\)"):
        make(k=2).prepare(Bundle({"train": tr[0], "test": te}), seed=0)


def test_identity_returns_test_unchanged() -> None:
    rng = np.random.default_rng(6)
    test = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    none = NoPostProcess()
    assert not none.needs_features and not none.needs_train_attributions
    assert none.prepare(None, seed=0) is None
    out = none.apply(None, test, None)
    assert out.shape == test.shape
    np.testing.assert_array_equal(out, test)


def test_plugin_registers_both() -> None:
    registered = []
    plugin.register_postprocessors(registered.append)
    assert {cls.name for cls in registered} == {"none", "harmonize"}
    assert Harmonize.needs_features and Harmonize.needs_train_attributions


def test_entry_point_points_at_the_plugin() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="xaibench")}
    assert eps.get("postprocessors") == "xaibench_postprocess.plugin"
