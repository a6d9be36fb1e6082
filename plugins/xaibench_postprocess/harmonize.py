"""Feature-space harmonization: replace each test attribution by the mean of its train neighbours'.

For every test position of a layer, the ``k`` nearest train feature vectors (in
the same layer) are found once per (model, seed, layer) in :meth:`Harmonize.prepare`;
:meth:`Harmonize.apply` then averages the train attributions at those positions,
for any attribution method.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from xaibench.bundle import Bundle
from xaibench.components import Params, PostProcessor

from .knn import backend_names, get_backend
from .ops import neighbour_mean, sample_subset


class Harmonize(PostProcessor):
    """Harmonization: each test attribution vector becomes the mean over its k nearest train feature vectors.

    Train positions are ``(sample, h, w)`` of the layer's feature map, flattened
    as ``(n * H_l + h) * W_l + w``; at most ``max_train_vectors`` of them, drawn
    with the seed, are searched.  The state stores ``subset`` ``(M,)`` int64
    (flattened train positions) and ``neighbors`` ``(N_te * H_l * W_l, k)``
    (int32 indices into ``subset``, nearest first; test positions flattened alike).
    """

    name: ClassVar[str] = "harmonize"
    version: ClassVar[str] = "1"
    needs_features: ClassVar[bool] = True
    needs_train_attributions: ClassVar[bool] = True

    class Params(Params):
        k: int = Field(100, gt=0, description="neighbours averaged per test position (the most, with k_fraction)")
        k_fraction: float | None = Field(
            None, gt=0, le=1,
            description="scale k to the feature space: round(k_fraction x searched train vectors), "
                        "clipped to [k_min, k]; the paper's ratio is 100 / 100,000 = 0.001",
        )
        k_min: int = Field(10, gt=0, description="the fewest neighbours when k_fraction scales k")
        metric: Literal["cosine", "euclidean"] = "cosine"
        max_train_vectors: int = Field(100_000, gt=0, description="train feature vectors searched (seeded subset)")
        backend: str = Field(
            "auto", description="kNN backend: auto, faiss, faiss-ivf, faiss-hnsw, torch, cuml, sklearn"
        )

        @field_validator("backend")
        @classmethod
        def _known_backend(cls, value: str, info: ValidationInfo) -> str:
            catalog = (info.context or {}).get("catalog")
            if catalog is not None and value not in backend_names(catalog):
                raise ValueError(f"unknown kNN backend {value!r}; known: {', '.join(backend_names(catalog))}")
            return value

    params: Params

    def neighbours(self, n_vectors: int) -> int:
        """The k used with ``n_vectors`` searched train vectors.

        A fixed k averages over a larger share of a small feature space: k = 100 is 0.1 % of
        the paper's 100,000 vectors but 5 % of the 2,048 that VGG-16's 2 x 2 deep layer gives
        on 512 patches of 32 px, where it blurred the classes apart (measured in docs/results.md).
        ``k_fraction`` keeps the share instead.
        """
        p = self.params
        if p.k_fraction is None:
            return p.k
        return int(min(p.k, max(p.k_min, round(p.k_fraction * n_vectors))))

    def prepare(self, features: Bundle | None, seed: int) -> Bundle:
        """Neighbour search: ``features`` has ``train`` and ``test`` ``(N, D_l, H_l, W_l)``."""
        train, test = _features(features)
        n_tr, d, h_tr, w_tr = train.shape
        n_te, _, h_te, w_te = test.shape
        subset = sample_subset(n_tr * h_tr * w_tr, self.params.max_train_vectors, seed)
        k = self.neighbours(subset.size)
        if k > subset.size:
            raise ValueError(f"harmonize: k={k} exceeds the {subset.size} train feature vectors; lower k")
        n_idx, hw_idx = np.divmod(subset, h_tr * w_tr)
        # (M, D): advanced indices on axes 0 and 2 around a slice put the index axis first.
        train_vectors = train.reshape(n_tr, d, h_tr * w_tr)[n_idx, :, hw_idx]
        queries = test.transpose(0, 2, 3, 1).reshape(-1, d)
        if self.catalog is None:
            raise ValueError("harmonize finds its kNN backend in the catalog: create it with catalog.create(...)")
        backend = get_backend(self.params.backend, self.catalog)
        neighbors = backend.search(train_vectors, queries, k, self.params.metric)
        index_dtype = np.int32 if subset.size < 2**31 else np.int64
        return Bundle(
            {"subset": subset, "neighbors": neighbors.astype(index_dtype)},
            {
                "backend": backend.name,
                "metric": self.params.metric,
                "k": k,
                "train_positions": [n_tr, h_tr, w_tr],
                "test_positions": [n_te, h_te, w_te],
            },
        )

    def apply(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None) -> np.ndarray:
        """Harmonized test attributions, shape and dtype of ``test``.

        ``test`` ``(N_te, classes, H_l, W_l)`` and ``train`` ``(N_tr, classes, H_l, W_l)``;
        with a channel axis, ``(N, classes, D_l, H_l, W_l)``, the whole
        ``(classes, D_l)`` tensor of each position is averaged.
        """
        if state is None or train is None:
            raise ValueError("harmonize.apply needs the state from prepare() and the train attributions")
        subset, neighbors = state["subset"], state["neighbors"]
        n_tr, h_tr, w_tr = state.meta["train_positions"]
        n_te, h_te, w_te = state.meta["test_positions"]
        _check_positions("test", test, (n_te, h_te, w_te))
        _check_positions("train", train, (n_tr, h_tr, w_tr))
        if test.shape[1:-2] != train.shape[1:-2]:
            raise ValueError(f"harmonize: test attributions {test.shape} and train {train.shape} differ per position")
        width = int(np.prod(test.shape[1:-2]))
        hw = h_tr * w_tr
        train_by_position = train.reshape(n_tr, width, hw)

        def rows(idx: np.ndarray) -> np.ndarray:
            n_idx, hw_idx = np.divmod(subset[idx], hw)
            return train_by_position[n_idx, :, hw_idx]

        dtype = test.dtype if np.issubdtype(test.dtype, np.floating) else np.float32
        mean = neighbour_mean(rows, neighbors, width, dtype)  # (N_te * H * W, width)
        out = mean.reshape(n_te, h_te, w_te, width).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out).reshape(test.shape)


def _features(features: Bundle | None) -> tuple[np.ndarray, np.ndarray]:
    if features is None or "train" not in features or "test" not in features:
        raise ValueError("harmonize.prepare needs a features Bundle with 'train' and 'test' arrays")
    train, test = features["train"], features["test"]
    for split, arr in (("train", train), ("test", test)):
        if arr.ndim != 4:
            raise ValueError(f"harmonize: {split} features must be (N, D_l, H_l, W_l), got shape {arr.shape}")
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"harmonize: train features have {train.shape[1]} channels but test {test.shape[1]}")
    return train, test


def _check_positions(split: str, attributions: np.ndarray, positions: tuple[int, int, int]) -> None:
    n, h, w = positions
    shape = attributions.shape
    if attributions.ndim not in (4, 5) or (shape[0], shape[-2], shape[-1]) != (n, h, w):
        raise ValueError(
            f"harmonize: {split} attributions {shape} do not match the layer features "
            f"(expected (N={n}, classes[, D_l], H_l={h}, W_l={w}))"
        )
