"""Land-cover maps -> the 8-class mask, class fractions and image multi-labels (the >10 % rule)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .base import SkipSample
from .errors import BadFileError

UNKNOWN = -2
IGNORE = -1


def lookup_table(mapping: Mapping[int, str | None], classes: Sequence[str], nodata: Sequence[int] = (0,)) -> np.ndarray:
    """A code -> class index table: ``mapping[code]`` names a class of ``classes`` (or ``None``:
    ignored, -1); ``nodata`` codes are ignored; any other code is unknown (-2)."""
    size = max([*mapping, *nodata]) + 1
    table = np.full(size, UNKNOWN, dtype=np.int64)
    for code in nodata:
        table[code] = IGNORE
    for code, name in mapping.items():
        if name is not None and name not in classes:
            raise ValueError(f"class map sends code {code} to {name!r}, not one of {', '.join(classes)}")
        table[code] = IGNORE if name is None else classes.index(name)
    return table


def to_mask(codes: np.ndarray, table: np.ndarray, path: str | Path) -> np.ndarray:
    """Map an integer code raster ``(H, W)`` through ``table``; unknown codes are an error naming the file."""
    codes = np.asarray(codes)
    if codes.min() < 0 or codes.max() >= len(table):
        bad = sorted({int(c) for c in np.unique(codes) if c < 0 or c >= len(table)})
        raise BadFileError(path, f"unexpected class codes {bad[:8]} (known: {_known(table)})")
    mask = table[codes.astype(np.int64)]
    if (mask == UNKNOWN).any():
        bad = sorted(int(c) for c in np.unique(codes[mask == UNKNOWN]))
        raise BadFileError(path, f"unexpected class codes {bad[:8]} (known: {_known(table)})")
    return mask


def _known(table: np.ndarray) -> str:
    return ", ".join(str(c) for c in np.flatnonzero(table != UNKNOWN))


def label_fields(mask: np.ndarray, n_classes: int, threshold: float, path: str | Path) -> dict[str, np.ndarray]:
    """``fractions`` (share of each class among labelled pixels), ``labels`` (multi-hot, share >
    ``threshold``) and ``label`` (the largest share) of a ``(H, W)`` mask with -1 for ignored pixels.

    A patch without any labelled pixel cannot be labelled: :class:`SkipSample`.
    """
    valid = mask[mask >= 0]
    if valid.size == 0:
        raise SkipSample(f"{path}: no pixel of the {n_classes} classes (all no-data or ignored codes)")
    fractions = (np.bincount(valid, minlength=n_classes)[:n_classes] / valid.size).astype(np.float32)
    return {
        "fractions": fractions,
        "labels": (fractions > threshold).astype(np.float32),
        "label": np.int64(fractions.argmax()),
    }
