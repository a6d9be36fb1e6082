"""The loaders pass the kit's dataset conformance checks (the ones third-party datasets are held to), on fixture copies."""

from __future__ import annotations

import pytest

import xaibench.testing as kit

from .test_models import CASES, _params

# val_fraction large enough that the tiny copies still have a validation split
VAL = {"dfc2020": 0.34, "sen12ms": 0.34, "bigearthnet": 0.25, "bigearthnet-v2": 0.25, "ben-ge": 0.25, "eurosat": 0.34, "opensarurban": 0.34,
       "earthnet2021": 0.5}


@pytest.mark.parametrize("case", list(CASES))
def test_loader_conforms(case, request, eo_session):
    params = {**_params(request, case), "val_fraction": VAL[case]}
    if case not in ("dfc2020", "sen12ms", "earthnet2021", "bigearthnet-v2"):  # official splits: val carved from train
        params["test_fraction"] = 0.3
    cls = eo_session.catalog.get("dataset", CASES[case][0]).cls
    report = kit.check_dataset(cls, params)
    assert report.passed and not report.failures
