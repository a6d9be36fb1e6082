"""Methods built on rewritten backward rules: Guided Backprop, Deconvolution, Guided Grad-CAM,
DeepLift, DeepLift-SHAP and LRP.

Each runs :mod:`.backward_rules` over budget-sized sample chunks: one head forward per chunk,
one backward per class.  Heads with modules those rules do not cover go to Captum
(:mod:`.captum_fallback`).  Returned arrays: float32 ``(N, K, H_l, W_l)``, or
``(N, K, D_l, H_l, W_l)`` with ``keep_channels``.
"""

from __future__ import annotations

import numpy as np
import torch

from . import backward_rules as rules
from .engine import Prepared, map_sample_chunks, reduce_channels, take
from .gradients import times_features


def _leaves(p: Prepared) -> list:
    """The modules the head runs (probed once per call, on one sample)."""
    return rules.used_leaves(p.head, p.feats[:1], take(p.aux, slice(0, 1)))


def guided_backprop(p: Prepared, keep_channels: bool, deconvolution: bool = False,
                    scale: torch.Tensor | None = None) -> np.ndarray:
    """Guided Backprop (or Deconvolution) gradients at the layer.

    ``scale`` ``(N, K, H, W)``, when given, multiplies each class's map before the channel sum.
    """
    leaves = _leaves(p)

    def chunk(sl: slice) -> torch.Tensor:
        def per_class(g: torch.Tensor, k: int) -> torch.Tensor:
            if scale is not None:
                g = g * scale[sl, k, None].to(g.device)
            return reduce_channels(g, keep_channels)

        return rules.guided_gradients(p.head, leaves, p.feats[sl], take(p.aux, sl), p.n_classes, per_class,
                                      deconvolution)

    return map_sample_chunks(p, chunk, keep_channels=keep_channels)


def guided_grad_cam(p: Prepared, cam: Prepared, keep_channels: bool, relu_cam: bool,
                    interpolate_mode: str) -> np.ndarray:
    """Guided Backprop at the layer of ``p`` times Grad-CAM at the layer of ``cam``, the CAM
    resized to the explained layer by ``interpolate_mode`` (Captum's ``GuidedGradCam`` when
    ``p`` is the input, ``cam`` the deep layer and ``relu_cam`` is set)."""
    import torch.nn.functional as F

    from .gradients import grad_cam

    cam_map = torch.from_numpy(grad_cam(cam, keep_channels=False)).to(p.device)  # once, not per class
    if relu_cam:
        cam_map = cam_map.clamp(min=0)
    size = tuple(p.feats.shape[-2:])
    if tuple(cam_map.shape[-2:]) != size:
        cam_map = F.interpolate(cam_map, size=size, mode=interpolate_mode)
    return guided_backprop(p, keep_channels, scale=cam_map)


def deeplift(p: Prepared, keep_channels: bool) -> np.ndarray:
    """DeepLift (rescale rule) from a zero baseline at the layer: ``feats * multipliers``."""
    leaves = _leaves(p)
    if rules.has_other_deeplift_rules(leaves):
        from . import captum_fallback

        return captum_fallback.deeplift(p, keep_channels)

    def chunk(sl: slice) -> torch.Tensor:
        f, aux = p.feats[sl], take(p.aux, sl)
        # without aux the zero reference's activations are the same for every row: run one
        reference = torch.zeros_like(f if aux is not None else f[:1])
        return rules.rescale_gradients(p.head, leaves, f, aux, reference, aux, p.n_classes,
                                       lambda g, k: times_features(g, f, keep_channels))

    return map_sample_chunks(p, chunk, keep_channels=keep_channels)


def deeplift_shap(p: Prepared, baselines: torch.Tensor, keep_channels: bool) -> np.ndarray:
    """DeepLift averaged over ``baselines`` ``(B, D, H, W)`` (Captum's ``DeepLiftShap``)."""
    leaves = _leaves(p)
    if rules.has_other_deeplift_rules(leaves):
        from . import captum_fallback

        return captum_fallback.deeplift_shap(p, baselines, keep_channels)
    b = baselines.shape[0]

    def chunk(sl: slice) -> torch.Tensor:
        f = p.feats[sl]
        n = f.shape[0]
        rows = f.repeat_interleave(b, dim=0)  # (n * B, D, H, W): sample-major, one row per baseline
        refs = baselines.repeat(n, 1, 1, 1)
        delta = (rows - refs).reshape(n, b, *f.shape[1:])
        aux = take(p.aux, sl)
        aux_rows = None if aux is None else aux.repeat_interleave(b, dim=0)

        def per_class(g: torch.Tensor, k: int) -> torch.Tensor:
            return reduce_channels((g.reshape(n, b, *f.shape[1:]) * delta).mean(dim=1), keep_channels)

        return rules.rescale_gradients(p.head, leaves, rows, aux_rows, refs, aux_rows, p.n_classes, per_class)

    return map_sample_chunks(p, chunk, rows_per_sample=b, keep_channels=keep_channels)


def lrp(p: Prepared, keep_channels: bool, epsilon: float) -> np.ndarray:
    """LRP with the epsilon rule on every linear-type module, ReLU passing relevance through."""
    leaves = _leaves(p)
    if not rules.lrp_supported(leaves):
        probe_aux = take(p.aux, slice(0, 1))
        sums = rules.branch_sums(p.head, p.feats[:1], probe_aux)
        if sums:  # Captum's rules ignore functional sums: its relevance about doubles at each one
            others = sorted({type(m).__name__ for m in leaves if not isinstance(m, rules.EPSILON_RULE + rules.LRP_PASS)})
            raise ValueError(f"LRP refused: the head runs {', '.join(others)} (no LRP rule here) and adds branches at "
                             f"{sums} residual sum(s); Captum's LRP, the fallback for such modules, does not split "
                             "relevance at sums, so its maps would be wrong")
        from . import captum_fallback

        return captum_fallback.lrp(p, keep_channels, epsilon)

    def chunk(sl: slice) -> torch.Tensor:
        f = p.feats[sl]
        return rules.lrp_gradients(p.head, leaves, f, take(p.aux, sl), p.n_classes,
                                   lambda g, k: times_features(g, f, keep_channels), epsilon)

    return map_sample_chunks(p, chunk, keep_channels=keep_channels)
