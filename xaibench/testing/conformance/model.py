"""Conformance of models: info, seeded training, the stored state, the SplittableModel contract."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...bundle import Bundle
from ...capabilities import NO_MODULE_HOOKS
from ...components import Model, ModelInfo, SplittableModel
from ..data import SCENARIOS, Scenario, make_bundle, scenario
from .common import (
    check_class,
    close,
    cuda_available,
    describe,
    make_instance,
    max_difference,
    nonfinite,
    perturb_global_rngs,
    recreate,
)
from .hooks import hook_problem
from .report import ConformanceReport


def check_model(
    cls: type[Model],
    params: dict[str, Any] | None = None,
    *,
    scenarios: Sequence[str | Scenario] = SCENARIOS,
    n: int = 8,
    size: int = 32,
    n_classes: int = 4,
    seed: int = 0,
    splittable: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ConformanceReport:
    """Check a model component on the kit's tiny 13-band and multi-modal (S2 + S1 + aux) data.

    Pass params that make training short (``{"train": {"epochs": 1}}``-like).  Checks:
    ``info()`` returns a :class:`ModelInfo` whose layers include ``"input"``; ``train``
    returns a Bundle that survives the cache's serialisation and is identical for the
    same seed even when the global RNGs moved; ``load`` rebuilds a model that, with
    ``splittable`` (the default, required by the torch attribution methods), satisfies
    :class:`~xaibench.components.SplittableModel`: logits ``(N, classes)`` for all classes
    at once, in eval mode (two calls agree), ``head(body(x)) == model(x)`` at every
    declared layer, ``features()`` equal to the body's output as float32
    ``(N, D_l, H_l, W_l)``, finite logits on an all-zero input, and the same logits
    on CUDA as on CPU (skipped without CUDA), and that each head runs under the module hooks of
    the rule-based methods (no in-place output changes, no module called twice; a model whose
    modules take no hooks declares ``NO_MODULE_HOOKS``).  Scenarios whose data lack what the model
    ``requires`` are skipped.
    """
    report = ConformanceReport(describe(cls))
    if not check_class(cls, "model", report):
        report.raise_if_failed()
    model = make_instance(cls, params, report)
    if model is None:
        report.raise_if_failed()
    assert model is not None
    ran = 0
    for item in scenarios:
        sc = scenario(item, n_classes)
        sc_name, n_classes = sc.name, sc.info.n_classes
        lacking = sorted(cls.requires - sc.info.provides)
        if lacking:
            report.skip(sc_name, f"requires {', '.join(lacking)}, which the {sc_name} scenario does not provide")
            continue
        ran += 1
        data = make_bundle(sc, n, size, seed)
        minfo: ModelInfo | None = None
        with report.step(f"{sc_name}: info()"):
            minfo = model.info(sc.info)
            report.require(isinstance(minfo, ModelInfo), f"{sc_name}: info()",
                           f"info() returned {type(minfo).__name__}, expected xaibench.components.ModelInfo")
            report.expect("input" in minfo.layers and all(isinstance(v, str) for v in minfo.layers),
                          f"{sc_name}: layers", f"ModelInfo.layers {minfo.layers!r} must be names and include 'input'",
                          "list every layer attribution can be computed at, 'input' first")
        if not isinstance(minfo, ModelInfo):
            continue
        state: Bundle | None = None
        with report.step(f"{sc_name}: train()"):
            perturb_global_rngs(1)
            trained = model.train(data, seed)
            report.require(isinstance(trained, Bundle), f"{sc_name}: train() returns a Bundle",
                           f"train() returned {type(trained).__name__}", "return xaibench.bundle.Bundle(arrays, meta)")
            with report.step(f"{sc_name}: state serialises", "store weights as numeric numpy arrays and JSON-able meta"):
                json.dumps(trained.meta)
                state = Bundle.from_bytes(trained.to_bytes())
                report.ok(f"{sc_name}: state serialises")
            metrics = trained.meta.get("metrics", {})
            report.expect(isinstance(metrics, dict) and all(isinstance(v, (int, float)) for v in metrics.values()),
                          f"{sc_name}: training metrics", f"meta['metrics'] must be a flat dict of numbers, got {metrics!r}",
                          "put only floats in meta['metrics'] (they are logged to MLflow)")
            perturb_global_rngs(2)
            again = recreate(model).train(data, seed)
            same_keys = set(again.arrays) == set(trained.arrays)
            diff = [k for k in trained.arrays if same_keys and not close(again.arrays[k], trained.arrays[k], rtol, atol)]
            report.expect(same_keys and not diff, f"{sc_name}: deterministic under a seed",
                          f"two trainings with seed {seed} differ"
                          + (f" in {', '.join(diff[:5])}" if diff else " in their array names"),
                          "seed everything from the `seed` argument (torch.manual_seed(seed), a seeded DataLoader "
                          "generator), not from the global state")
        if state is None:
            continue
        with report.step(f"{sc_name}: load()"):
            net = model.load(sc.info, state)
            n_test = len(data["test/x"]) if "test/x" in data else n
            _check_loaded(report, sc_name, model, net, minfo, data, splittable, n_test, n_classes, rtol, atol)
    if ran == 0:
        report.fail("capabilities", "every scenario was skipped: the model requires "
                    f"{', '.join(sorted(cls.requires))}, which neither kit scenario provides",
                    "pass scenarios=... or drop the requirement")
    return report.raise_if_failed()


def _tensors(data: Bundle, split: str = "test", zero: bool = False):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(data[f"{split}/x"]))
    aux = torch.from_numpy(np.ascontiguousarray(data[f"{split}/aux"])) if f"{split}/aux" in data else None
    if zero:
        x = torch.zeros_like(x)
        aux = None if aux is None else torch.zeros_like(aux)
    return x, aux


def _check_loaded(report: ConformanceReport, tag: str, model: Model, net: Any, minfo: ModelInfo, data: Bundle,
                  splittable: bool, n: int, n_classes: int, rtol: float, atol: float) -> None:
    import torch

    if splittable and "test/x" not in data:
        report.skip(f"{tag}: SplittableModel", "the data has no 'test/x' (N, C, H, W) to call the model with; "
                    "only features() is checked")
    if splittable and "test/x" in data:
        report.require(isinstance(net, SplittableModel), f"{tag}: SplittableModel",
                       f"load() returned {type(net).__name__}, which lacks layer_names/split()/__call__(x, aux)",
                       "return an nn.Module with `layer_names` and `split(layer) -> (body, head)`; see "
                       "xaibench.components.SplittableModel (or call the check with splittable=False)")
        missing = [layer for layer in minfo.layers if layer not in tuple(net.layer_names)]
        report.expect(not missing, f"{tag}: declared layers exist", f"info() declares layers {missing} that the "
                      f"loaded model's layer_names {tuple(net.layer_names)} lack",
                      "make ModelInfo.layers a subset of the model's layer_names")
        x, aux = _tensors(data)
        with torch.no_grad():
            logits = net(x, aux)
            second = net(x, aux)
        report.require(tuple(logits.shape) == (n, n_classes), f"{tag}: logits",
                       f"model(x, aux) returned shape {tuple(logits.shape)}, expected (N={n}, classes={n_classes})",
                       "return logits for every class")
        ref = logits.float().cpu().numpy()
        report.expect(close(second.float().cpu().numpy(), ref, rtol, atol), f"{tag}: eval mode",
                      "two forward passes on the same input differ", "return `net.eval()` from load()")
        report.expect(not nonfinite(ref), f"{tag}: finite logits", f"logits have {nonfinite(ref)}")
        xz, az = _tensors(data, zero=True)
        with torch.no_grad():
            zl = net(xz, az).float().cpu().numpy()
        report.expect(not nonfinite(zl), f"{tag}: all-zero input", f"logits on an all-zero input have {nonfinite(zl)}",
                      "guard normalisations (x / x.std()) with an epsilon")
        for layer in minfo.layers:
            with report.step(f"{tag}/{layer}: split"):
                body, head = net.split(layer)
                with torch.no_grad():
                    f = body(x, aux)
                    out = head(f, aux).float().cpu().numpy()
                report.require(f.ndim == 4 and f.shape[0] == n, f"{tag}/{layer}: body output",
                               f"body returned shape {tuple(f.shape)}, expected (N, D_l, H_l, W_l)")
                report.expect(close(out, ref, 1e-4, 1e-4), f"{tag}/{layer}: head(body(x)) == model(x)",
                              f"head(body(x, aux), aux) differs from model(x, aux) (max |difference| "
                              f"{max_difference(out, ref):.3g})", "the head must run exactly the rest of the network")
                if NO_MODULE_HOOKS not in minfo.provides:
                    problem = hook_problem(head, f, aux)
                    report.expect(problem is None, f"{tag}/{layer}: module hooks",
                                  f"hook-based methods (Guided Backprop, DeepLift, LRP) would fail: {problem[0]}"
                                  if problem else "", problem[1] if problem else "")
                feats = model.features(net, data, "test", layer)
                report.require(isinstance(feats, np.ndarray) and feats.dtype == np.float32,
                               f"{tag}/{layer}: features()", f"features() returned {type(feats).__name__} "
                               f"{getattr(feats, 'dtype', '')}, expected a float32 numpy array")
                report.expect(close(feats, f.float().cpu().numpy(), 1e-4, 1e-5), f"{tag}/{layer}: features() == body",
                              f"features() shape {feats.shape} differs from the body's output {tuple(f.shape)}",
                              "features(model, data, split, layer) must be the body's output at that layer")
        if cuda_available():
            with report.step(f"{tag}: cpu/gpu parity"):
                net.to(torch.device("cuda"))
                with torch.no_grad():
                    g = net(x.cuda(), None if aux is None else aux.cuda()).float().cpu().numpy()
                net.to(torch.device("cpu"))
                report.expect(close(g, ref, 1e-3, 1e-4), f"{tag}: cpu/gpu parity",
                              f"CUDA and CPU logits differ (max |difference| {max_difference(g, ref):.3g})")
        else:
            report.skip(f"{tag}: cpu/gpu parity", "CUDA not available")
    else:
        for layer in minfo.layers:
            with report.step(f"{tag}/{layer}: features()"):
                feats = model.features(net, data, "test", layer)
                report.expect(isinstance(feats, np.ndarray) and feats.ndim == 4
                              and feats.dtype == np.float32, f"{tag}/{layer}: features()",
                              f"features() returned {getattr(feats, 'shape', type(feats).__name__)}, expected float32 "
                              "(N, D_l, H_l, W_l)")
