"""Torch side of the faithfulness metrics: the layer's features, the head, and batched scoring of
perturbed copies of the features.

At ``input`` the features are the input and the head is the whole model; at a layer the body runs
once and only the head runs on the perturbed features.  A perturbation is a boolean mask over the
layer's positions ``H_l * W_l`` (every channel of a position, every band of a pixel, together) and
a fill: the baseline's values, or (ROAD) values imputed from the kept neighbours.  Every
(sample, map, step) row of a budget-sized chunk goes through one head forward.

Imported lazily by the metrics' ``evaluate`` (it imports torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from xaibench.components import MetricContext

from ..arrays import channel_summed
from ..explain import model_device, resolve_targets

Output = Literal["auto", "logit", "probability"]
Baseline = Literal["zero", "mean", "blur"] | float
Fill = Callable[[np.ndarray, np.ndarray], torch.Tensor]
"""``fill(samples (p,), masks (p, S, P)) -> (p, S, D, H, W)``: the perturbed features of each row."""


@dataclass
class Setup:
    """What every faithfulness metric works on, for ``n`` samples and ``T`` maps per sample.

    ``feats`` ``(n, D, H, W)`` float32 (the input at ``input``); ``aux`` ``(n, A)`` or ``None``;
    ``maps`` ``(n, T, H, W)`` float64, the channel-summed attribution of class ``classes[i, t]``;
    ``base`` ``(n, D, H, W)``, the baseline's features; ``output``: ``"logit"``, ``"softmax"``,
    ``"sigmoid"`` (the class's value), or ``"hit"``
    (1 when the class is the top logit, else 0); ``budget_bytes``: the perturbed features held at once;
    ``channels_last``: score 4-d features in channels-last layout (:func:`channels_last_ok`).
    """

    feats: torch.Tensor
    aux: torch.Tensor | None
    head: Any
    maps: np.ndarray
    classes: np.ndarray
    base: torch.Tensor
    output: str
    budget_bytes: int
    channels_last: bool = False

    @property
    def positions(self) -> int:
        return int(self.feats.shape[-2] * self.feats.shape[-1])

    def rows_per_forward(self) -> int:
        """Perturbed rows scored by one head forward (activations are larger than the features)."""
        return max(1, self.budget_bytes // (16 * int(np.prod(self.feats.shape[1:])) * 4))

    def scores(self, feats: torch.Tensor, samples: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Scored output ``(B,)`` float64 of ``classes[b]`` for the features ``feats[b]`` of sample ``samples[b]``."""
        per_forward = self.rows_per_forward()
        if self.channels_last and feats.dim() == 4:  # a no-op for baseline_fill's rows, already in that layout
            feats = feats.contiguous(memory_format=torch.channels_last)
        out = []
        with torch.no_grad():
            for s in range(0, len(feats), per_forward):
                sl = slice(s, s + per_forward)
                aux = None if self.aux is None else self.aux[torch.as_tensor(samples[sl], device=self.aux.device)]
                logits = self.head(feats[sl], aux).float()
                idx = torch.as_tensor(classes[sl], device=logits.device)
                if self.output == "hit":
                    out.append((logits.argmax(dim=1) == idx).double().cpu().numpy())
                    continue
                if self.output == "softmax":
                    logits = logits.softmax(dim=1)
                elif self.output == "sigmoid":
                    logits = logits.sigmoid()
                out.append(logits[torch.arange(len(idx), device=logits.device), idx].double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def original(self) -> np.ndarray:
        """Scored output of the unperturbed features ``(n, T)``."""
        n, t = self.classes.shape
        samples = np.repeat(np.arange(n), t)
        feats = self.feats[torch.as_tensor(samples, device=self.feats.device)]
        return self.scores(feats, samples, self.classes.reshape(-1)).reshape(n, t)

    def baseline_fill(self, samples: np.ndarray, masks: np.ndarray) -> torch.Tensor:
        """The features with masked positions replaced by the baseline's: ``(p, S, D, H, W)``
        (with ``channels_last``, a view of a ``(p, S, H, W, D)`` tensor: its rows are channels-last)."""
        idx = torch.as_tensor(samples, device=self.feats.device)
        f, b = self.feats[idx], self.base[idx]
        m = torch.as_tensor(masks, device=f.device)
        if not self.channels_last:
            return torch.where(m.reshape(*masks.shape[:2], 1, *f.shape[-2:]), b[:, None], f[:, None])
        f, b = f.permute(0, 2, 3, 1).contiguous(), b.permute(0, 2, 3, 1).contiguous()  # (p, H, W, D)
        m = m.reshape(*masks.shape[:2], *f.shape[1:3], 1)
        if bool(torch.isfinite(f).all() and torch.isfinite(b).all()):
            # f * (1 - m) + b * m is exactly where(m, b, f) for finite values, and 3x faster than
            # where's broadcast of the mask over the innermost (channel) dimension
            mf = m.to(f.dtype)
            out = torch.addcmul(f[:, None] * (1 - mf), b[:, None], mf)
        else:
            out = torch.where(m, b[:, None], f[:, None])
        return out.permute(0, 1, 4, 2, 3)

    def run(self, masks: Callable[[np.ndarray, np.ndarray], np.ndarray], fill: Fill | None = None) -> np.ndarray:
        """Scores ``(n, T, S)`` of each map's class when ``masks(samples, maps) -> (p, S, P)`` bool
        (``True``: perturbed) is applied to the features of ``samples`` for their maps ``maps``.

        The (sample, map) pairs go in chunks whose ``p * S`` perturbed copies make one head forward
        (about one, for ``S`` above it): built per forward, the copies stay small and in cache
        (one budget-sized tensor of every copy spent a quarter of the time at the input filling it).
        """
        fill = fill or self.baseline_fill
        n, t = self.classes.shape
        samples, maps = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
        first = masks(samples[:1], maps[:1])
        steps = first.shape[1]
        per_chunk = max(1, self.rows_per_forward() // steps)
        out = np.empty((n * t, steps))
        for s in range(0, n * t, per_chunk):
            sl = slice(s, s + per_chunk)
            ps, pm = samples[sl], maps[sl]
            perturbed = fill(ps, masks(ps, pm))  # (p, S, D, H, W)
            rows = perturbed.reshape(-1, *perturbed.shape[2:])
            scored = self.scores(rows, np.repeat(ps, steps), np.repeat(self.classes[ps, pm], steps))
            out[sl] = scored.reshape(len(ps), steps)
        return out.reshape(n, t, steps)


def baseline_features(feats: torch.Tensor, kind: Baseline, blur_sigma: float) -> torch.Tensor:
    """The baseline a removed position takes, ``(n, D, H, W)``: ``zero``; ``mean``, each sample's
    per-channel mean over positions; ``blur``, the features blurred by a Gaussian of ``blur_sigma``
    positions (edge values repeated at the border, per channel); a number: that constant everywhere."""
    if kind == "zero":
        return torch.zeros_like(feats)
    if kind == "mean":
        return feats.mean(dim=(-2, -1), keepdim=True).expand_as(feats).contiguous()
    if kind == "blur":
        radius = max(1, int(np.ceil(3 * blur_sigma)))
        ax = torch.arange(-radius, radius + 1, dtype=torch.float32, device=feats.device)
        k1 = torch.exp(-0.5 * (ax / blur_sigma) ** 2)
        k1 = k1 / k1.sum()
        d = feats.shape[1]
        out = F.pad(feats, (radius, radius, radius, radius), mode="replicate")
        out = F.conv2d(out, k1.view(1, 1, -1, 1).repeat(d, 1, 1, 1), groups=d)
        return F.conv2d(out, k1.view(1, 1, 1, -1).repeat(d, 1, 1, 1), groups=d)
    return torch.full_like(feats, float(kind))


def scored_output(output: Output, task: str) -> str:
    """``auto``/``probability`` read as softmax for single-label tasks and sigmoid for multi-label ones."""
    if output == "logit":
        return "logit"
    return "sigmoid" if task == "multilabel" else "softmax"


def prepare(ctx: MetricContext, target: Any, max_instances: int | None, baseline: Baseline, output: Output,
            blur_sigma: float = 1.0) -> Setup:
    """The :class:`Setup` of an attribution-scope context.

    ``target``: ``"predicted"`` (each sample's top class), a class index, or ``"all"`` (every
    class's map, each scored on its own class).  The attributions must be at the layer's grid
    (``(N, K, [D,] H_l, W_l)`` with ``H_l, W_l`` the features'), as the stored maps are.
    """
    if ctx.attributions is None or ctx.layer is None:
        raise ValueError("faithfulness metrics need an attribution-scope context (attributions and layer)")
    model = ctx.load_model()
    device = model_device(model)
    x_all = ctx.data.rows("test/x")
    n = len(x_all) if max_instances is None else min(len(x_all), max_instances)
    rows = np.arange(n)
    x = torch.as_tensor(np.ascontiguousarray(np.asarray(x_all[rows]), dtype=np.float32), device=device)
    aux = None
    if "test/aux" in ctx.data:
        aux = torch.as_tensor(np.asarray(ctx.data.rows("test/aux")[rows], dtype=np.float32), device=device)
    body, head = model.split(ctx.layer)
    with torch.no_grad():
        feats = body(x, aux).float()
    attributions = channel_summed(np.asarray(ctx.attributions[rows], dtype=np.float64))
    if attributions.shape[-2:] != tuple(feats.shape[-2:]):
        raise ValueError(f"attributions at layer {ctx.layer!r} are {attributions.shape[-2:]}, "
                         f"the layer's features {tuple(feats.shape[-2:])}")
    n_classes = attributions.shape[1]
    if target == "all":
        classes = np.tile(np.arange(n_classes), (n, 1))
    else:
        classes = resolve_targets(target, ctx.data, n_classes, lambda: model, rows=rows)[:, None]
    maps = np.take_along_axis(attributions, classes[:, :, None, None], axis=1)
    return Setup(feats=feats, aux=aux, head=head, maps=maps, classes=classes.astype(np.int64),
                 base=baseline_features(feats, baseline, blur_sigma),
                 output=scored_output(output, ctx.data_info.task), budget_bytes=ctx.memory_budget_mb * 2**20 // 4,
                 channels_last=channels_last_ok(head, feats, aux))


def channels_last_ok(head: Any, feats: torch.Tensor, aux: torch.Tensor | None) -> bool:
    """Whether ``head`` gives the same logits (to 1e-5 relative) on ``(n, D, H, W)`` features in
    channels-last layout, checked on two samples.  That layout made ResNet-18's CPU forward at the
    input 1.45x faster (oneDNN's convolutions and pooling prefer it); a head that cannot take it
    (a ``.view`` of its input) or gives other numbers keeps the default layout, and so do grids
    under 8 x 8 positions (ResNet-18's 4 x 4 ``deep``: the layout's conversions cost more there)."""
    if feats.dim() != 4 or min(feats.shape[-2:]) < 8:
        return False
    probe, probe_aux = feats[:2], None if aux is None else aux[:2]
    try:
        with torch.no_grad():
            ref = head(probe, probe_aux).float()
            got = head(probe.contiguous(memory_format=torch.channels_last), probe_aux).float()
    except RuntimeError:
        return False
    return bool(torch.allclose(got, ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()) + 1e-12))
