"""torch-module in a grid: a user's model from a factory, its TorchScript and exported copies, 13 methods,
at the input and at an inner layer."""

from __future__ import annotations

import torch

from xaibench.testing import run_registry
from xaibench.testing.session import rows

from .models import UserResNet, init

METHODS = ["sliding-window-occlusion", "kmeans-occlusion", "grad-cam", "guided-grad-cam", "guided-backprop",
           "deconvolution", "saliency", "gradients-x-features", "lrp", "integrated-gradients", "deeplift",
           "gradient-shap", "deeplift-shap"]
HOOKED = {"guided-grad-cam", "guided-backprop", "deconvolution", "lrp", "deeplift", "deeplift-shap"}


def test_user_model_and_its_torchscript_copy_through_the_grid(tmp_path):
    user = init(UserResNet(bands=13, classes=8, width=4))
    torch.save(user.state_dict(), tmp_path / "resnet.pt")
    torch.jit.save(torch.jit.script(user), tmp_path / "resnet.ts")
    batch = {"x": {0: torch.export.Dim("batch")}}
    torch.export.save(torch.export.export(user, (torch.zeros(2, 13, 16, 16),), dynamic_shapes=batch),
                      tmp_path / "resnet.pt2")
    registry = {
        "seeds": [0],
        "layers": ["input", "deep"],
        "datasets": {"synth": {"component": "synth-landcover",
                               "params": {"n_train": 8, "n_val": 4, "n_test": 4, "patch_size": 16}}},
        "models": {
            "mine": {"component": "torch-module",
                     "params": {"module": f"{UserResNet.__module__}:UserResNet",
                                "kwargs": {"bands": 13, "classes": 8, "width": 4},
                                "checkpoint": str(tmp_path / "resnet.pt"), "layers": {"deep": "layer1"}}},
            "scripted": {"component": "torch-module", "params": {"torchscript": str(tmp_path / "resnet.ts"),
                                                                 "layers": {"deep": "layer1"}}},
            "exported": {"component": "torch-module", "params": {"exported": str(tmp_path / "resnet.pt2"),
                                                                 "layers": {"deep": "layer1"}}},
        },
        "attributions": {m: {"component": m, "params": {"n_clusters": 8}} if m == "kmeans-occlusion" else m
                         for m in METHODS},
        "metrics": {"entropy": "xai-entropy"},
    }
    table = run_registry(registry, tmp_path / "run")
    done = {(r["model"], r["layer"], r["attribution"]) for r in rows(table)}
    assert {(model, layer, m) for model in ("mine", "exported") for layer in ("input", "deep") for m in METHODS} <= done
    assert {("scripted", layer, m) for layer in ("input", "deep") for m in METHODS if m not in HOOKED} <= done
    skipped = rows(table, status="skipped", model="scripted")
    for layer in ("input", "deep"):
        assert {r["attribution"] for r in skipped if r["layer"] == layer} == HOOKED
    assert all("no-module-hooks" in r["message"] for r in skipped)
