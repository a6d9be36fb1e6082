"""Small array helpers shared by the synthetic-dataset tests."""

from __future__ import annotations

import numpy as np


def interior(mask: np.ndarray, cls: int, margin: int = 3) -> np.ndarray:
    """Pixels of class ``cls`` at least ``margin`` px (chessboard distance) from any other class: ``(N, H, W)`` bool."""
    inside = mask == cls
    out = inside.copy()
    for dy in range(-margin, margin + 1):
        for dx in range(-margin, margin + 1):
            shifted = np.roll(inside, (dy, dx), axis=(1, 2))
            out &= shifted
    # np.roll wraps around: drop a frame of `margin` pixels where the wrap could leak
    out[:, :margin] = out[:, -margin:] = False
    out[:, :, :margin] = out[:, :, -margin:] = False
    return out


def mean_spectrum(x: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Mean over the selected pixels of ``x (N, C, H, W)``: ``(C,)``."""
    return x.transpose(1, 0, 2, 3)[:, where].mean(axis=1)


def highpass_energy(band: np.ndarray, where: np.ndarray) -> float:
    """Mean squared difference between horizontal and vertical neighbours, over pixels in ``where``
    (``band (N, H, W)``): a measure of fine texture."""
    dx = (band[:, :, 1:] - band[:, :, :-1]) ** 2
    dy = (band[:, 1:, :] - band[:, :-1, :]) ** 2
    w = where[:, 1:, 1:] & where[:, :-1, 1:] & where[:, 1:, :-1]
    return float((dx[:, 1:, :][w].mean() + dy[:, :, 1:][w].mean()) / 2)
