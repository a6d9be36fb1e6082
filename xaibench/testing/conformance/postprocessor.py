"""Conformance of post-processors: shape-preserving, seeded, finite, both attribution layouts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...bundle import Bundle
from ...components import PostProcessor
from .common import (
    check_class,
    close,
    describe,
    make_instance,
    max_difference,
    nonfinite,
    perturb_global_rngs,
    recreate,
)
from .report import ConformanceReport


def kit_layer_data(n_train: int = 6, n_test: int = 3, n_classes: int = 4, channels: int = 13, size: int = 8,
                   seed: int = 0) -> tuple[Bundle, dict[str, np.ndarray]]:
    """Features ``{"train", "test"}`` ``(N, channels, size, size)`` and matching attributions.

    Attributions: ``"test"``/``"train"`` ``(N, classes, size, size)`` and ``"test5"``/``"train5"``
    ``(N, classes, channels, size, size)`` (a method that keeps channels), float32; each class's map
    is a smooth function of the features so that neighbours in feature space have similar maps.
    """
    rng = np.random.default_rng(seed)
    feats = {s: rng.normal(size=(m, channels, size, size)).astype(np.float32) for s, m in (("train", n_train), ("test", n_test))}
    w = rng.normal(size=(n_classes, channels)).astype(np.float32)
    attr: dict[str, np.ndarray] = {}
    for s, f in feats.items():
        per_channel = np.einsum("kc,nchw->nkchw", w, f).astype(np.float32)
        attr[s + "5"] = per_channel
        attr[s] = per_channel.sum(axis=2)
    return Bundle(feats, {"layer": "deep"}), attr


def check_postprocessor(cls: type[PostProcessor], params: dict[str, Any] | None = None, *, seed: int = 0,
                        rtol: float = 1e-5, atol: float = 1e-6, keep_channels: bool = True) -> ConformanceReport:
    """Check a post-processor on 13-channel layer features and attributions of 4 classes.

    It is called as the grid calls it: ``prepare(features or None, seed)`` (features only
    with ``needs_features``), the state through the cache's serialisation, then
    ``apply(state, test, train or None)`` (train attributions only with
    ``needs_train_attributions``).  Checks: the output has the test attributions' shape
    and a floating dtype, for channel-summed ``(N, classes, H, W)`` and, with
    ``keep_channels``, per-channel ``(N, classes, D, H, W)`` attributions; it is finite, also for
    all-zero attributions; the same seed gives the same output even when the global RNGs
    moved; the inputs are not modified in place.
    """
    report = ConformanceReport(describe(cls))
    if not check_class(cls, "postprocessor", report):
        report.raise_if_failed()
    pp = make_instance(cls, params, report)
    if pp is None:
        report.raise_if_failed()
    assert pp is not None
    features, attr = kit_layer_data(seed=seed)

    def prepared(component: PostProcessor) -> Bundle | None:
        state = component.prepare(features if cls.needs_features else None, seed)
        if state is None:
            return None
        if not isinstance(state, Bundle):
            raise TypeError(f"prepare() returned {type(state).__name__}, expected a Bundle or None")
        json.dumps(state.meta)
        return Bundle.from_bytes(state.to_bytes())  # what the next stage reads from the cache

    def apply(component: PostProcessor, state: Bundle | None, test: np.ndarray, train: np.ndarray) -> np.ndarray:
        return np.asarray(component.apply(state, test, train if cls.needs_train_attributions else None))

    state: Bundle | None = None
    ok_state = False
    with report.step("prepare()", "prepare(features, seed) must return a Bundle (or None) of numeric arrays"):
        perturb_global_rngs(1)
        state = prepared(pp)
        ok_state = True
        report.ok("prepare()")
    if not ok_state:
        return report.raise_if_failed()
    layouts = [("channel-summed", attr["test"], attr["train"], "")]
    if keep_channels:
        layouts.append(("per-channel", attr["test5"], attr["train5"],
                        "methods with keep_channels: true give (N, classes, D_l, H_l, W_l); handle both layouts "
                        "(e.g. work on the last two axes), or call the check with keep_channels=False"))
    for tag, test, train, layout_fix in layouts:
        applied = False
        with report.step(f"{tag}: apply()", layout_fix):
            before = (test.copy(), train.copy())
            out = apply(pp, state, test, train)
            applied = True
            report.require(out.shape == test.shape, f"{tag}: shape", f"apply() changed the shape {test.shape} -> {out.shape}",
                           "return one map per sample, class (and channel) at the same positions")
            report.expect(np.issubdtype(out.dtype, np.floating), f"{tag}: dtype", f"apply() returned dtype {out.dtype}",
                          "return float32")
            report.expect(not nonfinite(out), f"{tag}: finite", f"apply() returned {nonfinite(out)}")
            report.expect(np.array_equal(before[0], test) and np.array_equal(before[1], train), f"{tag}: input untouched",
                          "apply() modified the attributions it was given in place",
                          "work on a copy: the same arrays are shared with other post-processors")
            perturb_global_rngs(2)
            fresh = recreate(pp)
            again = apply(fresh, prepared(fresh), test, train)
            report.expect(close(again, out, rtol, atol), f"{tag}: deterministic under a seed",
                          f"two runs with seed {seed} differ (max |difference| {max_difference(again, out):.3g})",
                          "draw random numbers from the seed given to prepare(), not from the global RNGs")
        if not applied:
            continue
        with report.step(f"{tag}: all-zero attributions"):
            z = apply(pp, state, np.zeros_like(test), np.zeros_like(train))
            report.expect(not nonfinite(z), f"{tag}: all-zero attributions",
                          f"apply() returned {nonfinite(z)} for all-zero attributions",
                          "guard divisions by norms or sums with an epsilon")
    report.skip("cpu/gpu parity", "post-processors receive and return numpy arrays")
    return report.raise_if_failed()
