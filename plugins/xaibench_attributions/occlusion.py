"""Occlusion at a layer: sliding windows and k-means clusters of feature vectors.

Our own batched code rather than ``captum.attr.Occlusion(head)``: Captum evaluates one
target per call, so K classes would cost K forwards per occluded window, while one forward
of the head already gives every class's logit.  Here each (sample, group) pair is one head
row, all groups of a chunk of samples go through the head together, and the drop of every
logit is kept.  For windows, the per-element values are Captum's (drop averaged over the
windows covering the element; an element no window covers gets 0 where Captum gives NaN).
"""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
import torch

from .engine import Prepared, gather, take


def window_masks(height: int, width: int, windows: int = 8, window: int | None = None,
                 stride: int | None = None) -> torch.Tensor:
    """Occlusion windows as 0/1 masks ``(G, H, W)`` float32.

    With ``window`` unset: ``windows`` x ``windows`` non-overlapping tiles covering the map
    (equal when the size is divisible, else differing by one pixel; at most one tile per
    pixel).  Otherwise square ``window`` x ``window`` patches every ``stride`` pixels
    (default ``window``) from the top-left corner, as Captum's ``Occlusion``.
    """
    if window is None:
        rows = np.linspace(0, height, min(windows, height) + 1).round().astype(int)
        cols = np.linspace(0, width, min(windows, width) + 1).round().astype(int)
        spans = [(r0, r1, c0, c1) for r0, r1 in pairwise(rows) for c0, c1 in pairwise(cols)]
    else:
        stride = window if stride is None else stride
        if window > min(height, width):
            raise ValueError(f"occlusion window {window} larger than the {height}x{width} map")
        spans = [(r, r + window, c, c + window)
                 for r in range(0, height - window + 1, stride) for c in range(0, width - window + 1, stride)]
    masks = torch.zeros(len(spans), height, width)
    for g, (r0, r1, c0, c1) in enumerate(spans):
        masks[g, r0:r1, c0:c1] = 1.0
    return masks


def occlusion_drops(p: Prepared, sl: slice, masks: torch.Tensor, value: float) -> torch.Tensor:
    """Logit drops ``(n, G, K)`` when each group of ``masks`` is set to ``value`` in all channels.

    ``masks``: ``(G, H, W)`` shared by the samples of ``sl``, or ``(n, G, H, W)`` per sample.
    Runs without graph, ``(samples x groups)`` rows per head call, within the memory budget.
    """
    f = p.feats[sl]
    n, g_total = f.shape[0], masks.shape[-3]
    masks = masks.to(p.device)
    if masks.dim() == 3:
        masks = masks.expand(n, *masks.shape)
    rows = p.rows_per_chunk(1)
    group_chunk = max(1, min(g_total, rows // n))
    aux = take(p.aux, sl)
    drops = []
    with torch.no_grad():
        for g0 in range(0, g_total, group_chunk):
            m = masks[:, g0:g0 + group_chunk, None]  # (n, g, 1, H, W)
            g = m.shape[1]
            occluded = (f[:, None] * (1 - m) + value * m).reshape(n * g, *f.shape[1:])
            out = p.head(occluded, None if aux is None else aux.repeat_interleave(g, dim=0))
            drops.append(p.logits[sl, None, :] - out.float().reshape(n, g, -1))
    return torch.cat(drops, dim=1)


def _sample_chunks_for_groups(p: Prepared, n_groups: int):
    per_chunk = max(1, p.rows_per_chunk(1) // max(n_groups, 1))
    for s in range(0, p.n, per_chunk):
        yield slice(s, min(p.n, s + per_chunk))


def _spread(p: Prepared, sl: slice, drops: torch.Tensor, weights: torch.Tensor, keep_channels: bool) -> torch.Tensor:
    """Per-element attribution ``sum_g drop[g, k] * weight[g, h, w]``, over channels or summed."""
    eq = "ngk,ghw->nkhw" if weights.dim() == 3 else "ngk,nghw->nkhw"
    per_element = torch.einsum(eq, drops, weights.to(drops.device))
    d = p.feats.shape[1]
    if keep_channels:
        return per_element[:, :, None].expand(-1, -1, d, -1, -1)
    return d * per_element  # the same value in each of the D channels, summed


def sliding_window_occlusion(p: Prepared, keep_channels: bool, windows: int, window: int | None,
                             stride: int | None, value: float) -> np.ndarray:
    """Occlusion by sliding windows: ``(N, K, H, W)`` or ``(N, K, D, H, W)``."""
    h, w = p.feats.shape[-2:]
    masks = window_masks(h, w, windows, window, stride)
    count = masks.sum(dim=0)
    weights = masks / torch.where(count > 0, count, torch.ones_like(count))
    return gather(p.n, (_spread(p, sl, occlusion_drops(p, sl, masks, value), weights, keep_channels)
                        for sl in _sample_chunks_for_groups(p, masks.shape[0])))


def cluster_labels(features: np.ndarray, n_clusters: int, seed: int, n_init: int = 1) -> np.ndarray:
    """k-means labels ``(H, W)`` of one image's feature vectors ``(D, H, W)`` (sklearn KMeans, seeded).

    Fewer clusters than asked come back when the map has fewer pixels or fewer distinct vectors.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    d, h, w = features.shape
    x = features.reshape(d, h * w).T.astype(np.float64)
    k = min(n_clusters, h * w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than clusters
        labels = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(x).labels_
    return labels.reshape(h, w)


def cluster_masks(labels: np.ndarray) -> torch.Tensor:
    """One 0/1 mask per cluster present in ``labels`` ``(N, H, W)``: ``(N, G, H, W)``, padded with
    empty masks to the largest cluster count.  Clusters are ordered by label value only, so
    any relabelling gives the same set of masks."""
    n = labels.shape[0]
    inverse = [np.unique(lab, return_inverse=True)[1].reshape(lab.shape) for lab in labels]
    g = max(int(inv.max()) + 1 for inv in inverse)
    masks = torch.zeros(n, g, *labels.shape[1:])
    for i, inv in enumerate(inverse):
        masks[i] = torch.from_numpy(inv[None] == np.arange(g)[:, None, None]).float()
    return masks


def cluster_occlusion(p: Prepared, labels: np.ndarray, keep_channels: bool, value: float) -> np.ndarray:
    """Occlude each cluster of ``labels`` ``(N, H_l, W_l)``; a cluster's drop divided by its pixel
    count goes to each of its pixels (per channel).  ``(N, K, H, W)`` or ``(N, K, D, H, W)``."""
    masks = cluster_masks(labels)
    sizes = masks.sum(dim=(-2, -1), keepdim=True)
    weights = masks / torch.where(sizes > 0, sizes, torch.ones_like(sizes))
    return gather(p.n, (_spread(p, sl, occlusion_drops(p, sl, masks[sl], value), weights[sl], keep_channels)
                        for sl in _sample_chunks_for_groups(p, masks.shape[1])))


def kmeans_occlusion(p: Prepared, keep_channels: bool, n_clusters: int, seed: int, n_init: int,
                     value: float) -> np.ndarray:
    """k-means occlusion: cluster each image's layer feature vectors, then occlude each cluster."""
    feats = p.feats.cpu().numpy()
    labels = np.stack([cluster_labels(f, n_clusters, seed, n_init) for f in feats])
    return cluster_occlusion(p, labels, keep_channels, value)
