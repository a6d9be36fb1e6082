"""Feature-space harmonization: replace each test attribution by the mean of its train neighbours'.

For every test position of a layer, the ``k`` nearest train feature vectors (in
the same layer) are found once per (model, seed, layer) in :meth:`Harmonize.prepare`;
:meth:`Harmonize.apply` then averages the train attributions at those positions,
for any attribution method.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from xaibench.arrays import RowStream, iter_chunks
from xaibench.bundle import Bundle
from xaibench.components import Params, PostProcessor

from .knn import backend_names, get_backend
from .ops import neighbour_mean, sample_subset, take_rows


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
    streams: ClassVar[bool] = True

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

    def train_subset(self) -> int:
        """Harmonization reads at most ``max_train_vectors`` train positions: the engine keeps those only."""
        return self.params.max_train_vectors

    def prepare(self, features: Bundle | None, seed: int) -> Bundle:
        """Neighbour search.  ``features`` has ``test`` ``(N_te, D_l, H_l, W_l)`` (lazy on large
        splits: read a chunk of samples at a time) and either the engine's ``train_rows`` ``(M, D_l)``
        with ``subset`` and meta ``train_positions``, or the whole ``train`` ``(N, D_l, H_l, W_l)``
        (the subset is then drawn here, the same way).  The state's ``neighbors`` has one row per test
        sample, ``(N_te, H_l * W_l, k)`` (indices into ``subset``, nearest first)."""
        train_vectors, subset, (n_tr, h_tr, w_tr) = _train_vectors(features, self.params.max_train_vectors, seed)
        test = features.rows("test")  # type: ignore[union-attr]
        if len(test.shape) != 4 or test.shape[1] != train_vectors.shape[1]:
            raise ValueError(f"harmonize: test features {test.shape} do not match the train vectors "
                             f"{train_vectors.shape} (expected (N, D_l={train_vectors.shape[1]}, H_l, W_l))")
        n_te, d, h_te, w_te = test.shape
        k = self.neighbours(subset.size)
        if k > subset.size:
            raise ValueError(f"harmonize: k={k} exceeds the {subset.size} train feature vectors; lower k")
        if self.catalog is None:
            raise ValueError("harmonize finds its kNN backend in the catalog: create it with catalog.create(...)")
        backend = get_backend(self.params.backend, self.catalog)
        index_dtype = np.int32 if subset.size < 2**31 else np.int64
        rows = max(1, SEARCH_CHUNK_QUERIES // (h_te * w_te))
        meta = {"backend": backend.name, "metric": self.params.metric, "k": k,
                "train_positions": [n_tr, h_tr, w_tr], "test_positions": [n_te, h_te, w_te]}

        def neighbours() -> Iterator[dict[str, np.ndarray]]:
            backend.fit(train_vectors, self.params.metric)
            try:
                for _, block in iter_chunks(test, rows):
                    queries = np.ascontiguousarray(block.transpose(0, 2, 3, 1)).reshape(-1, d)
                    found = backend.query(queries, k).astype(index_dtype)
                    yield {"neighbors": found.reshape(len(block), h_te * w_te, k)}
            finally:
                backend.release()

        template = {"neighbors": np.zeros((0, h_te * w_te, k), index_dtype)}
        return Bundle({"subset": subset}, meta, [RowStream(neighbours(), template)])

    def apply(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None) -> np.ndarray:
        """Harmonized test attributions, shape and dtype of ``test``.

        ``test`` ``(N_te, classes, H_l, W_l)``; ``train`` the whole train maps ``(N_tr, classes,
        H_l, W_l)`` or the engine's rows at the subset ``(M, classes)``; with a channel axis,
        ``(N, classes, D_l, H_l, W_l)`` / ``(M, classes, D_l)``, the whole ``(classes, D_l)``
        tensor of each position is averaged.
        """
        return self.apply_chunk(state, test, train, 0)

    def apply_chunk(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None, start: int) -> np.ndarray:
        """Test samples ``start .. start + len(test) - 1`` harmonized (see :meth:`apply`)."""
        if state is None or train is None:
            raise ValueError("harmonize.apply needs the state from prepare() and the train attributions")
        subset, neighbors = state["subset"], state.rows("neighbors")
        n_tr, h_tr, w_tr = state.meta["train_positions"]
        n_te, h_te, w_te = state.meta["test_positions"]
        if start + len(test) > n_te:
            raise ValueError(f"harmonize: test samples {start}..{start + len(test) - 1} beyond the {n_te} prepared")
        _check_positions("test", test, (len(test), h_te, w_te))
        rows = _train_rows(train, subset, (n_tr, h_tr, w_tr))
        if test.shape[1:-2] != rows.shape[1:]:
            raise ValueError(f"harmonize: test attributions {test.shape} and train {train.shape} differ per position")
        width = int(np.prod(test.shape[1:-2]))
        flat = rows.reshape(len(rows), width)
        block = np.asarray(neighbors[start:start + len(test)]).reshape(-1, neighbors.shape[-1])
        dtype = test.dtype if np.issubdtype(test.dtype, np.floating) else np.float32
        mean = neighbour_mean(take_rows(flat), block, width, dtype)  # (n * H * W, width)
        out = mean.reshape(len(test), h_te, w_te, width).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(out).reshape(test.shape)


SEARCH_CHUNK_QUERIES = 262_144
"""Test positions searched at once (their float32 queries and int neighbours stay a few hundred MB)."""


def _train_vectors(features: Bundle | None, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(M, D)`` train vectors, their flattened positions and ``[N, H, W]`` of the train split."""
    if features is None or "test" not in features:
        raise ValueError("harmonize.prepare needs a features Bundle with 'test' and 'train' (or 'train_rows') arrays")
    if "train_rows" in features:
        return features["train_rows"], features["subset"], list(features.meta["train_positions"])
    if "train" not in features:
        raise ValueError("harmonize.prepare needs a features Bundle with 'test' and 'train' (or 'train_rows') arrays")
    train = features["train"]
    if train.ndim != 4:
        raise ValueError(f"harmonize: train features must be (N, D_l, H_l, W_l), got shape {train.shape}")
    n_tr, d, h_tr, w_tr = train.shape
    subset = sample_subset(n_tr * h_tr * w_tr, limit, seed)
    n_idx, hw_idx = np.divmod(subset, h_tr * w_tr)
    # (M, D): advanced indices on axes 0 and 2 around a slice put the index axis first.
    return train.reshape(n_tr, d, h_tr * w_tr)[n_idx, :, hw_idx], subset, [n_tr, h_tr, w_tr]


def _train_rows(train: np.ndarray, subset: np.ndarray, positions: tuple[int, int, int]) -> np.ndarray:
    """The train attribution vectors at ``subset``: ``(M, classes[, D])``, from rows or whole maps."""
    if train.ndim in (2, 3):
        if len(train) != len(subset):
            raise ValueError(f"harmonize: {len(train)} train attribution rows for {len(subset)} positions")
        return train
    n_tr, h_tr, w_tr = positions
    _check_positions("train", train, positions)
    n_idx, hw_idx = np.divmod(subset, h_tr * w_tr)
    by_position = train.reshape(n_tr, *train.shape[1:-2], h_tr * w_tr)
    return np.moveaxis(by_position, -1, 1)[n_idx, hw_idx]


def _check_positions(split: str, attributions: np.ndarray, positions: tuple[int, int, int]) -> None:
    n, h, w = positions
    shape = attributions.shape
    if attributions.ndim not in (4, 5) or (shape[0], shape[-2], shape[-1]) != (n, h, w):
        raise ValueError(
            f"harmonize: {split} attributions {shape} do not match the layer features "
            f"(expected (N={n}, classes[, D_l], H_l={h}, W_l={w}))"
        )
