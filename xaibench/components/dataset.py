"""Datasets: what a dataset plugin implements and what it hands to the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .base import Component

if TYPE_CHECKING:
    from ..bundle import Bundle


@dataclass(frozen=True)
class Band:
    """One input channel: ``name`` (``"B8A"``), central ``wavelength_nm`` (0 if not optical),
    ``modality`` (``"s2"``, ``"s1"``, ``"weather"``...) and ``unit`` (``"reflectance"``, ``"dB"``)."""

    name: str
    wavelength_nm: float = 0.0
    modality: str = "optical"
    unit: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of a dataset, known without loading it.

    ``task`` is one of ``"multilabel"``, ``"singlelabel"``, ``"forecast"``.
    ``provides`` lists what the data carries beyond ``x``, as :mod:`xaibench.capabilities`
    constants (``MASK``: segmentation ground truth, ``AUX``: auxiliary vector, ``GEO``,
    ``TIME``, ``REGION``, and plugins' own such as clouds); components declare ``requires``
    against them.
    ``extra`` holds dataset-specific JSON-able facts (normalisation, known sensitivities).
    """

    name: str
    task: str
    classes: tuple[str, ...]
    bands: tuple[Band, ...]
    modalities: tuple[str, ...] = ("optical",)
    splits: tuple[str, ...] = ("train", "val", "test")
    provides: frozenset[str] = frozenset()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_bands(self) -> int:
        return len(self.bands)


class Dataset(Component):
    """A source of samples.

    ``load`` returns a :class:`~xaibench.bundle.Bundle` whose arrays are named
    ``"<split>/<field>"``.  Conventional fields (all ``numpy`` arrays):

    - ``x``: ``(N, C, H, W)`` float32 input, reflectance 0-1 for optical bands;
    - ``labels``: ``(N, classes)`` float32 multi-hot image labels;
    - ``label``: ``(N,)`` int64 single label;
    - ``mask``: ``(N, H, W)`` int64 segmentation ground truth (class index);
    - ``aux``: ``(N, A)`` float32 auxiliary vector (bioclimatic variables...);
    - anything else the dataset documents (``region``, ``lat``, ``lon``, weather cubes).
    """

    kind: ClassVar[str] = "dataset"

    def info(self) -> DatasetInfo:
        raise NotImplementedError

    def load(self, seed: int) -> Bundle:
        raise NotImplementedError

    def varies_with_seed(self) -> bool:
        """Whether :meth:`load` depends on the grid seed.  ``False`` lets every seed of a grid
        share one cached copy of the data (the models' seeds still differ)."""
        return True


def info_to_dict(info: DatasetInfo) -> dict:
    """JSON-able form of a DatasetInfo (stored in the data stage's Bundle meta as ``"info"``)."""
    return {
        "name": info.name,
        "task": info.task,
        "classes": list(info.classes),
        "bands": [{f: getattr(b, f) for f in b.__dataclass_fields__} for b in info.bands],
        "modalities": list(info.modalities),
        "splits": list(info.splits),
        "provides": sorted(info.provides),
        "extra": info.extra,
    }


def info_from_dict(d: dict) -> DatasetInfo:
    return DatasetInfo(
        name=d["name"],
        task=d["task"],
        classes=tuple(d["classes"]),
        bands=tuple(Band(**b) for b in d["bands"]),
        modalities=tuple(d.get("modalities", ("optical",))),
        splits=tuple(d.get("splits", ("train", "val", "test"))),
        provides=frozenset(d.get("provides", ())),
        extra=d.get("extra", {}),
    )
