"""All-class attribution throughput vs a per-class loop of Captum's layer methods.

Model: UH-Net from ``xaibench_zoo`` at its default width (a local stand-in with the same shape
of computation when the zoo is not importable), 32 random images 13x64x64, 8 classes,
explained at layer ``deep`` (16 channels, 64x64).  For every method:

- ours: the registered component, all classes at once (body once without graph, head batched);
- reference: Captum's Layer* method on the full model, one call per class (Captum has no layer
  variant of Guided Backprop / Deconvolution: there the reference recomputes the body and runs
  ``GuidedBackprop(head)`` per class).  The occlusion references (``LayerFeatureAblation``) cost
  the same for every class; they run ``--ref-classes`` classes and are scaled to all 8.

Times are process CPU seconds with ``--threads 1`` (the default: robust to other processes on a
shared machine) and wall seconds otherwise.  Each measurement runs in a fresh subprocess so that
its peak memory is its own: a first full-size call (one class for the references) gives
``peak MB``, the peak resident set size minus the size just before; a second call is timed
(steady state).  Finally Integrated Gradients is measured again with glibc's malloc told never
to use mmap nor to give memory back (``GLIBC_TUNABLES=...``, see :data:`GLIBC_TUNABLES`).

    python benchmarks/attribution_speed.py              # everything (a few minutes on 1 core)
    python benchmarks/attribution_speed.py --methods grad-cam lrp --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GLIBC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"
METHOD_NAMES = (
    "grad-cam", "gradients-x-features", "saliency", "guided-backprop", "deconvolution", "guided-grad-cam",
    "integrated-gradients", "deeplift", "gradient-shap", "deeplift-shap", "lrp", "sliding-window-occlusion",
    "kmeans-occlusion",
)
TARGETS = {"grad-cam": 5, "gradients-x-features": 5, "deeplift": 6, "integrated-gradients": 10, "gradient-shap": 10,
           "lrp": 10, "sliding-window-occlusion": 10}
EXTRAPOLATED = ("sliding-window-occlusion", "kmeans-occlusion")


# -- the measured setup (runs in the child) ---------------------------------------------------
def build_model(n_bands: int, n_classes: int):
    """UH-Net from the zoo at its default width, else a stand-in (U-Net-like body, strided head)."""
    import torch

    torch.manual_seed(0)
    try:
        from xaibench_zoo.components import UHNetModel
        from xaibench_zoo.nets.uhnet import UHNet

        net = UHNet(n_bands, n_classes, UHNetModel.Params().width).eval()
        return net, net.out_bn, "xaibench_zoo uh-net"
    except ImportError:
        return _StandIn(n_bands, n_classes).eval(), None, "local UH-Net stand-in"


def _StandIn(n_bands: int, n_classes: int):  # noqa: N802 - builds a class lazily to keep torch out of import
    import torch
    from torch import nn

    class Net(nn.Module):
        layer_names = ("input", "deep")

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(n_bands, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
            self.head = nn.Sequential(
                nn.Conv2d(16, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1),
                nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                nn.AdaptiveAvgPool2d(4))
            self.fc1, self.relu, self.fc2 = nn.Linear(256, 96), nn.ReLU(), nn.Linear(96, n_classes)
            self.out_bn = self.body[-1]

        def head_forward(self, f, aux=None):
            return self.fc2(self.relu(self.fc1(torch.flatten(self.head(f), 1))))

        def forward(self, x, aux=None):
            return self.head_forward(self.body(x))

        def split(self, layer):
            if layer == "input":
                return (lambda x, aux=None: x), self
            return _Fn(lambda x, aux=None: self.body(x), self.body), _Fn(self.head_forward, self)

    class _Fn(nn.Module):
        def __init__(self, fn, owner):
            super().__init__()
            self.owner, self._fn = owner, fn

        def forward(self, x, aux=None):
            return self._fn(x, aux)

    net = Net()
    return net


def setup(n_images: int, n_train: int = 16, n_bands: int = 13, size: int = 64, n_classes: int = 8):
    import numpy as np

    from xaibench.bundle import Bundle
    from xaibench.components import AttributionRequest, Band, DatasetInfo

    rng = np.random.default_rng(0)
    data = Bundle.from_splits({
        "train": {"x": rng.random((n_train, n_bands, size, size), dtype=np.float32)},
        "test": {"x": rng.random((n_images, n_bands, size, size), dtype=np.float32)},
    })
    info = DatasetInfo("bench", "multilabel", tuple(f"c{i}" for i in range(n_classes)),
                       tuple(Band(f"b{i}") for i in range(n_bands)))
    model, layer_module, label = build_model(n_bands, n_classes)

    def request(n: int = n_images):
        sub = data if n == n_images else Bundle({"train/x": data["train/x"], "test/x": data["test/x"][:n]})
        return AttributionRequest(model=model, data=sub, data_info=info, split="test", layer="deep", seed=0)

    return model, layer_module, data, request, label


def ours(name: str, request) -> None:
    from xaibench_attributions.methods import METHODS

    cls = {m.name: m for m in METHODS}[name]
    cls().attribute(request)


def reference(name: str, model, layer_module, data, n: int, n_classes: int) -> None:
    """Captum's layer method, one class at a time, on the full model."""
    import numpy as np
    import torch
    from captum import attr as ca

    from xaibench_attributions.engine import baseline_indices
    from xaibench_attributions.occlusion import cluster_labels, window_masks

    x = torch.from_numpy(data["test/x"][:n])
    train = torch.from_numpy(data["train/x"])
    base = train[torch.from_numpy(baseline_indices(train.shape[0], 10, 0))]
    body, head = model.split("deep")
    L = layer_module
    zero = torch.zeros_like(x)
    for k in range(n_classes):
        if name == "grad-cam":
            ca.LayerGradCam(model, L).attribute(x, k)
        elif name == "gradients-x-features":
            ca.LayerGradientXActivation(model, L).attribute(x, k)
        elif name == "saliency":
            ca.LayerGradientXActivation(model, L, multiply_by_inputs=False).attribute(x, k).abs()
        elif name == "integrated-gradients":
            ca.LayerIntegratedGradients(model, L).attribute(x, zero, k, n_steps=10, method="gausslegendre")
        elif name == "deeplift":
            ca.LayerDeepLift(model, L).attribute(x, zero, k)
        elif name == "deeplift-shap":
            ca.LayerDeepLiftShap(model, L).attribute(x, base, k)
        elif name == "gradient-shap":
            ca.LayerGradientShap(model, L).attribute(x, base, n_samples=5, stdevs=0.01, target=k)
        elif name == "lrp":
            ca.LayerLRP(model, L).attribute(x, k)
        elif name in ("guided-backprop", "deconvolution", "guided-grad-cam"):
            with torch.no_grad():
                f = body(x, None)
            cls = ca.Deconvolution if name == "deconvolution" else ca.GuidedBackprop
            g = cls(head).attribute(f.requires_grad_(), k)
            if name == "guided-grad-cam":
                g * ca.LayerGradCam(model, L).attribute(x, k)
        elif name == "sliding-window-occlusion":
            masks = window_masks(64, 64, 8)
            mask = (masks * torch.arange(masks.shape[0])[:, None, None]).sum(0).long()[None, None]
            ca.LayerFeatureAblation(model, L).attribute(x, 0.0, k, layer_mask=mask)
        elif name == "kmeans-occlusion":
            with torch.no_grad():
                f = body(x, None).numpy()
            labels = np.stack([cluster_labels(fi, 64, 0) for fi in f])
            mask = torch.from_numpy(labels)[:, None]
            ca.LayerFeatureAblation(model, L).attribute(x, 0.0, k, layer_mask=mask)
        else:
            raise KeyError(name)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_one(name: str, variant: str, n_images: int, ref_classes: int, threads: int) -> dict:
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    model, layer_module, data, request, label = setup(n_images)
    n_classes = 8
    classes = min(ref_classes, n_classes) if name in EXTRAPOLATED else n_classes
    if variant == "ours":
        warm_up = lambda: ours(name, request())  # noqa: E731
        run = warm_up
    else:
        warm_up = lambda: reference(name, model, layer_module, data, n_images, 1)  # noqa: E731
        run = lambda: reference(name, model, layer_module, data, n_images, classes)  # noqa: E731
    # the first full-size call measures peak memory (and pays the allocator's first-touch page
    # faults); the second, timed, is the steady state
    before = _rss_mb()
    warm_up()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # with one thread, process CPU time equals wall time on an idle core and is far less
    # disturbed by other processes sharing the machine (CI); with more, wall time is used
    clock = time.process_time if threads == 1 else time.perf_counter
    t0 = clock()
    run()
    seconds = clock() - t0
    if variant == "reference":
        seconds *= n_classes / classes
    return {"seconds": seconds, "peak_mb": max(0.0, peak - before), "model": label,
            "extrapolated": variant == "reference" and classes < n_classes}


