"""XAI entropy: how well a heatmap compresses (the SAR paper's "file size" measure)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .arrays import channel_summed, select_classes
from .png import encode_gray8
from .targets import Target, fixed_targets


def to_uint8(heatmap: np.ndarray) -> np.ndarray:
    """Min-max normalise one ``(H, W)`` map to 0-255 uint8 (a constant map becomes all 0)."""
    a = np.asarray(heatmap, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        return np.zeros(a.shape, dtype=np.uint8)
    return np.rint((a - lo) / (hi - lo) * 255.0).astype(np.uint8)


def png_kb(heatmap: np.ndarray, level: int = 9) -> float:
    """Size in KB (1 KB = 1024 bytes) of ``heatmap`` ``(H, W)`` as a normalised 8-bit PNG."""
    return len(encode_gray8(to_uint8(heatmap), level)) / 1024.0


class XaiEntropy(Metric):
    """Compressed size of each sample's heatmap for its target class, averaged: ``kb_mean``.

    Each map (channel-summed, signed values as the method returned them) is min-max
    normalised to 0-255 per sample, encoded as an 8-bit greyscale PNG (zlib, no row
    filter, level ``level``) and measured in KB (1024 bytes).  A noisy, detailed
    heatmap compresses badly; a smooth, concentrated one well, so lower is read as
    a simpler explanation.  Sizes are taken at the attribution map's own resolution
    (coarser at deep layers) unless ``upsample`` is set, in which case maps are
    first resized bilinearly to the input size; compare values within one layer.
    """

    name: ClassVar[str] = "xai-entropy"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "attribution"
    higher_is_better: ClassVar[bool | None] = False
    headline: ClassVar[str | None] = "kb_mean"
    streams: ClassVar[bool] = True

    class Params(Params):
        target: Target = "predicted"
        """Class whose map is measured: the model's top class, or a fixed class index."""
        level: int = 9
        """zlib compression level, 0-9."""
        upsample: bool = False
        """Resize maps to the input's H x W before encoding."""

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        from xaibench.arrays import iter_chunks, rows_for

        if ctx.attributions is None:
            raise ValueError("xai-entropy needs the attributions of an attribution-scope context")
        sizes: list[float] = []
        rows = rows_for(ctx.memory_budget_mb * 2**20 // 8, ctx.attributions, ctx.data.rows("test/x"))
        for start, block in iter_chunks(ctx.attributions, rows):  # per-sample sizes, a chunk at a time
            maps = channel_summed(np.asarray(block))
            heatmaps = select_classes(maps, self._targets(ctx, maps.shape[1], np.arange(start, start + len(maps))))
            if self.params.upsample:
                from .explain import upsample

                heatmaps = upsample(heatmaps[:, None], ctx.data.rows("test/x").shape[-2:])[:, 0]
            sizes += [png_kb(h, self.params.level) for h in heatmaps]
        return [MetricValue("kb_mean", float(np.mean(sizes)))]

    def _targets(self, ctx: MetricContext, n_classes: int, rows: np.ndarray) -> np.ndarray:
        target = self.params.target
        if target != "predicted":
            return fixed_targets(target, len(ctx.attributions), n_classes)[rows]
        from .explain import resolve_targets

        return resolve_targets("predicted", ctx.data, n_classes, ctx.load_model, rows=rows)
