"""All-class attributions against the no-grad forward pass on the same device (and Captum per class).

UH-Net from ``xaibench_zoo`` (random weights, eval mode) explains N random 13-band images at layer
``deep`` for 8 classes.  The reference is what a prediction costs end to end: the images go to the
device, ``model(x)`` runs without graph, the logits come back (synchronised).  Each method is the
registered component's ``attribute(request)`` (numpy in, numpy out), timed as the best of
``--repeat`` calls after a warm-up; ``peak MB`` is torch's peak allocated memory on CUDA, the
process's peak resident set on CPU.  With ``--baseline COMMIT`` that commit's attribution plugin
answers the same requests in the same process, and the answers are compared (identical on CPU;
on CUDA nondeterministic kernels may differ by float rounding).  ``--captum`` adds Captum's
Layer* method on the whole model, one call per class, on the same device.

    python benchmarks/gpu_attributions.py --device cuda --baseline 2c0e776 --captum   # 16 x 13x256x256, width 1
    python benchmarks/gpu_attributions.py --device cpu --baseline 2c0e776 --images 8 --size 64 --width 0.125

Target (issue 24): on CUDA Grad-CAM, Gradients x Features, DeepLift, LRP and saliency >= 50 % of
the forward pass's images/s; on CPU no worse than the baseline.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _devices import (
    add_device_args,
    baseline_package,
    compare,
    describe,
    equal_or_error,
    print_baseline_verdict,
    resolve_device,
)

TARGET = 0.5
"""new / baseline ratios above this count as 'no worse': repeated runs on one machine move ~10 %."""
DEFAULT_METHODS = ("grad-cam", "gradients-x-features", "deeplift", "lrp", "saliency")
N_CLASSES = 8
N_BANDS = 13


def setup(n_images: int, size: int, width: float, device):
    """(model on ``device``, its ``deep`` module, the bundle, a request factory)."""
    import torch

    from xaibench.bundle import Bundle
    from xaibench.components import AttributionRequest, Band, DatasetInfo
    from xaibench_zoo.nets.uhnet import UHNet

    torch.manual_seed(0)
    model = UHNet(N_BANDS, N_CLASSES, width).eval().to(device)
    rng = np.random.default_rng(0)
    data = Bundle.from_splits({
        "train": {"x": rng.random((16, N_BANDS, size, size), dtype=np.float32)},
        "test": {"x": rng.random((n_images, N_BANDS, size, size), dtype=np.float32)},
    })
    info = DatasetInfo("bench", "multilabel", tuple(f"c{i}" for i in range(N_CLASSES)),
                       tuple(Band(f"b{i}") for i in range(N_BANDS)))

    def request():
        return AttributionRequest(model=model, data=data, data_info=info, split="test", layer="deep", seed=0)

    return model, model.out_bn, data, request


def forward(model, x: np.ndarray, device):
    import torch

    def run():
        with torch.no_grad():
            return model(torch.from_numpy(x).to(device)).cpu()

    return run


def captum_per_class(name: str, model, layer, x: np.ndarray, device):
    """Captum's Layer* method for ``name`` on the whole model, one call per class, maps to the host."""
    import torch
    from captum import attr as ca

    def run():
        xt = torch.from_numpy(x).to(device)
        outs = []
        for k in range(N_CLASSES):
            if name == "grad-cam":
                a = ca.LayerGradCam(model, layer).attribute(xt, k)
            elif name == "gradients-x-features":
                a = ca.LayerGradientXActivation(model, layer).attribute(xt, k)
            elif name == "saliency":
                a = ca.LayerGradientXActivation(model, layer, multiply_by_inputs=False).attribute(xt, k).abs()
            elif name == "deeplift":
                a = ca.LayerDeepLift(model, layer).attribute(xt, torch.zeros_like(xt), k)
            elif name == "lrp":
                a = ca.LayerLRP(model, layer).attribute(xt, k)
            else:
                raise KeyError(f"no Captum reference for {name!r} here; use benchmarks/attribution_speed.py")
            outs.append(a.detach().cpu())
        return outs

    return run


def methods_of(package) -> dict:
    return {m.name: m for m in package.METHODS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), help="any of the 13 registered")
    parser.add_argument("--images", type=int, default=None, help="default: 16 on CUDA, 8 on CPU")
    parser.add_argument("--size", type=int, default=None, help="image side; default: 256 on CUDA, 64 on CPU")
    parser.add_argument("--width", type=float, default=None, help="UH-Net width; default: 1 on CUDA, 0.125 on CPU")
    parser.add_argument("--captum", action="store_true", help="also time Captum per class (5 default methods)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from xaibench_attributions import methods as new_methods

    device = resolve_device(args.device, args.threads)
    cuda = device.type == "cuda"
    n = args.images or (16 if cuda else 8)
    size = args.size or (256 if cuda else 64)
    width = args.width or (1.0 if cuda else 0.125)
    new = methods_of(new_methods)
    old = None
    if args.baseline:
        import importlib

        baseline_package(args.baseline, "plugins/xaibench_attributions", "_baseline_xaibench_attributions")
        old = methods_of(importlib.import_module("_baseline_xaibench_attributions.methods"))
    model, layer, data, request = setup(n, size, width, device)
    x = data["test/x"]
    print(f"{describe(device)}; UH-Net width {width}, {n} images {N_BANDS}x{size}x{size}, {N_CLASSES} classes, "
          f"layer deep; best of {args.repeat}")
    head = f"{'method':26s} {'fwd img/s':>9s} {'img/s':>9s} {'% fwd':>6s} {'peak MB':>8s}"
    if old:
        head += f" {'base img/s':>10s} {'% fwd':>6s} {'peak MB':>8s} {'new/base':>8s}  answers"
    if args.captum:
        head += f" {'captum img/s':>12s} {'ours/captum':>11s}"
    print(head)
    shares, speedups = {}, {}
    for name in args.methods:
        fns = {"fwd": forward(model, x, device), "ours": lambda name=name: new[name]().attribute(request())}
        if old:
            fns["base"] = lambda name=name: old[name]().attribute(request())
        if args.captum:
            fns["captum"] = captum_per_class(name, model, layer, x, device)
        timed = compare(fns, device, args.repeat)
        fwd_s = timed["fwd"][0]
        ours_s, ours_peak, ours = timed["ours"]
        shares[name] = fwd_s / ours_s
        line = f"{name:26s} {n / fwd_s:9.1f} {n / ours_s:9.1f} {shares[name]:6.1%} {ours_peak:8.0f}"
        if old:
            base_s, base_peak, base = timed["base"]
            speedups[name] = base_s / ours_s
            line += (f" {n / base_s:10.1f} {fwd_s / base_s:6.1%} {base_peak:8.0f} {speedups[name]:7.2f}x  "
                     f"{equal_or_error(ours, base)}")
        if args.captum:
            cap_s = timed["captum"][0]
            line += f" {n / cap_s:12.1f} {cap_s / ours_s:10.1f}x"
        print(line, flush=True)
    if cuda:
        missed = [m for m in DEFAULT_METHODS if m in shares and shares[m] < TARGET]
        print(f"target: >= {TARGET:.0%} of the forward pass for {', '.join(DEFAULT_METHODS)}: "
              f"{'met' if not missed else 'NOT met: ' + ', '.join(missed)}")
    print_baseline_verdict("speed", speedups)


if __name__ == "__main__":
    main()
