"""One-class-at-a-time Captum references for every method, on the full toy model.

Each function returns per-channel attributions ``(N, K, D, H, W)`` float64 numpy, built by a
loop over classes of Captum's Layer* method at ``model.layer_module(layer)`` (or of Captum's
plain method on the head where Captum has no layer variant).
"""

from __future__ import annotations

import copy
from unittest import mock

import numpy as np
import torch
from captum import attr as ca
from captum.attr._utils.lrp_rules import EpsilonRule, IdentityRule

from xaibench_attributions.engine import baseline_indices
from xaibench_attributions.gradients import shap_draws
from xaibench_attributions.occlusion import cluster_labels


def _inputs(model, data, split="test"):
    x = torch.from_numpy(data[f"{split}/x"])
    aux = torch.from_numpy(data[f"{split}/aux"]) if f"{split}/aux" in data else None
    return x, aux


def _features(model, data, layer, split="test"):
    x, aux = _inputs(model, data, split)
    body, _ = model.split(layer)
    with torch.no_grad():
        return body(x, aux), aux


def _loop(n_classes, fn):
    return np.stack([fn(k).detach().double().numpy() for k in range(n_classes)], axis=1)


def _n_classes(model, data):
    x, aux = _inputs(model, data)
    with torch.no_grad():
        return model(x[:1], None if aux is None else aux[:1]).shape[1]


def reference(name: str, model, data, layer: str, params: dict, seed: int = 0) -> np.ndarray:
    x, aux = _inputs(model, data)
    extra = None if aux is None else (aux,)
    mod = model.layer_module(layer)
    k_all = _n_classes(model, data)
    _, head = model.split(layer)
    feats, _ = _features(model, data, layer)

    if name == "grad-cam":
        m = ca.LayerGradCam(model, mod)
        return _loop(k_all, lambda k: m.attribute(x, k, extra, attr_dim_summation=False))
    if name == "saliency":
        m = ca.LayerGradientXActivation(model, mod, multiply_by_inputs=False)
        out = _loop(k_all, lambda k: m.attribute(x, k, extra))
        return np.abs(out) if params.get("absolute", True) else out
    if name == "gradients-x-features":
        m = ca.LayerGradientXActivation(model, mod)
        return _loop(k_all, lambda k: m.attribute(x, k, extra))
    if name == "integrated-gradients":
        m = ca.LayerIntegratedGradients(model, mod)
        return _loop(k_all, lambda k: m.attribute(x, torch.zeros_like(x), k, extra, n_steps=params.get("n_steps", 10),
                                                  method=params.get("method", "gausslegendre")))
    if name == "deeplift":
        m = ca.LayerDeepLift(model, mod)
        return _loop(k_all, lambda k: m.attribute(x, torch.zeros_like(x), k, extra))
    if name == "deeplift-shap":
        xt, _ = _inputs(model, data, "train")
        base = xt[torch.from_numpy(baseline_indices(xt.shape[0], params.get("n_baselines", 10), seed))]
        m = ca.LayerDeepLiftShap(model, mod)
        return _loop(k_all, lambda k: m.attribute(x, base, k, extra))
    if name == "lrp":
        return _lrp(model, layer, x, extra, k_all, params.get("epsilon", 1e-9))
    if name in ("guided-backprop", "deconvolution"):
        cls = ca.GuidedBackprop if name == "guided-backprop" else ca.Deconvolution
        if layer == "input":
            return _loop(k_all, lambda k: cls(model).attribute(x, k, extra))
        return _loop(k_all, lambda k: cls(head).attribute(feats.clone().requires_grad_(), k, extra))
    if name == "guided-grad-cam":
        relu = params.get("relu_cam", False)
        cam_mod = model.layer_module(params.get("cam_layer", "deep"))
        if layer == "input" and relu:
            m = ca.GuidedGradCam(model, cam_mod)
            return _loop(k_all, lambda k: m.attribute(x, k, extra))
        gb = (ca.GuidedBackprop(model) if layer == "input" else ca.GuidedBackprop(head))
        inp = x if layer == "input" else feats

        def one(k):
            g = gb.attribute(inp.clone().requires_grad_(), k, extra)
            cam = ca.LayerGradCam(model, cam_mod).attribute(x, k, extra, relu_attributions=relu)
            return g * ca.LayerAttribution.interpolate(cam, tuple(g.shape[2:]))

        return _loop(k_all, one)
    if name == "gradient-shap":
        return _gradient_shap(head, feats, aux, extra, k_all, model, data, layer, params, seed)
    if name == "sliding-window-occlusion":
        d = feats.shape[1]
        if params.get("window") is None:
            side = feats.shape[-1] // params.get("windows", 8)
            shape = stride = (d, side, side)
        else:
            shape = (d, params["window"], params["window"])
            stride = (d, params.get("stride") or params["window"], params.get("stride") or params["window"])
        m = ca.Occlusion(head)
        return _loop(k_all, lambda k: m.attribute(feats, shape, stride, 0.0, k, extra))
    if name == "kmeans-occlusion":
        labels = np.stack([cluster_labels(f, params.get("n_clusters", 64), seed) for f in feats.numpy()])
        mask = torch.from_numpy(labels)[:, None]
        sizes = np.stack([np.bincount(lab.ravel())[lab] for lab in labels])[:, None, None]  # pixels per cluster
        m = ca.FeatureAblation(head)
        return _loop(k_all, lambda k: m.attribute(feats, 0.0, k, extra, feature_mask=mask)) / sizes
    raise KeyError(name)


