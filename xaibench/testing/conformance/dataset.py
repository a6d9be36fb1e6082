"""Conformance of datasets: info, array layout per split, declared fields, seeding, serialisation."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...bundle import Bundle
from ...components import Dataset, DatasetInfo
from .common import check_class, describe, make_instance, nonfinite, perturb_global_rngs, recreate
from .report import ConformanceReport

TASKS = ("multilabel", "singlelabel", "forecast")


def check_dataset(cls: type[Dataset], params: dict[str, Any] | None = None, *, seeds: tuple[int, int] = (0, 1)
                  ) -> ConformanceReport:
    """Check a dataset component.  Pass params that make it small (a few samples per split).

    Checks: ``info()`` is a :class:`DatasetInfo` with a known task, bands whose
    modalities are listed in ``modalities`` and non-empty classes; ``load(seed)``
    returns a Bundle that survives the cache's serialisation, in which every split of
    ``info().splits`` has ``x`` ``(N, C, H, W)`` float32 with ``C == info().n_bands``
    and finite values (forecast datasets document their own layout and skip this),
    ``labels`` ``(N, classes)`` (multilabel) or ``label`` ``(N,)`` int (singlelabel),
    and the fields ``provides`` promises (``mask`` ``(N, H, W)`` int, ``aux`` ``(N, A)``);
    the same seed gives the same data even when the global RNGs moved; and
    ``varies_with_seed()`` tells the truth (``False``: two seeds give the same data).
    """
    report = ConformanceReport(describe(cls))
    if not check_class(cls, "dataset", report):
        report.raise_if_failed()
    ds = make_instance(cls, params, report)
    if ds is None:
        report.raise_if_failed()
    assert ds is not None
    info: DatasetInfo | None = None
    with report.step("info()"):
        info = ds.info()
        report.require(isinstance(info, DatasetInfo), "info()", f"info() returned {type(info).__name__}, "
                       "expected xaibench.components.DatasetInfo")
        _check_info(report, info)
    if not isinstance(info, DatasetInfo):
        return report.raise_if_failed()
    first: Bundle | None = None
    with report.step("load()"):
        perturb_global_rngs(1)
        loaded = ds.load(seeds[0])
        report.require(isinstance(loaded, Bundle), "load() returns a Bundle", f"load() returned {type(loaded).__name__}",
                       "return xaibench.bundle.Bundle.from_splits({'train': {...}, 'test': {...}})")
        with report.step("data serialises", "use numeric arrays (no object dtype) and JSON-able meta"):
            json.dumps(loaded.meta)
            first = Bundle.from_bytes(loaded.to_bytes())
            report.ok("data serialises")
    if first is None:
        return report.raise_if_failed()
    for split in info.splits:
        _check_split(report, info, first, split)
    with report.step("deterministic under a seed"):
        perturb_global_rngs(2)
        again = recreate(ds).load(seeds[0])
        diff = _differences(first, again)
        report.expect(not diff, "deterministic under a seed", f"two loads with seed {seeds[0]} differ in {', '.join(diff[:5])}",
                      "generate from np.random.default_rng(seed-derived value), never from the global RNGs")
    with report.step("varies_with_seed() matches the data"):
        varies = ds.varies_with_seed()
        other = ds.load(seeds[1])
        diff = _differences(first, other, arrays_only=True)
        if varies:
            report.expect(bool(diff), "varies_with_seed() matches the data",
                          f"varies_with_seed() is True but load({seeds[0]}) and load({seeds[1]}) are identical",
                          "return False from varies_with_seed(): every grid seed then shares one cached copy")
        else:
            report.expect(not diff, "varies_with_seed() matches the data",
                          f"varies_with_seed() is False but load({seeds[0]}) and load({seeds[1]}) differ in "
                          f"{', '.join(diff[:5])}", "return True from varies_with_seed(), or ignore the seed in load()")
    return report.raise_if_failed()


def _check_info(report: ConformanceReport, info: DatasetInfo) -> None:
    report.expect(info.task in TASKS, "info: task", f"task {info.task!r} is not one of {', '.join(TASKS)}")
    report.expect(bool(info.bands) and bool(info.splits), "info: bands and splits", "info() lists no bands or no splits")
    stray = sorted({b.modality for b in info.bands} - set(info.modalities))
    report.expect(not stray, "info: modalities", f"bands have modalities {stray} missing from info().modalities "
                  f"{info.modalities}", "list every band's modality in DatasetInfo.modalities")
    report.expect(info.task == "forecast" or len(info.classes) > 0, "info: classes", "a classification dataset with no classes")
    with report.step("info: extra is JSON-able", "keep DatasetInfo.extra JSON-able (it is stored with the data)"):
        json.dumps(info.extra)
        report.ok("info: extra is JSON-able")


def _check_split(report: ConformanceReport, info: DatasetInfo, data: Bundle, split: str) -> None:
    fields = data.split(split)
    tag = f"{split}"
    if info.task == "forecast":
        report.expect(bool(fields), f"{tag}: arrays", f"no arrays named '{split}/...'")
        return
    if not report.expect("x" in fields, f"{tag}: x", f"split {split!r} has no '{split}/x'",
                         "name arrays '<split>/<field>': 'train/x', 'test/x' ..."):
        return
    x = fields["x"]
    if not report.expect(x.ndim == 4 and x.shape[1] == info.n_bands and x.dtype == np.float32, f"{tag}: x layout",
                         f"'{split}/x' is {x.dtype} {x.shape}; expected float32 (N, C={info.n_bands}, H, W)",
                         "one channel per band of info().bands, channels first, float32"):
        return
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    report.expect(not nonfinite(x), f"{tag}: x finite", f"'{split}/x' has {nonfinite(x)}",
                  "fill gaps (no-data pixels) with a value and document it")
    k = info.n_classes
    if info.task == "multilabel":
        lab = fields.get("labels")
        report.expect(lab is not None and lab.shape == (n, k) and np.isin(lab, (0, 1)).all(), f"{tag}: labels",
                      f"multilabel data need '{split}/labels' (N={n}, classes={k}) of 0/1, got "
                      f"{None if lab is None else (lab.dtype, lab.shape)}")
    if info.task == "singlelabel" or "label" in fields:
        lab = fields.get("label")
        report.expect(lab is not None and lab.shape == (n,) and np.issubdtype(lab.dtype, np.integer)
                      and (lab.size == 0 or (lab.min() >= 0 and lab.max() < k)), f"{tag}: label",
                      f"'{split}/label' must be (N={n},) integers in [0, {k}), got "
                      f"{None if lab is None else (lab.dtype, lab.shape)}")
    if "mask" in info.provides:
        m = fields.get("mask")
        report.expect(m is not None and m.shape == (n, h, w) and np.issubdtype(m.dtype, np.integer), f"{tag}: mask",
                      f"info().provides 'mask' but '{split}/mask' is {None if m is None else (m.dtype, m.shape)}; "
                      f"expected integer (N={n}, H={h}, W={w})", "provide the mask or drop 'mask' from provides")
    if "aux" in info.provides:
        a = fields.get("aux")
        report.expect(a is not None and a.ndim == 2 and a.shape[0] == n and not nonfinite(a), f"{tag}: aux",
                      f"info().provides 'aux' but '{split}/aux' is {None if a is None else (a.dtype, a.shape)}; "
                      f"expected finite (N={n}, A)", "provide the aux vector or drop 'aux' from provides")


def _differences(a: Bundle, b: Bundle, arrays_only: bool = False) -> list[str]:
    names = sorted(set(a.arrays) | set(b.arrays))
    diff = [k for k in names if k not in a.arrays or k not in b.arrays
            or a[k].shape != b[k].shape or not np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")]
    if not arrays_only and json.dumps(a.meta, sort_keys=True, default=str) != json.dumps(b.meta, sort_keys=True, default=str):
        diff.append("meta")
    return diff
