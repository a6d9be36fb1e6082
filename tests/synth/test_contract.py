"""Every synthetic dataset honours the Dataset contract the core relies on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xaibench.components as xc
from xaibench.bundle import Bundle
from xaibench_synth import plugin

REGISTERED: list[type[xc.Dataset]] = []
plugin.register_datasets(lambda cls, name=None: REGISTERED.append(cls))
SMALL = {"n_train": 3, "n_val": 2, "n_test": 2, "patch_size": 16}


def test_the_plugin_registers_four_datasets_with_distinct_names():
    names = [cls.name for cls in REGISTERED]
    assert names == ["synth-landcover", "synth-sar-optical", "synth-bioclim", "synth-weather-forecast"]
    assert all(issubclass(cls, xc.Dataset) and cls.version for cls in REGISTERED)


@pytest.mark.parametrize("cls", REGISTERED, ids=lambda c: c.name)
def test_info_is_json_and_bundle_round_trips(cls):
    ds = cls(cls.Params(**SMALL))
    info = ds.info()
    assert info.name == cls.name and info.task in {"multilabel", "forecast"}
    to_dict = getattr(xc.dataset, "info_to_dict", None)
    payload = to_dict(info) if to_dict else {"extra": info.extra}
    json.dumps(payload, sort_keys=True)  # stored as JSON in the data stage's meta

    data = ds.load(0)
    assert {name.split("/")[0] for name in data} == {"train", "val", "test"}
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        fields = data.split(split)
        assert all(len(v) == n for v in fields.values()), split
    main = "x" if "train/x" in data else "context"
    assert data[f"train/{main}"].dtype == np.float32 and data[f"train/{main}"].shape[-3] == info.n_bands
    back = Bundle.from_bytes(data.to_bytes())
    assert back.meta["data_seed"] == 0 and sorted(back.arrays) == sorted(data.arrays)
    for name in data:
        assert back[name].dtype == data[name].dtype and np.array_equal(back[name], data[name]), name


@pytest.mark.parametrize("cls", REGISTERED, ids=lambda c: c.name)
def test_defaults_are_valid_and_params_reject_unknown_keys(cls):
    defaults = cls.Params()
    assert defaults.data_seed == 0 and not defaults.vary_with_grid_seed
    with pytest.raises(Exception, match="extra|not permitted"):
        cls.Params(nonsense=1)


@pytest.mark.parametrize("cls", REGISTERED, ids=lambda c: c.name)
def test_docs_describe_every_parameter(cls):
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "datasets.md").read_text()
    section = docs.split(f"## {cls.name}\n")[1].split("\n## ")[0]
    assert f"## {cls.name}" in docs
    common = docs.split("## Common parameters\n")[1].split("\n## ")[0]
    for param in cls.Params.model_fields:
        assert f"`{param}`" in section or f"`{param}`" in common, param


def test_light_name_lists_match_the_generators():
    """bioclim.py / forecast.py repeat the region and regime names so the plugin imports no numpy."""
    from typing import get_args

    from xaibench_synth import bioclim, climate, forecast, weather

    assert get_args(bioclim.RegionName) == climate.REGION_NAMES == bioclim._REGIONS
    assert get_args(forecast.RegimeName) == weather.REGIME_NAMES == forecast._REGIMES