class _CloneInput(torch.nn.Module):
    """Stands for the toy's ``nn.Identity`` input marker in the LRP reference: Captum's
    IdentityRule needs the module's output to be a new tensor, which Identity's is not."""

    def forward(self, x):
        return x.clone()


def _lrp(model, layer, x, extra, k_all, eps):
    ref_model = copy.deepcopy(model)
    ref_model.inp = _CloneInput()
    # LayerLRP cannot stop at a ReLU's output (the deep layer): take the next conv's input
    at_input = layer == "deep"
    m = ca.LayerLRP(ref_model, ref_model.conv3 if at_input else ref_model.layer_module(layer))

    def one(k):
        # Captum deletes the rules after each call
        ref_model.inp.rule = IdentityRule()
        for sub in ref_model.modules():
            if isinstance(sub, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.AvgPool2d,
                                torch.nn.AdaptiveAvgPool2d, torch.nn.MaxPool2d)):
                sub.rule = EpsilonRule(eps)
        return m.attribute(x, k, extra, attribute_to_layer_input=at_input)

    return _loop(k_all, one)


def _gradient_shap(head, feats, aux, extra, k_all, model, data, layer, params, seed):
    """Captum's GradientShap on the head, its random draws replaced by ours (same draws per class)."""
    xt, auxt = _inputs(model, data, "train")
    idx = torch.from_numpy(baseline_indices(xt.shape[0], params.get("n_baselines", 10), seed))
    body, _ = model.split(layer)
    with torch.no_grad():
        base = body(xt[idx], None if auxt is None else auxt[idx])
    s, stdev = params.get("n_samples", 5), params.get("stdev", 0.01)
    draws = [shap_draws(seed, i, s, base.shape[0], tuple(feats.shape[1:]), stdev) for i in range(feats.shape[0])]
    choice = np.concatenate([d[0] for d in draws])
    noise = torch.from_numpy(np.concatenate([d[1] for d in draws]))
    alpha = np.concatenate([d[2] for d in draws])
    m = ca.GradientShap(head)

    def one(k):
        with mock.patch("numpy.random.choice", lambda *a, **kw: choice.copy()), \
                mock.patch("numpy.random.uniform", lambda *a, **kw: alpha.copy()), \
                mock.patch("torch.normal", lambda *a, **kw: noise.clone()):
            return m.attribute(feats, base, n_samples=s, stdevs=stdev, target=k, additional_forward_args=extra)

    return _loop(k_all, one)
