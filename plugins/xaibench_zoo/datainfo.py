"""Reading a :class:`~xaibench.components.DatasetInfo` back from a data Bundle's metadata."""

from __future__ import annotations

import dataclasses
from typing import Any

from xaibench.bundle import Bundle
from xaibench.capabilities import AUX
from xaibench.components import Band, DatasetInfo


def info_from_dict(raw: dict[str, Any]) -> DatasetInfo:
    """Inverse of ``dataclasses.asdict(info)`` (bands as dicts, lists for tuples)."""
    fields = {f.name for f in dataclasses.fields(DatasetInfo)}
    kwargs = {k: v for k, v in raw.items() if k in fields}
    kwargs["bands"] = tuple(b if isinstance(b, Band) else Band(**b) for b in raw.get("bands", ()))
    for key in ("classes", "modalities", "splits"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    if "provides" in kwargs:
        kwargs["provides"] = frozenset(kwargs["provides"])
    return DatasetInfo(**kwargs)


def dataset_info(data: Bundle) -> DatasetInfo:
    """The dataset's info from ``data.meta["info"]`` (a dict or a DatasetInfo).

    Without it (hand-made bundles in tests), infer one from the arrays: bands from
    ``train/x`` ``(N, C, H, W)``, task ``multilabel`` if ``train/labels`` exists else
    ``singlelabel`` with ``max(train/label) + 1`` classes.
    """
    raw = data.meta.get("info")
    if isinstance(raw, DatasetInfo):
        return raw
    if isinstance(raw, dict):
        return info_from_dict(raw)
    n_bands = data["train/x"].shape[1]
    if "train/labels" in data:
        task, n_classes = "multilabel", data["train/labels"].shape[1]
    else:
        task, n_classes = "singlelabel", int(data["train/label"].max()) + 1
    provides = frozenset({AUX}) if "train/aux" in data else frozenset()
    return DatasetInfo(
        name="unknown",
        task=task,
        classes=tuple(f"class{i}" for i in range(n_classes)),
        bands=tuple(Band(f"band{i}") for i in range(n_bands)),
        provides=provides,
    )


def band_groups(info: DatasetInfo) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """Modalities in order of first appearance and the band indices of each."""
    order: list[str] = []
    groups: dict[str, list[int]] = {}
    for i, band in enumerate(info.bands):
        if band.modality not in groups:
            order.append(band.modality)
            groups[band.modality] = []
        groups[band.modality].append(i)
    return tuple(order), tuple(tuple(groups[m]) for m in order)
