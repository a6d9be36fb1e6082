"""The example registries for the real datasets validate against the catalog (no data needed to plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xaibench.config import load_registry
from xaibench.planning import build_plan

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "real").glob("*.yaml"))


def test_there_is_one_registry_per_study():
    assert {p.stem for p in EXAMPLES} == {"harmonization", "sar-opensarurban", "shape-sen12ms-cr", "bioclim-eurosat",
                                          "weather-earthnet2021"}  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_registry_plans(path, eo_session):
    config = load_registry(path, eo_session.catalog)
    plan = build_plan(config, eo_session.catalog)
    datasets = config.components["dataset"].values()
    assert datasets and all(ref.plugin == "eodata" for ref in datasets)
    assert all(ref.params["root"].startswith("/data/") for ref in datasets)
    assert any(u.kind == "cell" for u in plan.units)
