"""Agreement between the predominant class of attributions and the segmentation ground truth."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from xaibench.capabilities import MASK
from xaibench.components import Metric, MetricContext, MetricValue, Params, Scope

from .arrays import channel_summed

_CHUNK_BYTES = 256 * 2**20
"""Upper bound on the upsampled float32 maps held at once."""


def predominant_class(attributions: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Argmax over classes of ``(N, classes, h, w)`` attributions at ``size`` = ``(H, W)``.

    Maps of another size are first upsampled bilinearly
    (``torch.nn.functional.interpolate``, ``align_corners=False``), a chunk of
    samples at a time.  Returns ``(N, H, W)`` int64 class indices.
    """
    n, k, h, w = attributions.shape
    if (h, w) == tuple(size):
        return attributions.argmax(axis=1).astype(np.int64)

    import torch
    import torch.nn.functional as F

    out = np.empty((n, *size), dtype=np.int64)
    step = max(1, _CHUNK_BYTES // (4 * k * size[0] * size[1]))
    with torch.no_grad():
        for start in range(0, n, step):
            block = torch.from_numpy(np.ascontiguousarray(attributions[start : start + step], dtype=np.float32))
            up = F.interpolate(block, size=tuple(size), mode="bilinear", align_corners=False)
            out[start : start + step] = up.argmax(dim=1).numpy()
    return out


class SegmentationAgreement(Metric):
    """How often the class with the largest attribution at a pixel is that pixel's true class.

    Each position's attribution vector over classes is reduced to its argmax (after
    bilinear upsampling to the mask's size when the attribution map is coarser,
    e.g. at a deep layer) and compared with ``test/mask``.  Statistics:
    ``accuracy``, ``f1_micro``, ``f1_macro``, ``iou_mean`` and, per class,
    ``f1`` / ``iou`` with ``sub_key`` = class name (sklearn.metrics).

    Explicit conventions:

    - mask values outside ``[0, classes)`` (no-data codes such as -1 or 255) are ignored;
    - a class absent from both the ground truth and the prediction has an undefined
      F1/IoU (0/0): it gets no per-class row and is left out of ``f1_macro`` and
      ``iou_mean``.  A class present in only one of them scores 0 and counts.
    """

    name: ClassVar[str] = "segmentation-agreement"
    version: ClassVar[str] = "1"
    scope: ClassVar[Scope] = "attribution"
    higher_is_better: ClassVar[bool | None] = True
    headline: ClassVar[str | None] = "f1_micro"
    requires: ClassVar[frozenset[str]] = frozenset({MASK})
    streams: ClassVar[bool] = True

    class Params(Params):
        pass

    def evaluate(self, ctx: MetricContext) -> list[MetricValue]:
        from sklearn.metrics import accuracy_score, f1_score, jaccard_score

        from xaibench.arrays import iter_chunks, rows_for

        if ctx.attributions is None:
            raise ValueError("segmentation-agreement needs the attributions of an attribution-scope context")
        masks, attributions = ctx.data.rows("test/mask"), ctx.attributions
        if len(attributions) != len(masks):
            raise ValueError(f"{len(attributions)} attribution maps for {len(masks)} masks")
        n_classes = attributions.shape[1]
        # The confusion counts of each (truth, prediction) pair, summed a chunk of samples at a time
        # (exact).  sklearn's input validation costs seconds per call on millions of pixels, so each
        # distinct pair is then passed once, weighted by its count: the same scores, computed on at
        # most classes**2 rows.
        counts = np.zeros(n_classes**2, np.int64)
        rows = rows_for(ctx.memory_budget_mb * 2**20 // 8, attributions, masks)
        for start, block in iter_chunks(attributions, rows):
            mask = np.asarray(masks[start:start + len(block)])
            pred = predominant_class(channel_summed(np.asarray(block)), mask.shape[1:])
            valid = (mask >= 0) & (mask < n_classes)
            counts += np.bincount(mask[valid] * n_classes + pred[valid], minlength=n_classes**2)
        if not counts.any():
            raise ValueError("segmentation-agreement: the mask has no pixel with a valid class index")
        pairs = np.flatnonzero(counts)
        truth, pred, weight = pairs // n_classes, pairs % n_classes, counts[pairs]

        present = np.union1d(truth, pred).tolist()
        # zero_division only matters for absent classes, which are not in ``present``.
        f1 = f1_score(truth, pred, labels=present, average=None, sample_weight=weight, zero_division=0.0)
        iou = jaccard_score(truth, pred, labels=present, average=None, sample_weight=weight, zero_division=0.0)
        f1_micro = f1_score(truth, pred, labels=present, average="micro", sample_weight=weight)

        values = [
            MetricValue("accuracy", float(accuracy_score(truth, pred, sample_weight=weight))),
            MetricValue("f1_micro", float(f1_micro)),
            MetricValue("f1_macro", float(np.mean(f1))),
            MetricValue("iou_mean", float(np.mean(iou))),
        ]
        names = ctx.data_info.classes
        for c, f, j in zip(present, f1, iou, strict=True):
            label = names[c] if c < len(names) else str(c)
            values.append(MetricValue("f1", float(f), sub_key=label))
            values.append(MetricValue("iou", float(j), sub_key=label))
        return values