# -- the driver ---------------------------------------------------------------------------------
def run_child(name: str, variant: str, args, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    cmd = [sys.executable, __file__, "--one", name, variant, "--images", str(args.images),
           "--ref-classes", str(args.ref_classes), "--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="*", default=list(METHOD_NAMES))
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ref-classes", type=int, default=1, help="classes run by the occlusion references")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], args.one[1], args.images, args.ref_classes, args.threads)))
        return

    print(f"{args.images} images 13x64x64, 8 classes, layer deep, {args.threads} thread(s)")
    header = f"{'method':26s} {'ours img/s':>10s} {'peak MB':>8s} {'captum img/s':>12s} {'peak MB':>8s} {'ratio':>7s}  target"
    print(header)
    print("-" * len(header))
    label = None
    for name in args.methods:
        a = run_child(name, "ours", args)
        b = run_child(name, "reference", args)
        label = a["model"]
        ratio = b["seconds"] / a["seconds"]
        target = TARGETS.get(name)
        verdict = "" if target is None else f">={target}x {'ok' if ratio >= target else 'MISSED'}"
        star = "*" if b["extrapolated"] else " "
        print(f"{name:26s} {args.images / a['seconds']:10.1f} {a['peak_mb']:8.0f} "
              f"{args.images / b['seconds']:11.2f}{star} {b['peak_mb']:8.0f} {ratio:6.1f}x  {verdict}", flush=True)
    print(f"model: {label}; * reference timed on {args.ref_classes} class(es) and scaled to 8")

    plain = run_child("integrated-gradients", "ours", args)
    tuned = run_child("integrated-gradients", "ours", args, {"GLIBC_TUNABLES": GLIBC_TUNABLES})
    print(f"integrated-gradients with GLIBC_TUNABLES={GLIBC_TUNABLES}: {plain['seconds']:.2f} s -> "
          f"{tuned['seconds']:.2f} s, speed-up {plain['seconds'] / tuned['seconds']:.2f}x "
          f"(peak {plain['peak_mb']:.0f} -> {tuned['peak_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
