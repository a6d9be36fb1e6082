"""Matplotlib figures of the report and of each combination's run.

Figures are built on :class:`matplotlib.figure.Figure` directly (not pyplot): no
global state and no display backend, so drawing is safe in the driver process of
a grid; ``savefig`` renders with Agg.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .colors import NO_CLASS

CORRELATION_CMAP = "RdBu_r"


def save(fig: Figure, path: Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05, facecolor="white")
    return path


def similarity_heatmaps(methods: Sequence[str], panels: Sequence[tuple[str, np.ndarray]], title: str) -> Figure:
    """Method x method matrices side by side, one shared colour scale from -1 to 1.

    ``panels``: ``(panel title, (M, M) matrix)``; NaN cells (undefined correlation) are grey.
    Values are written in the cells while there are at most 12 methods.
    """
    m = len(methods)
    side = max(2.2, 0.45 * m + 1.0)
    fig = Figure(figsize=(side * len(panels) + 0.8, side + 0.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (name, matrix) in zip(axes, panels):
        masked = np.ma.masked_invalid(matrix)
        image = ax.imshow(masked, cmap=_cmap_with_bad(CORRELATION_CMAP), vmin=-1, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(m), methods, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(m), methods if ax is axes[0] else [""] * m, fontsize=8)
        if m <= 12:
            for i in range(m):
                for j in range(m):
                    v = matrix[i, j]
                    ax.text(j, i, "–" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if np.isfinite(v) and abs(v) > 0.6 else "black")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="Pearson r")
    fig.suptitle(title, fontsize=10)
    return fig


def _cmap_with_bad(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#cccccc")


def class_legend(fig: Figure, class_names: Sequence[str], colors: Sequence[str], note: str | None = None) -> None:
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.5, label=n) for n, c in zip(class_names, colors)]
    if note:
        handles.append(Patch(facecolor=NO_CLASS, edgecolor="#555555", linewidth=0.5, label=note))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), fontsize=8, frameon=False)


def map_grid(rgb: np.ndarray, truth: np.ndarray | None, columns: Sequence[tuple[str, np.ndarray]],
             class_names: Sequence[str], colors: Sequence[str], title: str, rgb_title: str = "RGB (B4, B3, B2)") -> Figure:
    """One row per sample: RGB ``(N, H, W, 3)``, ground truth and each column's class map.

    ``truth`` and the columns' maps are colour images ``(N, H, W, 3)`` uint8 already in
    the class colours (:func:`~.imagery.colorize`).
    """
    n = len(rgb)
    cols = [(rgb_title, rgb)] + ([("ground truth", truth)] if truth is not None else []) + list(columns)
    fig = Figure(figsize=(1.35 * len(cols), 1.35 * n + 0.9), layout="constrained")
    axes = fig.subplots(n, len(cols), squeeze=False)
    for j, (name, images) in enumerate(cols):
        axes[0, j].set_title(name, fontsize=8)
        for i in range(n):
            axes[i, j].imshow(images[i], interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    for i in range(n):
        axes[i, 0].set_ylabel(f"sample {i}", fontsize=8)
    class_legend(fig, class_names, colors, note="no class / no data")
    fig.suptitle(title, fontsize=10)
    return fig


def heatmap_grid(images: np.ndarray, image_title: str, columns: Sequence[tuple[str, np.ndarray]],
                 row_labels: Sequence[str], title: str) -> Figure:
    """One row per sample: the image ``(N, H, W, 3)`` (0-1) and each column's signed heatmap ``(N, H, W)``.

    Each heatmap has its own symmetric colour range ``[-max|a|, max|a|]`` (red positive,
    blue negative), because raw attributions of different methods have unrelated units.
    """
    n = len(images)
    cols = [(image_title, images), *columns]
    fig = Figure(figsize=(1.35 * len(cols), 1.35 * n + 0.7), layout="constrained")
    axes = fig.subplots(n, len(cols), squeeze=False)
    for j, (name, maps) in enumerate(cols):
        axes[0, j].set_title(name, fontsize=7)
        for i in range(n):
            if j == 0:
                axes[i, j].imshow(maps[i], interpolation="nearest")
            else:
                bound = float(np.nanmax(np.abs(maps[i]))) or 1.0
                axes[i, j].imshow(maps[i], cmap=CORRELATION_CMAP, vmin=-bound, vmax=bound, interpolation="nearest")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    for i, label in enumerate(row_labels):
        axes[i, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def grouped_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                 ylabel: str, title: str, ylim: tuple[float, float] | None = None) -> Figure:
    """Bars per group (methods on x), one colour per series ``(label, means, stds)``; NaN bars are left out."""
    fig = Figure(figsize=(max(3.5, 0.9 * len(groups) * max(1, len(series)) ** 0.5 + 1.5), 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (label, means, stds) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, means, width, yerr=stds, capsize=3, label=label)
    ax.set_xticks(x, groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.axhline(0, color="black", linewidth=0.6)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    return fig


def cell_figure(rgb: np.ndarray | None, truth: np.ndarray | None, predominant: np.ndarray, mean_abs: np.ndarray,
                class_names: Sequence[str], colors: Sequence[str], title: str, tile: int = 96) -> Figure:
    """One combination's maps: per sample the RGB, truth, predominant-class map and mean |attribution| per class.

    ``rgb`` ``(N, H, W, 3)`` floats 0-1, ``truth``/``predominant`` ``(N, H, W, 3)`` uint8
    (``None`` leaves a column out), ``mean_abs`` ``(N, K)``.  The pictures are one mosaic
    in a single axes (a grid of axes costs about 20 ms per axes to lay out).
    """
    from .imagery import bar_tile, mosaic, upscale

    n, h, w = predominant.shape[:3]
    factor = max(1, tile // max(h, w))
    pictures = [(t, im) for t, im in (("RGB", rgb), ("ground truth", truth), ("predominant class", predominant))
                if im is not None]
    pictures = [(t, upscale(np.asarray(im * 255 if im.dtype.kind == "f" else im, dtype=np.uint8), factor))
                for t, im in pictures]
    th, tw = pictures[0][1].shape[1:3]
    lut = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=np.uint8)
    bars = [bar_tile(mean_abs[i], lut, th, int(tw * 1.5)) for i in range(n)]
    grid = mosaic([[im[i] for _, im in pictures] + [bars[i]] for i in range(n)])
    gh, gw = grid.shape[:2]
    left, right, top, bottom = 24, 56, 44, 48  # pixels around the mosaic: labels, "max" notes, title, legend
    fw, fh = gw + left + right, gh + top + bottom
    fig = Figure(figsize=(fw / 72, fh / 72), dpi=72)
    ax = fig.add_axes((left / fw, bottom / fh, gw / fw, gh / fh))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    x = 0
    for name, width in [(t, tw) for t, _ in pictures] + [("mean |attribution| per class", int(tw * 1.5))]:
        ax.text(x + width / 2, -4, name, ha="center", va="bottom", fontsize=8)
        x += width + 2
    for i in range(n):
        ax.text(-4, i * (th + 2) + th / 2, f"sample {i}", ha="right", va="center", rotation=90, fontsize=8)
        ax.text(gw + 2, i * (th + 2) + 4, f"max {mean_abs[i].max():.2g}", ha="left", va="top", fontsize=6)
    fig.suptitle(title, fontsize=9, y=1 - 4 / fh, va="top")
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.5, label=nm) for nm, c in zip(class_names, colors)]
    handles.append(Patch(facecolor=NO_CLASS, edgecolor="#555555", linewidth=0.5, label="none / no data"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=7, frameon=False,
               borderaxespad=0.2)
    return fig
