"""The ``features`` stage: a trained model's feature maps of the train and test splits at a layer.

Computed a chunk of samples at a time.  With ``train_subset`` (a post-processor's
:meth:`~xaibench.components.PostProcessor.train_subset`), the train split keeps only that
many positions, drawn with the seed: ``train_rows`` ``(M, D)`` and ``subset`` ``(M,)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .graph import Stage

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle
    from .inputs import StageInputs

SPLITS = ["train", "test"]


def features_stage(layer: str, data: Stage, model: Stage, where: str, train_subset: int | None = None,
                   seed: int = 0) -> Stage:
    """``where`` names the model in the label (``uhnet/seed0``)."""
    spec: dict[str, Any] = {"layer": layer, "splits": SPLITS}
    if train_subset is not None:
        spec.update(train_subset=train_subset, seed=seed)
    return Stage("features", spec, {"data": data, "model": model}, label=f"features {where}/{layer}")


def split_rows(data: Bundle, split: str) -> Any:
    """The array that sets a split's sample count (``x``, or a forecast's ``context``)."""
    return data.rows(f"{split}/x") if f"{split}/x" in data else data.rows(f"{split}/context")


def chunked(data: Bundle, split: str, rows: int, fn: Any, first: int = 0, stop: int | None = None
            ) -> Iterator[tuple[int, Any]]:
    """``(start, fn(view, start))`` for views of ``data`` holding ``rows`` samples of ``split`` at a
    time, over samples ``first .. stop - 1`` (the whole split by default)."""
    stop = len(split_rows(data, split)) if stop is None else stop
    for start in range(first, stop, rows):
        yield start, fn(data.view(split, start, min(stop, start + rows)), start)


def gather_subset(chunks: Iterator[tuple[int, np.ndarray]], n: int, size: int, seed: int,
                  meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The rows at ``size`` positions (drawn with ``seed``) of per-sample maps ``(n_i, ..., H, W)``
    coming chunk by chunk: ``rows`` ``(M, ...)`` (the position axes last -> first) and ``subset``."""
    import numpy as np

    from ..arrays import seeded_subset

    subset, parts = None, []
    for start, block in chunks:
        block = np.asarray(block)
        h, w = block.shape[-2:]
        if subset is None:
            subset = seeded_subset(n * h * w, size, seed)
            meta["train_positions"] = [n, h, w]
        lo, hi = np.searchsorted(subset, [start * h * w, (start + len(block)) * h * w])
        local = subset[lo:hi] - start * h * w
        sample, pos = np.divmod(local, h * w)
        flat = block.reshape(*block.shape[:-2], h * w)
        parts.append(np.moveaxis(flat, -1, 1)[sample, pos])  # (m, ...) per position
    rows = np.concatenate(parts) if parts else np.zeros((0,), np.float32)
    return {"rows": rows.astype(np.float32, copy=False), "subset": subset if subset is not None else np.zeros(0, np.int64)}


def _named(name: str, parts: Iterator[tuple[int, np.ndarray]]) -> Iterator[dict[str, np.ndarray]]:
    for _, block in parts:
        yield {name: block}


def compute_features(stage: Stage, inputs: StageInputs) -> Bundle:
    import numpy as np

    from ..arrays import RowStream
    from ..bundle import Bundle

    data_stage, model_stage = stage.inputs["data"], stage.inputs["model"]
    component = inputs.component(model_stage.spec["model"])
    model = inputs.model(model_stage, data_stage)
    data = inputs.load(data_stage)
    layer = stage.spec["layer"]
    meta: dict[str, Any] = {"layer": layer}

    def features_of(view: Bundle, split: str) -> np.ndarray:
        return np.asarray(component.features(model, view, split, layer), dtype=np.float32)  # type: ignore[attr-defined]

    arrays, streams = {}, []
    for split in stage.spec["splits"]:
        rows = inputs.chunk_rows(split_rows(data, split))
        parts = chunked(data, split, rows, lambda view, _s, _split=split: features_of(view, _split))
        if split == "train" and "train_subset" in stage.spec:
            got = gather_subset(parts, len(split_rows(data, split)), stage.spec["train_subset"], stage.spec["seed"], meta)
            arrays.update(train_rows=got["rows"], subset=got["subset"])
        else:
            streams.append(RowStream(_named(split, parts), {split: np.zeros((0,), np.float32)}))
    return Bundle(arrays, meta, streams)
