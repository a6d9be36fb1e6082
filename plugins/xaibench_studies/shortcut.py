"""The shortcut check of the bioclimatic-context study (Leonhardt et al., Sec. 4.5).

A bioclimate-aware model that learned a shortcut through its auxiliary vector would look at
different places in the image than an agnostic model.  Grad-CAM at the last layer of each
model, upsampled bicubically to the image size, is compared between the aware and the
agnostic model by Pearson correlation: a high correlation means no shortcut.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

import xaibench.components as xc


def aware(info: xc.ModelInfo) -> bool:
    """Whether the model reads an auxiliary vector besides the image."""
    return "aux-input" in info.provides


def class_mask(data, split: str, task: str, n_classes: int, which: str) -> np.ndarray:
    """Bool ``(N, classes)``: the classes whose maps are compared for each sample.

    ``which="target"``: the sample's true class (single-label) or present classes
    (multi-label); ``"all"``: every class.
    """
    n = len(data[f"{split}/x"])
    if which == "all":
        return np.ones((n, n_classes), dtype=bool)
    from .scoring import targets

    truth = targets(data, split, task)
    if truth.ndim == 2:
        return truth.astype(bool)
    mask = np.zeros((n, n_classes), dtype=bool)
    mask[np.arange(n), truth] = True
    return mask


def upsample_bicubic(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Maps ``(N, classes, h, w)`` (or ``(N, classes, D, h, w)``, summed over ``D``) to ``(N, classes, *size)``."""
    import torch
    import torch.nn.functional as F

    if maps.ndim == 5:
        maps = maps.sum(axis=2)
    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))
    if tuple(t.shape[-2:]) != tuple(size):
        t = F.interpolate(t, size=size, mode="bicubic", align_corners=False)
    return t.numpy()


def per_sample_pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson correlation ``(N,)`` of each sample's selected class maps; NaN where one is constant.

    ``a``, ``b``: ``(N, classes, H, W)``; ``mask``: bool ``(N, classes)``.
    """
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        x, y = a[i][mask[i]].ravel().astype(np.float64), b[i][mask[i]].ravel().astype(np.float64)
        if x.size < 2:
            continue
        x, y = x - x.mean(), y - y.mean()
        denom = np.sqrt((x * x).sum() * (y * y).sum())
        if denom > 0:
            out[i] = float((x * y).sum() / denom)
    return out


class ShortcutCheck(xc.Metric):
    """Pearson correlation of upsampled attribution maps between aware and agnostic models.

    Runs once per (dataset, seed, layer, method, post-processor) over the models of the
    grid (scope ``models``); use it with ``gradcam`` at each model's last layer, as the
    paper does.  References are the ``reference`` models (default: every member that takes
    no auxiliary vector; the first member when none or all take one); every other member is
    compared with each reference.  Maps are upsampled bicubically to the image size and
    correlated per test sample over the chosen classes' maps.  Statistics, per compared
    model (``MetricValue.model``) and reference (``sub_key``): ``pearson`` (mean over
    samples, in [-1, 1]; high means both look at the same places, so no shortcut),
    ``pearson_std`` and ``n`` (samples with a defined correlation).
    """

    name: ClassVar[str] = "shortcut-check"
    version: ClassVar[str] = "1"
    scope: ClassVar[xc.Scope] = "models"
    # A check on models, not a score of methods: rankings of methods leave it out.
    higher_is_better: ClassVar[bool | None] = None
    headline: ClassVar[str | None] = "pearson"

    class Params(xc.Params):
        reference: list[str] = Field(default_factory=list,
                                     description="model aliases of the agnostic references (default: members without aux input)")
        classes: Literal["target", "all"] = Field("target", description="compare the true classes' maps, or every class's")
        split: Literal["test"] = Field("test", description="the split whose attributions the grid computed")

    def evaluate(self, ctx: xc.MetricContext) -> list[xc.MetricValue]:
        p = self.params
        members = list(ctx.group)
        unknown = [r for r in p.reference if r not in members]
        if unknown:
            raise ValueError(f"reference models {unknown} are not in this group (members: {members})")
        refs = p.reference or [m for m in members if m in ctx.group_info and not aware(ctx.group_info[m])]
        if not refs or len(refs) == len(members):  # no agnostic/aware split: compare with the first member
            refs = members[:1]
        size = tuple(ctx.data[f"{p.split}/x"].shape[-2:])
        mask = class_mask(ctx.data, p.split, ctx.data_info.task, ctx.data_info.n_classes, p.classes)
        maps = {m: upsample_bicubic(ctx.group[m], size) for m in members}
        out: list[xc.MetricValue] = []
        for m in members:
            if m in refs:
                continue
            for r in refs:
                r_ = per_sample_pearson(maps[m], maps[r], mask)
                ok = r_[np.isfinite(r_)]
                mean = float(ok.mean()) if ok.size else float("nan")
                std = float(ok.std()) if ok.size else float("nan")
                out += [xc.MetricValue("pearson", mean, sub_key=r, model=m),
                        xc.MetricValue("pearson_std", std, sub_key=r, model=m),
                        xc.MetricValue("n", float(ok.size), sub_key=r, model=m)]
        return out
