"""Conformance of metrics: every scope's context, value records, seeding, zero input, devices."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...components import AttributionRequest, Metric, MetricContext, MetricValue
from ..data import SCENARIOS, Scenario, make_bundle, scenario
from .attribution import model_info_for
from .common import check_class, cuda_available, describe, make_instance, perturb_global_rngs, recreate
from .report import ConformanceReport

SCOPES = ("model", "attribution", "methods", "postprocessors", "models")
Key = tuple[str, str, Any, Any, Any]


def check_metric(
    cls: type[Metric],
    params: dict[str, Any] | None = None,
    *,
    scenarios: Sequence[str | Scenario] = SCENARIOS,
    layers: Sequence[str] = ("input", "deep"),
    n: int = 4,
    size: int = 16,
    n_classes: int = 4,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> ConformanceReport:
    """Check a metric with contexts built as the grid builds them, on the kit's tiny torch model.

    The context matches the metric's ``scope``: ``model`` (trained model and training
    metrics), ``attribution`` (``method`` = a gradient x features method and its test
    attributions ``(N, classes, H_l, W_l)`` at each layer), ``methods`` (a group of three
    methods' attributions), ``postprocessors`` (the same method raw and smoothed) or
    ``models`` (two models' attributions of the same method, with their model infos).
    Scenarios or layers the metric declares incompatible (``requires``,
    ``incompatibility``) are skipped.  Checks: ``scope`` and ``higher_is_better``
    are valid; ``evaluate`` returns :class:`MetricValue` records with a statistic
    name, a real value (NaN marks an undefined value, inf is an error) and, for group
    scopes, members of the group as ``attribution``/``postprocessor``; the same
    seed gives the same values even when the global RNGs moved; an all-zero input does
    not raise or give inf; a CUDA model gives the CPU's values (skipped without CUDA).
    """
    from ..torch_model import KitNet

    report = ConformanceReport(describe(cls))
    if not check_class(cls, "metric", report):
        report.raise_if_failed()
    metric = make_instance(cls, params, report)
    if metric is None:
        report.raise_if_failed()
    assert metric is not None
    scope = cls.scope
    if not report.expect(scope in SCOPES, "scope", f"scope {scope!r} is not one of {', '.join(SCOPES)}"):
        return report.raise_if_failed()
    with report.step("higher_is_better"):
        direction = metric.higher_is_better
        report.expect(direction in (True, False, None), "higher_is_better",
                      f"higher_is_better is {direction!r}; expected True, False or None (no direction)",
                      "rankings use it to order methods")
        bad = {k: v for k, v in dict(metric.directions).items() if v not in (True, False, None)}
        report.expect(not bad, "directions", f"directions {bad!r}: each statistic's direction must be True, False "
                      "or None (not a score)", "rankings order each statistic in its own direction")
        report.expect(metric.headline is None or isinstance(metric.headline, str), "headline",
                      f"headline is {metric.headline!r}; expected a statistic name or None",
                      "rank, the report and the end-of-run table show it by default")
    ran = 0
    for item in scenarios:
        sc = scenario(item, n_classes)
        k = sc.info.n_classes

        def build(device: str = "cpu", _sc: Scenario = sc, _k: int = k) -> Any:
            net = KitNet(_sc.n_bands, _k, _sc.aux_dim, seed=seed)
            return net.to(device) if device != "cpu" else net

        minfo = model_info_for(sc, build().layer_names)
        lacking = sorted(cls.requires - (sc.info.provides | minfo.provides))
        if lacking:
            report.skip(sc.name, f"requires {', '.join(lacking)}, which the {sc.name} scenario does not provide")
            continue
        for layer in ([None] if scope == "model" else list(layers)):
            tag = sc.name if layer is None else f"{sc.name}/{layer}"
            why: str | None = "incompatibility() raised"
            with report.step(f"{tag}: incompatibility()"):
                why = metric.incompatibility(minfo, layer)
            if why:
                report.skip(tag, str(why))
                continue
            ran += 1
            contexts = {
                z: _context(scope, make_bundle(sc, n, size, seed, zero=z), sc, minfo, layer, seed, build)
                for z in (False, True)
            }
            values: dict[Key, float] | None = None
            with report.step(f"{tag}: evaluate()"):
                perturb_global_rngs(1)
                values = _check_values(report, tag, metric.evaluate(contexts[False]()), scope, contexts[False]())
            if values is None:
                continue
            with report.step(f"{tag}: deterministic under a seed"):
                perturb_global_rngs(2)
                again = _as_dict(recreate(metric).evaluate(contexts[False]()))
                report.expect(_same(again, values, rtol, atol), f"{tag}: deterministic under a seed",
                              f"two evaluations with seed {seed} differ: {_first_difference(again, values)}",
                              "draw random numbers from ctx.seed (np.random.default_rng(ctx.seed)), not the global RNGs")
            with report.step(f"{tag}: all-zero input", "an undefined value is NaN; never raise or return inf"):
                zero = _as_dict(metric.evaluate(contexts[True]()))
                inf = [key for key, v in zero.items() if math.isinf(v)]
                report.expect(not inf, f"{tag}: all-zero input", f"returned inf for {inf[:3]} on an all-zero input",
                              "return NaN where a value is undefined (e.g. a correlation of constant maps)")
            if cuda_available():
                with report.step(f"{tag}: cpu/gpu parity"):
                    gpu = _as_dict(recreate(metric).evaluate(contexts[False](device="cuda")))
                    report.expect(_same(gpu, values, 1e-3, 1e-5), f"{tag}: cpu/gpu parity",
                                  f"values with a CUDA model differ: {_first_difference(gpu, values)}",
                                  "move inputs to the model's device and results back with .cpu()")
            else:
                report.skip(f"{tag}: cpu/gpu parity", "CUDA not available")
    if ran == 0:
        report.fail("capabilities", "the metric declared itself incompatible with every scenario and layer the kit "
                    "tries: " + "; ".join(sorted({why for _, why in report.skipped})[:3]),
                    "pass scenarios=.../layers=... to the check")
    return report.raise_if_failed()


def _context(scope: str, data, sc: Scenario, minfo, layer: str | None, seed: int,
             build: Callable[..., Any]) -> Callable[..., MetricContext]:
    """A factory of fresh contexts (a metric may mutate its context), on CPU or ``device``."""
    from ..reference import GradientTimesFeatures, RandomMaps

    method = GradientTimesFeatures()
    cache: dict[str, dict[str, np.ndarray]] = {}

    def attributions(device: str) -> dict[str, np.ndarray]:
        if device not in cache and layer is not None:
            net = build(device)
            req = AttributionRequest(model=net, data=data, data_info=sc.info, split="test", layer=layer, seed=seed)
            a = method.attribute(req)
            cache[device] = {"gxf": a, "random": RandomMaps().attribute(req), "smooth": _smooth(a)}
        return cache.get(device, {})

    def make(device: str = "cpu") -> MetricContext:
        net = build(device)
        ctx = MetricContext(data=data, data_info=sc.info, model_info=minfo, seed=seed, load_model=lambda: net,
                            layer=layer, memory_budget_mb=64, training={"test_f1_micro": 0.5, "epochs": 2.0},
                            history=[{"epoch": 1, "train_loss": 0.7, "val_loss": 0.6, "val_accuracy": 0.4, "seconds": 1.0},
                                     {"epoch": 2, "train_loss": 0.5, "val_loss": 0.5, "val_accuracy": 0.6, "seconds": 1.0}])
        maps = attributions(device)
        if scope == "attribution":
            ctx.method, ctx.attributions = method, maps["gxf"].copy()
        elif scope == "methods":
            ctx.group = {name: maps[name].copy() for name in ("gxf", "random", "smooth")}
        elif scope == "postprocessors":
            ctx.method = method
            ctx.group = {"none": maps["gxf"].copy(), "smooth": maps["smooth"].copy()}
        elif scope == "models":
            ctx.group = {"first": maps["gxf"].copy(), "second": maps["smooth"].copy()}
            ctx.group_info = {"first": minfo, "second": minfo}
        return ctx

    return make


def _smooth(a: np.ndarray) -> np.ndarray:
    """3x3 box blur over the last two axes (edge-padded), as a stand-in post-processor."""
    pad = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = a.shape[-2:]
    out = sum(pad[..., i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0
    return out.astype(np.float32)


def _check_values(report: ConformanceReport, tag: str, values: Any, scope: str, ctx: MetricContext) -> dict[Key, float] | None:
    report.require(isinstance(values, (list, tuple)), f"{tag}: returns a list",
                   f"evaluate() returned {type(values).__name__}", "return a list of MetricValue")
    report.require(len(values) > 0, f"{tag}: returns values", "evaluate() returned no values",
                   "return at least one MetricValue (NaN when undefined)")
    bad = [v for v in values if not isinstance(v, MetricValue)]
    report.require(not bad, f"{tag}: MetricValue records", f"evaluate() returned {type(bad[0]).__name__ if bad else ''} "
                   "items", "return xaibench.components.MetricValue(statistic, value, sub_key=...)")
    for v in values:
        report.require(isinstance(v.statistic, str) and bool(v.statistic) and isinstance(v.sub_key, str),
                       f"{tag}: statistic names", f"statistic {v.statistic!r} / sub_key {v.sub_key!r} must be strings "
                       "(statistic non-empty)", 'use "value" when there is a single number')
        number = isinstance(v.value, (int, float, np.floating, np.integer)) and not isinstance(v.value, bool)
        report.require(number, f"{tag}: real values", f"value of {v.statistic!r} is {v.value!r}",
                       "return a float (float(np_value)); NaN when undefined")
        report.require(not math.isinf(float(v.value)), f"{tag}: no inf", f"value of {v.statistic!r} is {v.value}",
                       "return NaN where a value is undefined")
    members = set(ctx.group)
    if scope == "methods":
        wrong = [v.attribution for v in values if v.attribution is not None and v.attribution not in members]
        report.expect(not wrong, f"{tag}: group members", f"values name methods {wrong[:3]} outside the group "
                      f"{sorted(members)}", "set MetricValue.attribution to a key of ctx.group")
    if scope == "postprocessors":
        wrong = [v.postprocessor for v in values if v.postprocessor is not None and v.postprocessor not in members]
        report.expect(not wrong, f"{tag}: group members", f"values name post-processors {wrong[:3]} outside the group "
                      f"{sorted(members)}", "set MetricValue.postprocessor to a key of ctx.group")
    if scope == "models":
        wrong = [v.model for v in values if v.model is not None and v.model not in members]
        report.expect(not wrong, f"{tag}: group members", f"values name models {wrong[:3]} outside the group "
                      f"{sorted(members)}", "set MetricValue.model to a key of ctx.group")
    out = _as_dict(values)
    report.expect(len(out) == len(values), f"{tag}: unique records", "two values share statistic, sub_key and member",
                  "qualify repeated statistics with sub_key")
    return out


def _as_dict(values: list[MetricValue]) -> dict[Key, float]:
    return {(v.statistic, v.sub_key, v.attribution, v.postprocessor, v.model): float(v.value) for v in values}


def _same(a: dict[Key, float], b: dict[Key, float], rtol: float, atol: float) -> bool:
    if set(a) != set(b):
        return False
    return all((math.isnan(a[k]) and math.isnan(b[k])) or math.isclose(a[k], b[k], rel_tol=rtol, abs_tol=atol) for k in a)


def _first_difference(a: dict[Key, float], b: dict[Key, float]) -> str:
    if set(a) != set(b):
        return f"different records ({sorted(map(str, set(a) ^ set(b)))[:3]})"
    for k in a:
        if not _same({k: a[k]}, {k: b[k]}, 0, 0):
            return f"{k[0]}{'/' + k[1] if k[1] else ''}: {a[k]!r} vs {b[k]!r}"
    return "none"
