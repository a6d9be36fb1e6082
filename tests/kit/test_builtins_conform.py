"""Every built-in component passes the conformance checks third-party plugins are held to.

Components are found through the catalog (built-ins: registered from ``plugins/``), so a new
built-in is checked as soon as it is registered.  Datasets and models need an entry in
``TINY`` (params that make them run in about a second); methods, metrics and
post-processors run on the kit's tiny inputs and only list params here to cut their cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import xaibench.testing as kit
from xaibench.components import info_to_dict
from xaibench.plugins import PluginSession

PLUGINS_DIR = Path(__file__).parents[2] / "plugins"
TINY_DATA = {"n_train": 4, "n_val": 2, "n_test": 2, "patch_size": 16}
TINY_TRAIN = {"epochs": 1, "batch_size": 4}
TINY: dict[str, dict[str, dict[str, Any]]] = {
    "dataset": {
        "synth-landcover": TINY_DATA,
        "synth-sar-optical": TINY_DATA,
        "synth-bioclim": TINY_DATA,
        "synth-weather-forecast": {**TINY_DATA, "context_frames": 2, "target_frames": 2},
    },
    "model": {
        "uh-net": {"width": 0.0625, "train": TINY_TRAIN},
        "resnet-18": {"width": 0.125, "train": TINY_TRAIN},
        "resnet-101": {"width": 0.0625, "train": TINY_TRAIN},
        "vgg-16": {"width": 0.0625, "train": TINY_TRAIN},
        "resnet-18-emb": {"width": 0.125, "embed_after": "layer2", "train": TINY_TRAIN},
        "resnet-18-cbn": {"width": 0.125, "train": TINY_TRAIN},
        "fusion-resnet-18": {"width": 0.125, "fuse_after": "layer1", "train": TINY_TRAIN},
        "convlstm": {"width": 0.125, "train": {"epochs": 1, "batch_size": 2}},
        # a user's model: the kit's own net (KitNet builds its parts in forward: the hook fallback)
        "torch-module": {"module": "xaibench.testing.torch_model:KitNet", "kwargs": {"n_bands": 4, "n_classes": 4},
                         "bands": ["B2", "B3", "B4", "B8"], "layers": {"deep": "pool1"}},
    },
    "attribution": {
        "kmeans-occlusion": {"n_clusters": 4},
        "gradient-shap": {"n_baselines": 2, "n_samples": 2},
        "deeplift-shap": {"n_baselines": 2},
    },
    "metric": {
        "max-sensitivity": {"nr_samples": 2, "max_instances": 2},
        "quantus": {"metric": "Sparseness"},
        "model-randomization": {"max_instances": 2, "n_blocks": 2},
    },
    "postprocessor": {"harmonize": {"k": 3}},
}
CHECKS = {
    "dataset": kit.check_dataset,
    "model": kit.check_model,
    "attribution": kit.check_attribution,
    "metric": kit.check_metric,
    "postprocessor": kit.check_postprocessor,
}


def _builtins() -> list[tuple[str, str]]:
    session = PluginSession(disabled=set())
    out = []
    for kind in CHECKS:
        for name, entry in sorted(session.catalog.entries[kind].items()):
            import sys

            source = Path(sys.modules[entry.cls.__module__].__file__ or "").resolve()
            if PLUGINS_DIR.resolve() in source.parents:
                out.append((kind, name))
    return out


BUILTINS = _builtins()


def test_every_kind_has_builtins():
    assert {kind for kind, _ in BUILTINS} == set(CHECKS)


@pytest.mark.parametrize(("kind", "name"), BUILTINS, ids=[f"{k}:{n}" for k, n in BUILTINS])
def test_builtin_conforms(kind, name, fresh_session):
    catalog = fresh_session.catalog
    cls = catalog.get(kind, name).cls
    if kind == "dataset" and cls.__module__.startswith("xaibench_eodata."):
        pytest.skip("file-based loader: checked on fixture copies in tests/eodata")
    if kind == "metric" and "forecast" in cls.requires:
        pytest.skip("forecast metric: the kit has no forecast scenario; checked in tests/studies")
    if kind in ("dataset", "model") and name not in TINY[kind]:
        pytest.fail(f"add params that make the {kind} {name!r} tiny to TINY['{kind}'] in {__file__}")
    params = TINY[kind].get(name)
    kwargs: dict[str, Any] = {}
    if kind == "model" and cls.requires - kit.scenario("multimodal").info.provides:
        kwargs["scenarios"] = [_scenario_providing(cls.requires, catalog)]
    report = CHECKS[kind](cls, params, **kwargs)
    assert report.passed and not report.failures


def _scenario_providing(tokens: frozenset[str], catalog) -> kit.Scenario:
    """A scenario made of a tiny built-in dataset that provides ``tokens`` (forecast models)."""
    for name, params in TINY["dataset"].items():
        ds = catalog.create("dataset", name, params)
        info = ds.info()
        if tokens <= info.provides:
            data = ds.load(0)
            data.meta["info"] = info_to_dict(info)
            return kit.Scenario.from_bundle(name, data)
    pytest.fail(f"no dataset in TINY provides {sorted(tokens)}")
