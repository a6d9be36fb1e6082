"""Conformance of attribution methods: shapes, all classes, layers, seeding, zero input, devices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...capabilities import AUX_INPUT, MULTIMODAL
from ...components import AttributionMethod, AttributionRequest, ModelInfo
from ..data import SCENARIOS, Scenario, make_bundle, scenario
from .common import (
    check_class,
    close,
    cuda_available,
    describe,
    make_instance,
    max_difference,
    mutated,
    nonfinite,
    perturb_global_rngs,
    recreate,
    snapshot,
)
from .report import ConformanceError, ConformanceReport


def model_info_for(sc: Scenario, layers: tuple[str, ...]) -> ModelInfo:
    """What a model of the kit declares: its layers, plus ``multimodal``/``aux-input`` when it has them."""
    provides = frozenset({MULTIMODAL, AUX_INPUT}) if sc.aux_dim else frozenset()
    return ModelInfo(layers=layers, provides=provides)


def check_attribution(
    cls: type[AttributionMethod],
    params: dict[str, Any] | None = None,
    *,
    class_specific: bool | None = None,
    scenarios: Sequence[str | Scenario] = SCENARIOS,
    n: int = 3,
    size: int = 16,
    n_classes: int = 4,
    seed: int = 0,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ConformanceReport:
    """Check an attribution method against the contract on the kit's tiny torch model.

    For each scenario (13 Sentinel-2 bands; S2 + S1 bands with an aux vector) and each
    layer (``"input"``, ``"deep"`` at half resolution) the method does not declare
    incompatible (``requires``/``incompatibility``), checks that :meth:`attribute`:

    - returns a float32 numpy array ``(N, classes, H_l, W_l)`` or ``(N, classes, D_l, H_l, W_l)``
      at the *requested layer's* size (a method that accepts ``"deep"`` must explain it);
    - explains every class at once, with different maps per class unless the method
      declares ``class_specific = False`` (or the check is called with ``class_specific=False``);
    - gives the same result for the same seed even when the global RNGs moved;
    - has no NaN/inf, on the data and on an all-zero input;
    - leaves the request's arrays unchanged;
    - matches on CUDA what it computes on CPU (skipped without CUDA).

    Params must reject unknown keys and survive a JSON round trip.  Returns the
    report; raises :class:`ConformanceError` listing every failure.
    """
    import torch

    from ..torch_model import KitNet, layer_shape

    report = ConformanceReport(describe(cls))
    if not check_class(cls, "attribution", report):
        report.raise_if_failed()
    method = make_instance(cls, params, report)
    if method is None:
        report.raise_if_failed()
    assert method is not None
    if class_specific is None:
        class_specific = bool(getattr(cls, "class_specific", True))

    supported = 0
    for item in scenarios:
        sc = scenario(item, n_classes)
        sc_name, n_classes = sc.name, sc.info.n_classes
        model = KitNet(sc.n_bands, n_classes, sc.aux_dim, seed=seed)
        minfo = model_info_for(sc, model.layer_names)
        lacking = sorted(cls.requires - (sc.info.provides | minfo.provides))
        if lacking:
            report.skip(sc_name, f"requires {', '.join(lacking)}, which the {sc_name} scenario does not provide")
            continue
        data = make_bundle(sc, n, size, seed)
        zeros = make_bundle(sc, n, size, seed, zero=True)
        x_shape = data["test/x"].shape
        n_test = x_shape[0]

        def run(m: AttributionMethod, bundle, net, layer: str, _sc: Scenario = sc) -> Any:
            request = AttributionRequest(model=net, data=bundle, data_info=_sc.info, split="test", layer=layer,
                                         seed=seed, memory_budget_mb=64)
            return m.attribute(request)

        for layer in model.layer_names:
            tag = f"{sc_name}/{layer}"
            why: str | None = "incompatibility() raised"
            with report.step(f"{tag}: incompatibility()", "incompatibility() must return None or a reason string"):
                why = method.incompatibility(minfo, layer)
            if why:
                if not isinstance(why, str):
                    report.fail(f"{tag}: incompatibility()", f"returned {why!r}, expected None or a string")
                else:
                    report.skip(tag, why)
                continue
            supported += 1
            d_l, h_l, w_l = layer_shape(model, layer, x_shape)
            attributed = False
            with report.step(f"{tag}: attribute"):
                before = snapshot(data.arrays)
                perturb_global_rngs(1)
                raw = run(method, data, model, layer)
                report.require(isinstance(raw, np.ndarray), f"{tag}: returns ndarray",
                               f"attribute() returned {type(raw).__name__}, not a numpy array",
                               "return `tensor.detach().cpu().numpy()`")
                a = raw
                attributed = True
                report.expect(not mutated(before, data.arrays), f"{tag}: input untouched",
                              f"attribute() modified request.data in place ({', '.join(mutated(before, data.arrays))})",
                              "copy arrays before modifying them (np.array(x, copy=True))")
                report.require(a.ndim in (4, 5) and a.shape[0] == n_test, f"{tag}: shape",
                               f"returned shape {a.shape}; expected (N={n_test}, classes={n_classes}, H_l, W_l) "
                               f"or (N, classes, D_l, H_l, W_l)", "see xaibench.components.AttributionMethod")
                report.require(a.shape[1] == n_classes, f"{tag}: all classes at once",
                               f"returned {a.shape[1]} map(s) per sample for a model with {n_classes} classes",
                               "explain every class of the model in one call: axis 1 is the class")
                spatial = tuple(a.shape[-2:])
                if spatial != (h_l, w_l):
                    hint = ""
                    if layer != "input" and spatial == tuple(x_shape[-2:]):
                        hint = (" — the maps have the input's size: the method accepts this layer "
                                "(incompatibility() returned None) but explained the input instead")
                    report.fail(f"{tag}: layer size", f"maps are {spatial[0]}x{spatial[1]}, layer {layer!r} is "
                                f"{h_l}x{w_l}{hint}",
                                "explain request.layer: `body, head = request.model.split(request.layer)`, or "
                                "return a reason from incompatibility() for layers you do not support")
                else:
                    report.ok(f"{tag}: layer size")
                if a.ndim == 5:
                    report.expect(a.shape[2] == d_l, f"{tag}: channels", f"kept {a.shape[2]} channels, the layer has {d_l}",
                                  "with channels kept, axis 2 must be the layer's channels")
                report.expect(a.dtype == np.float32, f"{tag}: dtype", f"returned dtype {a.dtype}, expected float32",
                              "return `maps.astype(np.float32)`")
                bad = nonfinite(a)
                report.expect(not bad, f"{tag}: finite", f"returned {bad}", "guard divisions and logs with an epsilon")
                _class_check(report, tag, a, class_specific)
                perturb_global_rngs(2)
                again = np.asarray(run(recreate(method), data, model, layer))
                report.expect(close(again, a, rtol, atol), f"{tag}: deterministic under a seed",
                              f"two calls with seed {seed} differ (max |difference| {max_difference(again, a):.3g})",
                              "draw random numbers from request.seed (np.random.default_rng(request.seed), "
                              "torch.Generator().manual_seed(request.seed)), not from the global RNGs")
            if not attributed:
                continue  # the failure above says why; the remaining checks would repeat it
            with report.step(f"{tag}: all-zero input"):
                z = np.asarray(run(method, zeros, model, layer))
                bad = nonfinite(z)
                report.expect(not bad, f"{tag}: all-zero input", f"returned {bad} on an all-zero input",
                              "guard divisions by norms or sums with an epsilon")
            _device_parity(report, tag,
                           lambda net, _l=layer, _d=data: np.asarray(run(recreate(method), _d, net, _l)),
                           lambda _sc=sc, _k=n_classes: KitNet(_sc.n_bands, _k, _sc.aux_dim, seed=seed), torch, rtol, atol)
    if supported == 0:
        report.fail("capabilities", "the method declared itself incompatible with every layer of every scenario "
                    "the kit tries (13-band and multi-modal inputs, layers 'input' and 'deep'): "
                    + "; ".join(sorted({why for _, why in report.skipped})[:3]),
                    "support at least the input layer of a SplittableModel, or pass scenarios=... to the check")
    return report.raise_if_failed()


def _class_check(report: ConformanceReport, tag: str, a: np.ndarray, class_specific: bool) -> None:
    flat = a.reshape(a.shape[0], a.shape[1], -1)
    same = all(np.allclose(flat[:, k], flat[:, 0], rtol=1e-5, atol=1e-7) for k in range(1, a.shape[1]))
    if class_specific:
        report.expect(not same or a.shape[1] == 1, f"{tag}: depends on the class",
                      "returns the same map for every class: the method ignores the class it is asked to explain",
                      "explain each class separately (e.g. differentiate logit k for map k); if the method is "
                      "class-agnostic by design, declare `class_specific = False` on the class")
    else:
        report.skip(f"{tag}: depends on the class", "declared class-agnostic (class_specific = False)")


def _device_parity(report: ConformanceReport, tag: str, compute, build, torch, rtol: float, atol: float) -> None:
    if not cuda_available():
        report.skip(f"{tag}: cpu/gpu parity", "CUDA not available")
        return
    with report.step(f"{tag}: cpu/gpu parity", "move inputs to the model's device "
                     "(next(model.parameters()).device) and results back with .cpu()"):
        cpu = compute(build())
        gpu = compute(build().to(torch.device("cuda")))
        report.expect(close(gpu, cpu, max(rtol, 1e-3), max(atol, 1e-4)), f"{tag}: cpu/gpu parity",
                      f"CUDA and CPU results differ (max |difference| {max_difference(gpu, cpu):.3g})",
                      "compute on the model's device in float32; avoid device-dependent RNG draws")


__all__ = ["ConformanceError", "check_attribution"]
