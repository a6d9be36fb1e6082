"""xaibench.notebook: a registry's splits, model and attributions from Python, through the run's cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from xaibench.components import AttributionRequest, info_from_dict
from xaibench.notebook import Workbench
from xaibench.testing import run_registry
from xaibench_attributions.methods import GradCam

from .models import UserResNet, init


@pytest.fixture
def registry(tmp_path):
    torch.save(init(UserResNet(bands=13, classes=8)).state_dict(), tmp_path / "resnet.pt")
    reg = {
        "experiment": "nb", "seeds": [0], "layers": ["deep"],
        "cache": str(tmp_path / "cache"), "results": str(tmp_path / "results"),
        "datasets": {"synth": {"component": "synth-landcover",
                               "params": {"n_train": 8, "n_val": 4, "n_test": 4, "patch_size": 16}}},
        "models": {"mine": {"component": "torch-module",
                            "params": {"module": f"{UserResNet.__module__}:UserResNet",
                                       "kwargs": {"bands": 13, "classes": 8},
                                       "checkpoint": str(tmp_path / "resnet.pt"), "layers": {"deep": "layer1"}}}},
        "attributions": {"gradcam": "grad-cam"},
        "postprocessors": {"none": "none"},
        "metrics": {"entropy": "xai-entropy"},
    }
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(reg))
    return path, reg


def test_splits_model_and_attributions_from_the_registry(registry):
    wb = Workbench(registry[0])
    train = wb.arrays("synth", "train")
    assert train["x"].shape == (8, 13, 16, 16) and train["x"].dtype == np.float32 and len(train["labels"]) == 8
    model = wb.model("synth", "mine")
    test = wb.arrays("synth", "test")
    with torch.no_grad():
        assert model(torch.from_numpy(test["x"])).shape == (4, 8)
    maps = wb.attributions("synth", "mine", "gradcam", layer="deep")
    data = wb.data("synth")
    direct = GradCam().attribute(AttributionRequest(model=model, data=data, data_info=info_from_dict(data.meta["info"]),
                                                    split="test", layer="deep", seed=0))
    assert maps.shape == (4, 8, 16, 16)
    np.testing.assert_allclose(maps, direct, rtol=1e-6, atol=1e-7)


def test_a_notebook_reads_what_the_grid_computed(registry, tmp_path, monkeypatch):
    path, reg = registry
    run_registry(reg, tmp_path / "run")

    def not_again(self, request):
        raise AssertionError("recomputed")

    monkeypatch.setattr(GradCam, "attribute", not_again)
    assert Workbench(path).attributions("synth", "mine", "gradcam", layer="deep").shape == (4, 8, 16, 16)


def test_unknown_names_say_what_the_registry_has(registry):
    wb = Workbench(registry[0])
    with pytest.raises(KeyError, match="no model 'theirs' .*the registry has: mine"):
        wb.model("synth", "theirs")
    with pytest.raises(KeyError, match="no split 'holdout' .*splits: .*test.*train"):
        wb.arrays("synth", "holdout")
