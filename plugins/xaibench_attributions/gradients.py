"""Pure-gradient methods: Saliency, Grad-CAM, Gradients x Features, Integrated Gradients, Gradient-SHAP.

These only need gradients of the head's logits with respect to the layer features, so
they share :func:`engine.class_gradients` (one forward per chunk, one backward per class)
instead of Captum's per-target calls, which would redo the head's forward once per class.
Each function returns float32 ``(N, K, H_l, W_l)``, or ``(N, K, D_l, H_l, W_l)`` with
``keep_channels``; the channel-summed map is always the sum of the kept one.
"""

from __future__ import annotations

import numpy as np
import torch

from .engine import Prepared, class_gradients, map_sample_chunks, reduce_channels, take


def times_features(g: torch.Tensor, f: torch.Tensor, keep_channels: bool) -> torch.Tensor:
    """``g * f`` per element ``(n, D, H, W)``, or its channel sum ``(n, H, W)``.

    (``einsum("ndhw,ndhw->nhw")`` avoids the temporary but measured 12x slower on CPU.)
    """
    return reduce_channels(g * f, keep_channels)


def saliency(p: Prepared, keep_channels: bool, absolute: bool) -> np.ndarray:
    """Gradient of each logit at the layer (absolute value per element when ``absolute``)."""

    def per_class(g: torch.Tensor, k: int) -> torch.Tensor:
        g = g.abs() if absolute else g
        return reduce_channels(g, keep_channels)

    return map_sample_chunks(
        p, lambda sl: class_gradients(p.head, p.feats[sl], take(p.aux, sl), p.n_classes, per_class),
        keep_channels=keep_channels)


def gradients_x_features(p: Prepared, keep_channels: bool) -> np.ndarray:
    """Features times the gradient of each logit (Gradient x Input at the layer)."""

    def chunk(sl: slice) -> torch.Tensor:
        f = p.feats[sl]
        return class_gradients(p.head, f, take(p.aux, sl), p.n_classes,
                               lambda g, k: times_features(g, f, keep_channels))

    return map_sample_chunks(p, chunk, keep_channels=keep_channels)


def grad_cam_chunk(p: Prepared, sl: slice, keep_channels: bool) -> torch.Tensor:
    """Grad-CAM of samples ``sl``: ``sum_d alpha_kd A_d`` ``(n, K, H, W)``, or the terms ``(n, K, D, H, W)``.

    ``alpha_kd`` is the spatial mean of the gradient of logit ``k`` over channel ``d``.
    No ReLU: raw signed values, as Captum's ``LayerGradCam(relu_attributions=False)``.
    """
    f = p.feats[sl]

    def per_class(g: torch.Tensor, k: int) -> torch.Tensor:
        alpha = g.mean(dim=(-2, -1))  # (n, D)
        return alpha[..., None, None] * f if keep_channels else torch.einsum("nd,ndhw->nhw", alpha, f)

    return class_gradients(p.head, f, take(p.aux, sl), p.n_classes, per_class)


def grad_cam(p: Prepared, keep_channels: bool) -> np.ndarray:
    """Grad-CAM at the layer: channel-averaged gradients times the feature map."""
    return map_sample_chunks(p, lambda sl: grad_cam_chunk(p, sl, keep_channels), keep_channels=keep_channels)


def gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in (0, 1) and weights summing to 1, as Captum's ``"gausslegendre"`` method."""
    x, w = np.polynomial.legendre.leggauss(n_steps)
    return 0.5 * (x + 1), 0.5 * w


