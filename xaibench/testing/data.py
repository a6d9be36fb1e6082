"""Tiny synthetic inputs the conformance checks feed to components (numpy only).

Two scenarios cover what Earth-observation components meet in practice:

- ``"multiband"``: 13 Sentinel-2 bands (reflectance 0-1), no auxiliary vector;
- ``"multimodal"``: the 13 Sentinel-2 bands followed by Sentinel-1 VV and VH
  (backscatter scaled to 0-1), plus an auxiliary vector ``aux`` ``(N, 3)``.

Samples hold rectangular class regions, each class with its own spectrum, so maps
have structure; every split has ``x``, ``labels``, ``label``, ``mask`` (and ``aux``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..bundle import Bundle
from ..capabilities import AUX, MASK
from ..components import Band, DatasetInfo, info_from_dict, info_to_dict

S2_BANDS: tuple[Band, ...] = tuple(
    Band(name, wl, "s2", "reflectance")
    for name, wl in (("B1", 443), ("B2", 492), ("B3", 560), ("B4", 665), ("B5", 704), ("B6", 740), ("B7", 783),
                     ("B8", 833), ("B8A", 865), ("B9", 945), ("B10", 1374), ("B11", 1614), ("B12", 2202))
)
"""The 13 Sentinel-2 bands (central wavelengths, nm)."""
S1_BANDS: tuple[Band, ...] = (Band("VV", 0.0, "s1", "dB scaled to 0-1"), Band("VH", 0.0, "s1", "dB scaled to 0-1"))
AUX_DIM = 3
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Scenario:
    """One input configuration the checks run: a dataset description and the data's shape.

    ``data``: a ready Bundle (e.g. a tiny instance of your own dataset, with
    ``meta["info"]``) used instead of the kit's generated samples; the kit's
    scenarios leave it ``None``.
    """

    name: str
    info: DatasetInfo
    aux_dim: int = 0
    data: Bundle | None = field(default=None, compare=False)

    @classmethod
    def from_bundle(cls, name: str, data: Bundle) -> Scenario:
        """A scenario for given data; its DatasetInfo is read from ``data.meta["info"]``."""
        info = info_from_dict(data.meta["info"])
        aux = next((data[f"{s}/aux"].shape[1] for s in SPLITS if f"{s}/aux" in data), 0)
        return cls(name, info, int(aux), data)

    @property
    def n_bands(self) -> int:
        return self.info.n_bands


def scenario(name: str | Scenario, n_classes: int = 4) -> Scenario:
    """``"multiband"`` (13 S2 bands) or ``"multimodal"`` (S2 + S1 bands and an aux vector);
    a :class:`Scenario` is returned as it is."""
    if isinstance(name, Scenario):
        return name
    classes = tuple(f"class{k}" for k in range(n_classes))
    if name == "multiband":
        info = DatasetInfo(name="kit-multiband", task="multilabel", classes=classes, bands=S2_BANDS,
                           modalities=("s2",), provides=frozenset({MASK}))
        return Scenario(name, info)
    if name == "multimodal":
        info = DatasetInfo(name="kit-multimodal", task="multilabel", classes=classes, bands=S2_BANDS + S1_BANDS,
                           modalities=("s2", "s1"), provides=frozenset({MASK, AUX}))
        return Scenario(name, info, AUX_DIM)
    raise ValueError(f"unknown scenario {name!r} (known: multiband, multimodal)")


SCENARIOS = ("multiband", "multimodal")


def make_bundle(sc: Scenario, n: int = 4, size: int = 16, seed: int = 0, zero: bool = False) -> Bundle:
    """Splits ``train``/``val``/``test`` of ``n`` samples each, ``size`` x ``size`` pixels.

    Arrays per split: ``x`` ``(n, C, size, size)`` float32 in [0, 1]; ``mask``
    ``(n, size, size)`` int64 class index; ``labels`` ``(n, K)`` float32 multi-hot;
    ``label`` ``(n,)`` int64 (largest class); ``aux`` ``(n, 3)`` float32 for the
    multimodal scenario.  ``zero``: every ``x`` (and ``aux``) is all zeros.
    The data's ``meta["info"]`` is the scenario's DatasetInfo, as the core stores it.
    """
    if sc.data is not None:
        if not zero:
            return sc.data
        arrays = {k: (np.zeros_like(v) if k.endswith(("/x", "/aux")) else v) for k, v in sc.data.arrays.items()}
        return Bundle(arrays, dict(sc.data.meta))
    rng = np.random.default_rng(seed)
    k, c = sc.info.n_classes, sc.n_bands
    spectra = rng.uniform(0.05, 0.6, size=(k, c)).astype(np.float32)  # one spectrum per class
    splits: dict[str, dict[str, np.ndarray]] = {}
    for split in SPLITS:
        mask = np.zeros((n, size, size), dtype=np.int64)
        for i in range(n):
            mask[i] = rng.integers(k)
            for _ in range(3):  # a few rectangles of other classes
                h, w = rng.integers(size // 4, size // 2 + 1, size=2)
                top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
                mask[i, top:top + h, left:left + w] = rng.integers(k)
        x = spectra[mask].transpose(0, 3, 1, 2)  # (n, C, S, S)
        x = np.clip(x + rng.normal(0, 0.02, size=x.shape), 0, 1).astype(np.float32)
        fractions = np.stack([(mask == j).mean(axis=(1, 2)) for j in range(k)], axis=1)
        fields = {
            "x": np.zeros_like(x) if zero else x,
            "mask": mask,
            "labels": (fractions > 0.1).astype(np.float32),
            "label": fractions.argmax(axis=1).astype(np.int64),
        }
        if sc.aux_dim:
            aux = rng.uniform(0, 1, size=(n, sc.aux_dim)).astype(np.float32)
            fields["aux"] = np.zeros_like(aux) if zero else aux
        splits[split] = fields
    return Bundle.from_splits(splits, {"info": info_to_dict(sc.info)})
