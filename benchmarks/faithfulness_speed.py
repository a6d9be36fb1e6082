"""Faithfulness metrics: ours (all classes x steps batched) vs Quantus' loops on the same maps.

Model: ResNet-18 from ``xaibench_zoo`` (width 0.25, random weights, eval mode), ``--n`` random
images 13x32x32 (Sentinel-2's band count, the embedded world's patch size), 8 classes; random
maps for every class.  Measured for each metric, at ``input`` (the maps are 32x32, the whole model
runs) and at ``deep`` (the end of layer2: 32 channels at 4x4, only the head runs):

- ours: the registered component with ``target: all`` (every class's map, scored on its class);
- Quantus: the same metric's Quantus class called once per class (``y_batch`` that class, ``a_batch``
  its maps, ``batch_size`` all samples), on the whole model at ``input`` and on the head with the
  layer's features as ``x_batch`` at ``deep`` (Quantus' ``features_in_step`` divisibility check,
  and its subset-size check count positions but step over channels too: both are lifted so that whole
  positions are removed).

Both use a zero baseline and the logits, so the numbers are the same: ``max |diff|`` is printed
next to the times.  At ``deep`` a second reference, ``adapter``, is what xaibench offered before
(the generic Quantus adapter): the layer maps upsampled (nearest) to 32x32 and Quantus on the
whole model at the input, with the same number of steps; its numbers differ by construction.  Times are process CPU seconds with ``--threads 1`` (robust to other processes
on a shared machine; wall seconds otherwise), best of ``--repeats``; ``peak MB`` is the growth of
the peak resident set size over the whole run.

    OMP_NUM_THREADS=1 python benchmarks/faithfulness_speed.py
    python benchmarks/faithfulness_speed.py --n 32 --threads 2
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

N_CLASSES, N_BANDS, SIZE = 8, 13, 32


REF_KW = {  # Quantus constructor arguments for d channels, ``step`` positions per step and an h x h grid
    "pixel-flipping": lambda d, step, h: dict(features_in_step=d * step, perturb_baseline=0.0, disable_warnings=True,
                                              return_auc_per_sample=True),
    "faithfulness-estimate": lambda d, step, h: dict(features_in_step=d * step, perturb_baseline=0.0,
                                                     disable_warnings=True),
    "faithfulness-correlation": lambda d, step, h: dict(nr_runs=20, subset_size=d * max(1, h * h // 8),
                                                        perturb_baseline=0.0, disable_warnings=True,
                                                        return_aggregate=False),
}


def clock(threads: int) -> float:
    return time.process_time() if threads == 1 else time.perf_counter()


def setup(n: int):
    import torch

    from xaibench.bundle import Bundle
    from xaibench.components import Band, DatasetInfo
    from xaibench_zoo.nets.resnet import ResNet

    torch.manual_seed(0)
    net = ResNet("resnet-18", N_BANDS, N_CLASSES, width=0.25).eval()
    x = np.random.default_rng(0).random((n, N_BANDS, SIZE, SIZE), dtype=np.float32)
    info = DatasetInfo(name="bench", task="singlelabel", classes=tuple(f"c{i}" for i in range(N_CLASSES)),
                       bands=tuple(Band(f"B{i}") for i in range(N_BANDS)))
    return net, Bundle.from_splits({"test": {"x": x}}), info, x


def run(metric: str, layer: str, n: int, threads: int, repeats: int) -> tuple[float, float, float, float]:
    import quantus
    import quantus.helpers.asserts as qasserts
    import torch

    from xaibench.components import MetricContext, ModelInfo
    from xaibench_metrics import quantus_bridge  # noqa: F401  (NumPy 2 patch for Quantus)
    from xaibench_metrics.faithfulness import FaithfulnessCorrelation, FaithfulnessEstimate, PixelFlipping

    # Quantus checks steps and subset sizes against H * W but steps over C * H * W elements
    qasserts.assert_features_in_step = lambda *a, **k: None
    qasserts.assert_value_smaller_than_input_size = lambda *a, **k: None

    net, data, info, x = setup(n)
    body, head = net.split(layer)
    with torch.no_grad():
        feats = body(torch.from_numpy(x), None).numpy()
    h = feats.shape[-1]
    maps = np.random.default_rng(1).normal(size=(n, N_CLASSES, h, h)).astype(np.float32)
    d = feats.shape[1]
    step = max(1, (h * h) // 16)  # 16 steps
    common = dict(baseline=0.0, output="logit", target="all")
    if metric == "pixel-flipping":
        ours = PixelFlipping(PixelFlipping.Params(features_in_step=step, **common))
        ref = quantus.PixelFlipping(**REF_KW[metric](d, step, h))
        ours_fn = lambda c: np.trapezoid(ours.curves(c), dx=1.0, axis=-1)  # noqa: E731
    elif metric == "faithfulness-estimate":
        ours = FaithfulnessEstimate(FaithfulnessEstimate.Params(features_in_step=step, **common))
        ref = quantus.FaithfulnessEstimate(**REF_KW[metric](d, step, h))
        ours_fn = ours.correlations
    else:  # faithfulness-correlation: same cost structure (nr_runs forwards), draws not aligned across classes
        ours = FaithfulnessCorrelation(FaithfulnessCorrelation.Params(nr_runs=20, subset_size=max(1, h * h // 8),
                                                                      **common))
        ref = quantus.FaithfulnessCorrelation(**REF_KW[metric](d, step, h))
        ours_fn = ours.correlations
    ctx = MetricContext(data=data, data_info=info, model_info=ModelInfo(layers=("input", layer)), seed=0,
                        load_model=lambda: net, layer=layer, attributions=maps)
    class Wrapped(torch.nn.Module):  # Quantus calls ``model(x)``: the head (the whole model at input), no aux
        def __init__(self, fn):
            super().__init__()
            self.net, self.fn = net, fn
            self.eval()

        def forward(self, f):
            return self.fn(f, None)

    model = Wrapped(head)

    def quantus_all(metric_obj=ref, module=model, inputs=feats, a=maps) -> np.ndarray:
        out = []
        for k in range(N_CLASSES):
            y = np.full(n, k)
            out.append(metric_obj(model=module, x_batch=inputs, y_batch=y, a_batch=a[:, k:k + 1], device="cpu",
                                  softmax=False, batch_size=n, channel_first=True))
        return np.stack([np.asarray(o, dtype=np.float64) for o in out], axis=1)

    adapter = float("nan")
    if layer != "input":  # the generic adapter's path: upsampled maps, whole model, same number of steps
        scale = SIZE // h
        up = maps.repeat(scale, axis=2).repeat(scale, axis=3)
        whole = Wrapped(net)
        ref_in = type(ref)(**{k: v * scale * scale * N_BANDS // d if k in ("features_in_step", "subset_size") else v
                              for k, v in REF_KW[metric](d, step, h).items()})
        t = clock(threads)
        quantus_all(ref_in, whole, x, up)
        adapter = clock(threads) - t

    best_ours = best_ref = float("inf")
    for _ in range(repeats):
        t = clock(threads)
        got = ours_fn(ctx)
        best_ours = min(best_ours, clock(threads) - t)
        t = clock(threads)
        expected = quantus_all()
        best_ref = min(best_ref, clock(threads) - t)
    diff = float(np.nanmax(np.abs(got - expected))) if metric != "faithfulness-correlation" else float("nan")
    return best_ours, best_ref, diff, adapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--metrics", nargs="+", default=["pixel-flipping", "faithfulness-estimate",
                                                          "faithfulness-correlation"])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unit = "CPU s" if args.threads == 1 else "wall s"
    print(f"{args.n} images {N_BANDS}x{SIZE}x{SIZE}, {N_CLASSES} classes (all), ResNet-18 width 0.25, "
          f"{args.threads} thread(s); times in {unit}, best of {args.repeats}")
    print(f"{'metric':<26}{'layer':<7}{'ours':>9}{'Quantus':>10}{'ratio':>8}{'max |diff|':>12}{'adapter':>9}"
          f"{'ratio':>8}")
    for metric in args.metrics:
        for layer in ("input", "deep"):
            ours, ref, diff, adapter = run(metric, layer, args.n, args.threads, args.repeats)
            extra = "" if adapter != adapter else f"{adapter:>9.3f}{adapter / ours:>7.1f}x"
            print(f"{metric:<26}{layer:<7}{ours:>9.3f}{ref:>10.3f}{ref / ours:>7.1f}x{diff:>12.2e}{extra}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_rss
    print(f"peak MB (growth of the peak RSS over the run): {peak:.0f}")


if __name__ == "__main__":
    main()
