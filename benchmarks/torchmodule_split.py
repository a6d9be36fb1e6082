"""The generic split of ``torch-module`` against the zoo's hand-written split, on the same network.

Network: the zoo's ResNet-18 (``xaibench_zoo.nets.resnet.ResNet``, width 0.25, 13 bands, 8 classes)
with the same weights three ways, explained at its ``deep`` layer (``layer2``, stride 8) and at
``input``, on ``--n`` random 13x64x64 images:

- zoo: the network's own ``split`` (its hand-written list of steps);
- traced: ``torch-module`` with ``module: xaibench_zoo.nets.resnet:ResNet``: torch.fx graph cut at ``layer2``;
- hooks: the same with ``trace: hooks``, the fallback for models fx cannot trace (the head reruns
  the network up to the layer on a zero input, the body stops at the layer);
- script: ``torch-module`` with ``torchscript:`` (the network saved by ``torch.jit.trace``): its
  graph interpreted node by node and cut at ``layer2``'s call.  ScriptModules take no module
  hooks: the hook-based methods (Guided Backprop, DeepLift, LRP) print ``-`` there.

Each time is the minimum over ``--repeat`` calls of process CPU seconds (one thread by default:
robust to other processes on a shared machine).  Printed: seconds per method and path, the
ratios traced/zoo (target: within 10 %), hooks/zoo and script/zoo, whether the maps agree (max relative
difference), and the process's peak resident memory.

    OMP_NUM_THREADS=1 python benchmarks/torchmodule_split.py
    python benchmarks/torchmodule_split.py --methods grad-cam integrated-gradients --layers deep --repeat 5
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from xaibench.bundle import Bundle
from xaibench.components import AttributionRequest, Band, DatasetInfo
from xaibench_attributions.methods import METHODS
from xaibench_torchmodule.component import TorchModuleModel
from xaibench_zoo.nets.resnet import ResNet

DEFAULT_METHODS = ("grad-cam", "saliency", "gradients-x-features", "integrated-gradients", "guided-backprop",
                   "deeplift", "lrp", "gradient-shap", "sliding-window-occlusion")
SMALL = {"gradient-shap": {"n_baselines": 4}, "deeplift-shap": {"n_baselines": 4}}


def models(n: int, size: int):
    kwargs = {"arch": "resnet-18", "in_channels": 13, "n_classes": 8, "width": 0.25}
    torch.manual_seed(0)
    zoo = ResNet(**kwargs).eval()
    rng = np.random.default_rng(0)
    info = DatasetInfo(name="bench", task="multilabel", classes=tuple(f"c{i}" for i in range(8)),
                       bands=tuple(Band(f"b{i}") for i in range(13)))
    arrays = {f"{s}/x": rng.random((n, 13, size, size), dtype=np.float32) for s in ("train", "test")}
    arrays.update({f"{s}/labels": (rng.random((n, 8)) > 0.5).astype(np.float32) for s in ("train", "test")})
    data = Bundle(arrays, {"info": info})
    out = {"zoo": zoo}
    for name, trace in (("traced", "auto"), ("hooks", "hooks")):
        comp = TorchModuleModel(TorchModuleModel.Params(module="xaibench_zoo.nets.resnet:ResNet", kwargs=kwargs,
                                                        layers={"deep": "layer2"}, trace=trace))
        state = Bundle({k: v.detach().numpy().reshape(-1) if v.ndim == 0 else v.detach().numpy()
                        for k, v in zoo.state_dict().items()}, {"arch": {"input_shapes": [[13, size, size]]}})
        out[name] = comp.load(info, state)
    script = Path(tempfile.mkdtemp()) / "resnet.pt"
    torch.jit.save(torch.jit.trace(zoo, torch.zeros(2, 13, size, size)), script)
    comp = TorchModuleModel(TorchModuleModel.Params(torchscript=str(script), layers={"deep": "layer2"}))
    out["script"] = comp.load(info, Bundle({}, {"arch": {"input_shapes": [[13, size, size]]}}))
    assert out["traced"].traced and not out["hooks"].traced and out["script"].traced
    return out, data, info


def cpu_seconds(fn, repeat: int) -> tuple[float, np.ndarray]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--layers", nargs="+", default=["deep", "input"])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    nets, data, info = models(args.n, args.size)
    by_name = {m.name: m for m in METHODS}
    print(f"ResNet-18 (width 0.25), {args.n} images 13x{args.size}x{args.size}, 8 classes, "
          f"{args.threads} thread(s), min of {args.repeat} (CPU seconds)")
    print(f"{'layer':6} {'method':26} {'zoo':>8} {'traced':>8} {'hooks':>8} {'script':>8} {'traced/zoo':>11} "
          f"{'hooks/zoo':>10} {'script/zoo':>11} {'max rel diff':>13}")
    ratios = []
    for layer in args.layers:
        for name in args.methods:
            method = by_name[name](by_name[name].Params(**SMALL.get(name, {})))
            times, maps = {}, {}
            for path, net in nets.items():
                if path == "script" and method.module_hooks:
                    continue  # declared no-module-hooks: skipped at plan time in a grid
                request = AttributionRequest(model=net, data=data, data_info=info, split="test", layer=layer, seed=0)
                method.attribute(request)  # warm-up
                times[path], maps[path] = cpu_seconds(lambda r=request, m=method: m.attribute(r), args.repeat)
            scale = max(np.abs(maps["zoo"]).max(), 1e-12)
            diff = max(np.abs(maps[p] - maps["zoo"]).max() / scale for p in maps if p != "zoo")
            ratios.append(times["traced"] / times["zoo"])
            script = (f"{times['script']:8.3f}", f"{times['script'] / times['zoo']:11.2f}") if "script" in times \
                else (f"{'-':>8}", f"{'-':>11}")
            print(f"{layer:6} {name:26} {times['zoo']:8.3f} {times['traced']:8.3f} {times['hooks']:8.3f} {script[0]} "
                  f"{times['traced'] / times['zoo']:11.2f} {times['hooks'] / times['zoo']:10.2f} {script[1]} "
                  f"{diff:13.1e}")
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"traced/zoo geometric mean {geo:.3f} (target <= 1.10); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
