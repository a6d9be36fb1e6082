"""Arrays to pictures: RGB composites of Sentinel-2 patches and class maps of attributions.

Pure numpy, except for the bilinear resampling of coarse (deep-layer) maps, which uses
``torch.nn.functional.interpolate`` exactly as the ``segmentation-agreement`` metric does,
so that a figure shows the classes the metric scored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RGB_BANDS = ("B4", "B3", "B2")
OUTLINE = np.array([85, 85, 85], dtype=np.uint8)


def rgb_composite(x: np.ndarray, band_names: Sequence[str], bands: Sequence[str] = RGB_BANDS,
                  percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """True-colour composite of ``x`` ``(N, C, H, W)`` (reflectance 0-1) as ``(N, H, W, 3)`` floats in 0-1.

    Each image is stretched linearly between the ``percentiles`` of its three channels
    together (one range for all three, so hues are kept).  When a band of ``bands`` is
    missing (a SAR-only input), the first channel is shown in grey.
    """
    names = list(band_names)
    idx = [names.index(b) for b in bands] if all(b in names for b in bands) else [0, 0, 0]
    rgb = np.moveaxis(np.asarray(x, dtype=np.float32)[:, idx], 1, -1)
    lo, hi = np.percentile(rgb.reshape(len(rgb), -1), percentiles, axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    return np.clip((rgb - lo[:, None, None, None]) / scale[:, None, None, None], 0.0, 1.0)


def composite_title(band_names: Sequence[str], bands: Sequence[str] = RGB_BANDS) -> str:
    """What :func:`rgb_composite` shows for these bands: ``"RGB (B4, B3, B2)"`` or ``"VV (grey)"``."""
    names = list(band_names)
    if all(b in names for b in bands):
        return f"RGB ({', '.join(bands)})"
    return f"{names[0] if names else 'band 0'} (grey)"


def class_map(attributions: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """The predominant class of each position, ``(N, H, W)`` int64, from maps ``(N, K, H_l, W_l)``.

    ``(N, K, D, H_l, W_l)`` maps are summed over ``D``.  With ``size``, maps are first
    resized bilinearly (``align_corners=False``) like the segmentation metric does.
    Positions where every class has the same value (no predominant class, e.g. an
    all-zero Grad-CAM region) are ``-1``.
    """
    a = np.asarray(attributions, dtype=np.float32)
    if a.ndim == 5:
        a = a.sum(axis=2)
    if a.ndim != 4:
        raise ValueError(f"attributions must be (N, K, H, W) or (N, K, D, H, W), got shape {a.shape}")
    if size is not None and tuple(a.shape[-2:]) != tuple(size):
        import torch

        with torch.no_grad():
            a = torch.nn.functional.interpolate(torch.from_numpy(a), size=tuple(size), mode="bilinear",
                                                align_corners=False).numpy()
    labels = a.argmax(axis=1)
    labels[a.max(axis=1) == a.min(axis=1)] = -1
    return labels


def class_heatmap(attributions: np.ndarray, classes: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Each sample's map of one class, ``(N, H, W)`` float32, from maps ``(N, K, H_l, W_l)``.

    ``classes`` ``(N,)`` picks the class per sample; ``(N, K, D, H_l, W_l)`` maps are
    summed over ``D``; with ``size``, maps are resized bilinearly like :func:`class_map`.
    """
    a = np.asarray(attributions, dtype=np.float32)
    if a.ndim == 5:
        a = a.sum(axis=2)
    picked = a[np.arange(len(a)), np.asarray(classes, dtype=np.int64)][:, None]
    if size is not None and tuple(picked.shape[-2:]) != tuple(size):
        import torch

        with torch.no_grad():
            picked = torch.nn.functional.interpolate(torch.from_numpy(np.ascontiguousarray(picked)), size=tuple(size),
                                                     mode="bilinear", align_corners=False).numpy()
    return picked[:, 0]


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``(..., H, W)`` class indices to ``(..., H, W, 3)`` uint8 through ``lut`` ``(K + 1, 3)``.

    Indices outside ``[0, K)`` (no-data codes, ``-1``) take the last entry of ``lut``.
    """
    k = len(lut) - 1
    idx = np.where((labels >= 0) & (labels < k), labels, k)
    return lut[idx]


def mean_abs_per_class(attributions: np.ndarray) -> np.ndarray:
    """Mean absolute attribution of each class map, ``(N, K)``, from ``(N, K, ...)`` maps."""
    a = np.asarray(attributions)
    return np.abs(a.reshape(a.shape[0], a.shape[1], -1)).mean(axis=2)


def bar_tile(values: np.ndarray, rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Horizontal bars as a ``(height, width, 3)`` uint8 picture: one bar per value, top to bottom,
    in the colours ``rgb`` ``(K, 3)``, lengths relative to the largest value (white background).

    Drawn in numpy because one small image per figure row is much cheaper than a
    matplotlib axes per row (the per-run figure must take well under a second).
    """
    tile = np.full((height, width, 3), 255, dtype=np.uint8)
    k = len(values)
    top = np.nanmax(values) if k and np.isfinite(values).any() else 0.0
    edges = np.linspace(0, height, k + 1).round().astype(int)
    for i, v in enumerate(values):
        length = int(round(width * v / top)) if top > 0 and np.isfinite(v) else 0
        y0, y1 = edges[i], edges[i + 1]
        gap = 1 if y1 - y0 > 3 else 0
        if length:
            tile[y0 + gap:y1 - gap, :length] = OUTLINE  # a dark outline keeps pale classes (Barren) visible
            tile[y0 + gap + 1:y1 - gap - 1, 1:length - 1] = rgb[i]
    return tile


def mosaic(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tiles ``(h, w_j, 3)`` uint8 (same ``h`` in a row, same widths per column) in one white-spaced picture."""
    widths = [t.shape[1] for t in rows[0]]
    height = rows[0][0].shape[0]
    out = np.full((len(rows) * (height + gap) - gap, sum(widths) + gap * (len(widths) - 1), 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        x = 0
        for tile, w in zip(row, widths):
            y = i * (height + gap)
            out[y:y + height, x:x + w] = tile
            x += w + gap
    return out


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of ``(N, H, W, 3)`` images by an integer factor."""
    return images if factor <= 1 else images.repeat(factor, axis=1).repeat(factor, axis=2)
