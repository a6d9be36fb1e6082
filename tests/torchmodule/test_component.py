"""torch-module's checks and errors: one line naming both sides; declared traits; fingerprints."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from xaibench.capabilities import NO_MODULE_HOOKS
from xaibench.components import ModelInfo
from xaibench_attributions.methods import METHODS
from xaibench_torchmodule.adaptation import ModelMismatch
from xaibench_torchmodule.component import TorchModuleModel
from xaibench_torchmodule.sources import SourceError

from . import helpers as h
from .models import UserControlFlow, UserResNet, UserUNet, init

RESNET = f"{UserResNet.__module__}:UserResNet"


def _saved(model, tmp_path, name="m.ckpt", wrap=True):
    path = tmp_path / name
    state = model.state_dict()
    torch.save({"model": state} if wrap else state, path)
    return str(path)


def test_adaptation_bands_normalisation_and_class_order(tmp_path):
    """bands picked by name in the model's order, (x - mean) / std, logits reordered to the dataset's classes."""
    data = h.bundle(bands=6)
    user = init(UserResNet(bands=4))
    bands, mean, std = ["b5", "b0", "b3", "b2"], [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 0.5, 4.0]
    model_classes = ["c2", "c0", "c1"]
    _, model = h.component({"module": RESNET, "checkpoint": _saved(user, tmp_path), "bands": bands,
                            "normalize": {"mean": mean, "std": std}, "classes": model_classes}, data)
    x = torch.from_numpy(np.asarray(data["test/x"]))
    with torch.no_grad():
        want = user((x[:, [5, 0, 3, 2]] - torch.tensor(mean).view(1, 4, 1, 1)) / torch.tensor(std).view(1, 4, 1, 1))
        got = model(x)
    np.testing.assert_allclose(got.numpy(), want[:, [1, 2, 0]].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("params", "data_kw", "message"), [
    ({"bands": ["b0", "b9"]}, {}, "bands b9 are not in dataset tiny's bands (b0, b1, b2, b3)"),
    ({}, {"bands": 5}, "the model rejects dataset tiny's input (3, 5, 8, 8) (bands as given: 5)"),
    ({}, {"classes": 4}, "the model gives (3,) outputs per sample, dataset tiny has 4 classes"),
    ({"classes": ["c0", "c1"]}, {}, "classes lacks dataset tiny's classes c2"),
    ({"normalize": {"mean": [0.0], "std": [1.0]}}, {}, "normalize has 1 means for the model's 4 bands"),
    ({"layers": {"deep": "layer9"}}, {}, "layer 'deep': UserResNet has no module 'layer9'"),
    ({"layers": {"deep": "layer1.conv1"}}, {}, "used after it"),
])
def test_mismatches_are_one_line_naming_both_sides(params, data_kw, message, tmp_path):
    data = h.bundle(**data_kw)
    comp = TorchModuleModel(TorchModuleModel.Params(module=RESNET, **params))
    with pytest.raises(ModelMismatch) as err:
        comp.info(h.info(**data_kw))
        comp.train(data, 0)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_skip_over_the_cut_names_the_layers_that_can_be_cut():
    data = h.bundle()
    comp = TorchModuleModel(TorchModuleModel.Params(module=f"{UserUNet.__module__}:UserUNet",
                                                    layers={"deep": "enc2"}))
    with pytest.raises(ModelMismatch, match=r"layer 'deep' \(enc2\): tensors computed before 'enc2' are used after "
                                            r"it .*layers that can be cut: .*dec"):
        comp.train(data, 0)


def test_hook_fallback_checks_a_skip_over_the_layer():
    """With hooks the head reruns the network on a zero input: a skip over the layer would read it;
    the check at load catches it and names the layer."""
    comp = TorchModuleModel(TorchModuleModel.Params(module=f"{UserUNet.__module__}:UserUNet", trace="hooks",
                                                    layers={"deep": "enc2"}))
    with pytest.raises(ModelMismatch, match=r"layer 'deep' \(enc2\): head\(body\(x\)\) differs from model\(x\) by "
                                            r"\S+: something computed before the layer is used after it"):
        comp.train(h.bundle(), 0)


def test_checkpoint_mismatch_names_missing_and_unexpected_keys(tmp_path):
    state = init(UserResNet()).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["fc.bias"]
    path = tmp_path / "bad.pt"
    torch.save({"state_dict": state}, path)
    comp = TorchModuleModel(TorchModuleModel.Params(module=RESNET, checkpoint=str(path)))
    with pytest.raises(SourceError, match=r"does not fit UserResNet: missing keys fc.bias; unexpected keys "
                                          r"extra.weight"):
        comp.train(h.bundle(), 0)


@pytest.mark.parametrize(("params", "message"), [
    ({}, "give exactly one model source of module, torchscript, exported, onnx"),
    ({"module": RESNET, "torchscript": "m.pt"}, "got module, torchscript"),
    ({"exported": "m.pt2", "checkpoint": "c.pt"}, "checkpoint goes with module"),
    ({"exported": "m.pt2", "train": True}, "train: true needs a module or onnx source"),
    ({"module": "no_colon"}, None),
])
def test_params_are_validated(params, message):
    if message is None:
        with pytest.raises(SourceError, match="module must be 'package.module:factory'"):
            TorchModuleModel(TorchModuleModel.Params(**params)).train(h.bundle(), 0)
        return
    with pytest.raises(ValidationError, match=message):
        TorchModuleModel.Params(**params)


def test_onnx_without_the_converter_is_one_line(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnx2torch(name, *args, **kwargs):
        if name == "onnx2torch":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx2torch)
    (tmp_path / "m.onnx").write_bytes(b"not read")
    comp = TorchModuleModel(TorchModuleModel.Params(onnx=str(tmp_path / "m.onnx")))
    with pytest.raises(SourceError, match="onnx models need the optional converter onnx2torch: pip install onnx2torch"):
        comp.train(h.bundle(), 0)


def test_torchscript_declares_no_module_hooks_and_hook_methods_refuse(tmp_path):
    info = TorchModuleModel(TorchModuleModel.Params(torchscript="m.pt")).info(h.info())
    assert NO_MODULE_HOOKS in info.provides
    refused = {m.name for m in METHODS if m().incompatibility(info, "input")}
    assert refused == {"guided-backprop", "deconvolution", "guided-grad-cam", "lrp", "deeplift", "deeplift-shap"}
    assert all(m().incompatibility(ModelInfo(layers=("input", "deep")), "input") is None
               for m in METHODS if m.name != "lrp")


def test_declared_traits_reach_the_model_info_and_lrp_runs_through_them():
    from xaibench.capabilities import RESIDUAL

    info = TorchModuleModel(TorchModuleModel.Params(module=RESNET, traits=["residual"], layers={"deep": "layer1"},
                                                    sequential_after=["head"])).info(h.info())
    assert RESIDUAL in info.provides and info.sequential_after == frozenset({"head"})
    lrp = next(m for m in METHODS if m.name == "lrp")()
    assert lrp.incompatibility(info, "deep") is None  # LRP splits relevance at residual sums


def test_fingerprint_follows_the_checkpoint_file(tmp_path):
    path = _saved(init(UserResNet(), seed=0), tmp_path)
    comp = TorchModuleModel(TorchModuleModel.Params(module=RESNET, checkpoint=path))
    first = comp.fingerprint()
    assert first == comp.fingerprint() and len(first) == 24
    _saved(init(UserResNet(), seed=1), tmp_path)
    assert comp.fingerprint() != first
    assert TorchModuleModel(TorchModuleModel.Params(module=RESNET)).fingerprint() is None
    with pytest.raises(SourceError, match="exported file not found: .*gone.pt2"):
        TorchModuleModel(TorchModuleModel.Params(exported=str(tmp_path / "gone.pt2"))).fingerprint()


def test_validate_names_a_missing_file_and_an_unimportable_factory(tmp_path, cli, session):
    import yaml

    for params, message in [({"checkpoint": "gone.pt", "module": RESNET}, "checkpoint file not found: gone.pt"),
                            ({"module": "no_such_package.nets:Net"}, "cannot import 'no_such_package.nets'")]:
        reg = {"experiment": "v", "seeds": [0], "layers": ["input"],
               "datasets": {"d": {"component": "synth-landcover", "params": {"n_train": 4, "n_test": 2}}},
               "models": {"mine": {"component": "torch-module", "params": params}},
               "attributions": {"g": "grad-cam"}, "postprocessors": {"none": "none"},
               "metrics": {"e": "xai-entropy"}}
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(reg))
        code, out, err = cli("validate", str(tmp_path / "r.yaml"))
        assert code == 2 and message in out + err and "Traceback" not in out + err


def test_untraceable_model_falls_back_to_hooks_and_says_so_once(tmp_path, caplog, monkeypatch):
    from xaibench_torchmodule import adaptation

    monkeypatch.setattr(adaptation, "_WARNED", set())
    params = {"module": f"{UserControlFlow.__module__}:UserControlFlow", "layers": {"deep": "block"}}
    with caplog.at_level(logging.WARNING, logger="xaibench.torchmodule"):
        _, model = h.component(params, h.bundle())
        h.component(params, h.bundle(seed=1))
    assert not model.traced
    said = [r for r in caplog.records if "cannot be traced" in r.getMessage()]
    assert len(said) == 1 and all("forward hooks" in r.getMessage() for r in said)
    x = torch.from_numpy(np.asarray(h.bundle()["test/x"]))
    body, head = model.split("deep")
    with torch.no_grad():
        np.testing.assert_allclose(head(body(x)).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)


def test_fine_tuning_a_factory_with_the_shared_trainer():
    data = h.bundle(n_train=8)
    comp = TorchModuleModel(TorchModuleModel.Params(module=RESNET, train=True,
                                                    training={"epochs": 2, "batch_size": 4, "augment": False}))
    state = comp.train(data, 0)
    assert state.meta["metrics"]["epochs"] == 2.0 and "fc.weight" in state.arrays
    again = comp.train(data, 0)
    np.testing.assert_array_equal(state.arrays["fc.weight"], again.arrays["fc.weight"])
