"""Signed heatmaps of each method for each sample's true class (the SAR paper's Fig. 1).

Where the ``maps`` section shows which class wins at each position, this one shows how one
class's evidence is spread: the raw attribution of the sample's true class, red positive
and blue negative, each map on its own symmetric scale.  The Max-Sensitivity of the
combination, when the experiment measured it, follows the method's name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaibench_report import html
from xaibench_report.sections import ReportContext, section


def true_classes(data: Any, n: int) -> np.ndarray | None:
    """The class index ``(n,)`` of the first ``n`` test samples: ``label``, else the most present
    of ``labels``, else the mask's most frequent class; ``None`` when the data has none of them.
    ``data`` is a :class:`~xaibench.bundle.Bundle`; only the first ``n`` rows are read."""
    if "test/label" in data:
        return np.asarray(data.rows("test/label")[:n], dtype=np.int64)
    if "test/labels" in data:
        return np.asarray(data.rows("test/labels")[:n]).argmax(axis=1)
    if "test/mask" in data and data.rows("test/mask").ndim == 3:
        masks = np.asarray(data.rows("test/mask")[:n], dtype=np.int64)
        return np.array([np.bincount(m[m >= 0].ravel()).argmax() if (m >= 0).any() else 0 for m in masks])
    return None


KEYS = ("dataset", "model", "seed", "layer", "attribution", "postprocessor")


def _sensitivities(exp) -> dict[tuple, float]:
    """Max-Sensitivity ``mean`` per combination (``KEYS``), looked up once for the whole section."""
    aliases = set(exp.aliases("metric", "max-sensitivity"))
    return {tuple(r[k] for k in KEYS): r["value"] for r in exp.rows
            if r["metric"] in aliases and r["statistic"] == "mean" and r["status"] == "ok" and not r["sub_key"]}


@section("heatmaps", "Heatmaps of the true class", metrics=("max-sensitivity", "xai-entropy"), order=31)
def heatmaps(ctx: ReportContext) -> str | None:
    from xaibench.cache import CorruptEntry
    from xaibench_report.figures import heatmap_grid
    from xaibench_report.imagery import class_heatmap, composite_title, rgb_composite

    exp = ctx.experiment
    groups = exp.first_seed_cells()
    if not groups or exp.cache is None:
        return None
    several_pps = len({u["coords"]["postprocessor"] for _, _, g in groups for u in g}) > 1
    parts = [html.paragraph(
        f"The first {ctx.n_samples} test samples of the first seed: the image (true colour, or the first band in grey "
        "for SAR), then each method's raw attribution map of the sample's true class, resized to the image; red "
        "positive, blue negative, each map on its own symmetric scale. In parentheses: the combination's "
        "Max-Sensitivity, when measured.", note=True)]
    sensitivity = _sensitivities(exp)
    for (dataset, model, layer), seed, group in groups:
        try:
            data = exp.cache.get(group[0]["stages"]["data"])
        except (KeyError, CorruptEntry):
            continue
        classes = true_classes(data, ctx.n_samples)
        if classes is None or "test/x" not in data or data.rows("test/x").ndim != 4:
            continue
        x = data.rows("test/x")[: ctx.n_samples]
        info = data.meta.get("info", {})
        bands = [b.get("name", "") for b in info.get("bands", [])] or [f"band {i}" for i in range(x.shape[1])]
        names = list(info.get("classes") or [])
        columns = []
        for u in group:
            try:
                a = exp.cache.get(u["stages"]["attributions"]).rows("attributions")[: ctx.n_samples]
            except (KeyError, CorruptEntry):
                continue
            c = u["coords"]
            name = c["attribution"] + (f"\n{c['postprocessor']}" if several_pps else "")
            ms = sensitivity.get(tuple(c[k] for k in KEYS))
            columns.append((name + (f" ({ms:.3g})" if ms is not None else ""), class_heatmap(a, classes, x.shape[-2:])))
        if not columns:
            continue
        labels = [f"{i}: {names[k] if k < len(names) else k}" for i, k in enumerate(classes)]
        title = f"{model} at layer {layer} ({dataset}), seed {seed}"
        parts.append(html.heading(3, title))
        fig = heatmap_grid(rgb_composite(x, bands), composite_title(bands), columns, labels, title)
        parts.append(ctx.figure(fig, f"heatmaps-{dataset}-{model}-{layer}", alt=f"true-class heatmaps of {model}"))
    return "".join(parts) if len(parts) > 1 else None
