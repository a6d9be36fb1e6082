"""Tiny random data and model configurations for the zoo tests (no dataset plugin needed)."""

from __future__ import annotations

import dataclasses

import numpy as np

from xaibench.bundle import Bundle
from xaibench.components import Band, DatasetInfo

# two modalities so that the fusion model has two branches
BANDS = (Band("B2", 490, "s2"), Band("B3", 560, "s2"), Band("VV", 0, "s1"), Band("B4", 665, "s2"), Band("VH", 0, "s1"))
N_CLASSES = 3
AUX_DIM = 4

# every model at a width small enough for millisecond forwards
TINY_MODELS: dict[str, dict] = {
    "uh-net": {"width": 0.0625},
    "uh-net-skip": {"width": 0.0625, "skip_pooling": [4]},
    "resnet-18": {"width": 0.125},
    "resnet-101": {"width": 0.0625},
    "vgg-16": {"width": 0.0625},
    "resnet-18-emb": {"width": 0.125, "embed_after": "layer2"},
    "resnet-18-cbn": {"width": 0.125},
    "fusion-resnet-18": {"width": 0.125, "fuse_after": "layer1", "modality_dropout": 0.5},
}


def make_info(task: str = "multilabel") -> DatasetInfo:
    return DatasetInfo(
        name="tiny",
        task=task,
        classes=tuple(f"c{i}" for i in range(N_CLASSES)),
        bands=BANDS,
        modalities=("s2", "s1"),
        provides=frozenset({"aux"}),
    )


def make_data(n: int = 24, size: int = 32, task: str = "multilabel", seed: int = 0, learnable: bool = False) -> Bundle:
    """Random splits ``train``/``val``/``test`` with ``n`` samples each, ``aux`` ``(n, 4)``.

    ``learnable``: class ``k`` is present iff band ``k`` has a positive mean, so a model can fit it.
    """
    rng = np.random.default_rng(seed)
    splits = {}
    for split in ("train", "val", "test"):
        x = rng.normal(size=(n, len(BANDS), size, size)).astype(np.float32)
        if learnable:
            x[:, :N_CLASSES] += rng.choice([-1.0, 1.0], size=(n, N_CLASSES, 1, 1)).astype(np.float32)
        labels = (x[:, :N_CLASSES].mean(axis=(2, 3)) > 0).astype(np.float32)
        splits[split] = {
            "x": x,
            "labels": labels,
            "label": labels.argmax(1).astype(np.int64),
            "aux": rng.normal(size=(n, AUX_DIM)).astype(np.float32),
        }
    return Bundle.from_splits(splits, {"info": dataclasses.asdict(make_info(task))})


def build_model(key: str, **train):
    """``(component, Params)`` of a tiny-model config; ``train`` overrides training params."""
    from xaibench_zoo.components import MODELS

    name = key.removesuffix("-skip")
    cls = next(m for m in MODELS if m.name == name)
    params = dict(TINY_MODELS[key])
    if train:
        params["train"] = train
    return cls(cls.Params(**params))


FORECAST_EXTRA = {"context_frames": 3, "target_frames": 2, "days_per_frame": 2, "weather_variables": ["p", "t"]}


def make_forecast_info() -> DatasetInfo:
    bands = (
        Band("B2", 490, "s2"),
        Band("B3", 560, "s2"),
        Band("B4", 665, "s2"),
        Band("B8A", 865, "s2"),
        Band("elevation", 0, "static"),
        Band("cloud_mask", 0, "mask"),
    )
    return DatasetInfo(
        name="tiny-cubes",
        task="forecast",
        classes=("ndvi",),
        bands=bands,
        modalities=("s2", "static", "mask"),
        provides=frozenset({"forecast", "weather"}),
        extra=dict(FORECAST_EXTRA),
    )


def make_forecast_data(n: int = 6, size: int = 8, seed: int = 0) -> Bundle:
    """Cubes ``context (n, 3, 6, S, S)``, ``target (n, 2, 6, S, S)``, ``weather (n, 10, 2)``, ``target_ndvi``."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split in ("train", "val", "test"):
        cube = rng.uniform(0.05, 0.5, size=(n, 5, 6, size, size)).astype(np.float32)
        cube[:, :, 5] = rng.random((n, 5, size, size)) < 0.2  # cloud mask
        red, nir = cube[:, 3:, 2], cube[:, 3:, 3]
        splits[split] = {
            "context": cube[:, :3],
            "target": cube[:, 3:],
            "weather": rng.normal(size=(n, 10, 2)).astype(np.float32),
            "target_ndvi": ((nir - red) / (nir + red)).astype(np.float32),
        }
    return Bundle.from_splits(splits, {"info": dataclasses.asdict(make_forecast_info())})