def riemann(n_steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Captum's Riemann rules (``riemann_left|right|middle|trapezoid``): points and weights.

    As in Captum, every weight is ``1 / n_steps`` (the trapezoid halves the two end ones).
    """
    if n_steps < 2:
        raise ValueError("Riemann integration needs at least 2 steps")
    kind = method.removeprefix("riemann_")
    weights = np.full(n_steps, 1.0 / n_steps)
    if kind == "trapezoid":
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, n_steps), weights
    start, stop = {"left": (0.0, 1 - 1 / n_steps), "right": (1 / n_steps, 1.0),
                   "middle": (1 / (2 * n_steps), 1 - 1 / (2 * n_steps))}[kind]
    return np.linspace(start, stop, n_steps), weights


def integrated_gradients(p: Prepared, keep_channels: bool, n_steps: int, method: str) -> np.ndarray:
    """Integrated Gradients from a zero baseline at the layer.

    Our own batched loop rather than ``captum.attr.IntegratedGradients(head)`` with the
    batch repeated by class: the path points do not depend on the class, so one forward
    of all ``n_steps`` points serves every class (Captum would redo it K times).  The
    quadrature points and weights are Captum's, so results equal Captum's to rounding.
    """
    alphas, weights = gauss_legendre(n_steps) if method == "gausslegendre" else riemann(n_steps, method)
    alphas_t = torch.tensor(alphas, dtype=torch.float32, device=p.device)
    weights_t = torch.tensor(weights, dtype=torch.float32, device=p.device)

    def chunk(sl: slice) -> torch.Tensor:
        f = p.feats[sl]
        n = f.shape[0]
        # rows ordered step-major: (steps * n, D, H, W)
        scaled = (alphas_t.view(-1, 1, 1, 1, 1) * f[None]).reshape(-1, *f.shape[1:])
        aux = take(p.aux, sl)
        aux_rep = None if aux is None else aux.repeat(n_steps, 1)

        def per_class(g: torch.Tensor, k: int) -> torch.Tensor:  # (steps * n, D, H, W) -> (n, [D,] H, W)
            avg = torch.tensordot(weights_t, g.reshape(n_steps, n, *g.shape[1:]), dims=([0], [0]))
            return times_features(avg, f, keep_channels)

        return class_gradients(p.head, scaled, aux_rep, p.n_classes, per_class)

    return map_sample_chunks(p, chunk, rows_per_sample=n_steps, keep_channels=keep_channels)


def shap_draws(seed: int, sample: int, n_samples: int, n_baselines: int, shape: tuple[int, ...],
               stdev: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random draws of Gradient-SHAP for one sample: baseline indices ``(S,)``, noise ``(S, *shape)``
    (standard deviation ``stdev``, in feature units) and path coefficients ``(S,)`` in [0, 1).

    Seeded by ``(seed, sample)`` so a sample's draws do not depend on chunking.
    """
    rng = np.random.default_rng([seed, sample])
    idx = rng.integers(0, n_baselines, size=n_samples)
    noise = rng.normal(0.0, stdev, size=(n_samples, *shape)).astype(np.float32) if stdev > 0 else (
        np.zeros((n_samples, *shape), np.float32))
    alpha = rng.uniform(0.0, 1.0, size=n_samples)
    return idx, noise, alpha


def gradient_shap(p: Prepared, baselines: torch.Tensor, keep_channels: bool, n_samples: int, stdev: float,
                  seed: int) -> np.ndarray:
    """Gradient-SHAP (Captum's ``GradientShap`` algorithm) at the layer.

    For each sample and draw ``s``: noisy input ``x_s = x + eps_s``, baseline ``b_s`` drawn from
    ``baselines`` ``(B, D, H, W)``, point ``b_s + alpha_s (x_s - b_s)``; the attribution is the mean
    over draws of ``grad * (x_s - b_s)``.  Our own code rather than ``GradientShap(head)``: Captum
    draws from the global RNGs per call, so a batch repeated by class would give each class
    different draws and chunking would change results; here a sample's draws are shared by all
    classes and fixed by ``(seed, sample)``.
    """
    shape = tuple(p.feats.shape[1:])

    def chunk(sl: slice) -> torch.Tensor:
        f = p.feats[sl]
        n = f.shape[0]
        draws = [shap_draws(seed, p.offset + i, n_samples, baselines.shape[0], shape, stdev)
                 for i in range(sl.start, sl.stop)]
        idx = torch.from_numpy(np.stack([d[0] for d in draws])).to(p.device)  # (n, S)
        noise = torch.from_numpy(np.stack([d[1] for d in draws])).to(p.device)  # (n, S, D, H, W)
        alpha = torch.from_numpy(np.stack([d[2] for d in draws])).to(p.device, torch.float32)
        noisy = f[:, None] + noise
        base = baselines[idx]  # (n, S, D, H, W)
        a = alpha.view(n, n_samples, 1, 1, 1)
        points = (a * noisy + (1 - a) * base).reshape(n * n_samples, *shape)
        aux = take(p.aux, sl)
        aux_rep = None if aux is None else aux.repeat_interleave(n_samples, dim=0)
        delta = noisy - base

        def per_class(g: torch.Tensor, k: int) -> torch.Tensor:  # (n * S, D, H, W) -> (n, [D,] H, W)
            return reduce_channels((g.reshape(n, n_samples, *shape) * delta).mean(dim=1), keep_channels)

        return class_gradients(p.head, points, aux_rep, p.n_classes, per_class)

    return map_sample_chunks(p, chunk, rows_per_sample=n_samples, keep_channels=keep_channels)
