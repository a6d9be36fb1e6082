"""Data and sources for the torch-module tests: a tiny labelled bundle and the four model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from xaibench.bundle import Bundle
from xaibench.components import AttributionRequest, Band, DatasetInfo
from xaibench_torchmodule.component import TorchModuleModel

from . import models


def info(bands: int = 4, classes: int = 3) -> DatasetInfo:
    return DatasetInfo(name="tiny", task="multilabel", classes=tuple(f"c{i}" for i in range(classes)),
                       bands=tuple(Band(f"b{i}") for i in range(bands)))


def bundle(bands: int = 4, classes: int = 3, size: int = 8, n: int = 3, n_train: int = 6, seed: int = 0) -> Bundle:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", n_train), ("test", n)):
        arrays[f"{split}/x"] = rng.random((count, bands, size, size), dtype=np.float32)
        arrays[f"{split}/labels"] = (rng.random((count, classes)) > 0.5).astype(np.float32)
    return Bundle(arrays, {"info": info(bands, classes)})


def user_and_reference(case: str, seed: int = 0):
    """``(user model, reference with the same weights, inner module path, inputs param)``."""
    user_cls, ref_cls, path, inputs = models.CASES[case]
    user = models.init(user_cls(), seed)
    ref = ref_cls()
    ref.load_state_dict(user.state_dict())
    return user, ref.eval(), path, inputs


def example_inputs(case: str, data: Bundle):
    x = torch.from_numpy(np.asarray(data["test/x"]))
    return (x[:, :3], x[:, 3:]) if case == "fusion" else (x,)


def write_source(kind: str, case: str, user, data: Bundle, folder: Path) -> dict:
    """The ``torch-module`` params of ``user`` saved as ``kind`` (module + checkpoint, torchscript, exported)."""
    case_cls = type(user)
    if kind == "module":
        path = folder / f"{case}.ckpt"
        torch.save({"state_dict": {f"module.{k}": v for k, v in user.state_dict().items()}}, path)
        return {"module": f"{case_cls.__module__}:{case_cls.__name__}", "checkpoint": str(path)}
    if kind == "torchscript":
        path = folder / f"{case}.pt"
        torch.jit.save(torch.jit.script(user), path)
        return {"torchscript": str(path)}
    if kind == "exported":
        path = folder / f"{case}.pt2"
        torch.export.save(torch.export.export(user, example_inputs(case, data)), path)
        return {"exported": str(path)}
    if kind == "onnx":
        path = folder / f"{case}.onnx"
        torch.onnx.export(user, example_inputs(case, data), str(path), dynamo=False)
        return {"onnx": str(path)}
    raise ValueError(kind)


def component(params: dict, data: Bundle, seed: int = 0):
    """``(component, loaded model)`` the way a grid makes them: train (check + score), then load."""
    comp = TorchModuleModel(TorchModuleModel.Params(**params))
    state = comp.train(data, seed)
    state = Bundle.from_bytes(state.to_bytes())
    return comp, comp.load(info(data["train/x"].shape[1]), state)


def request(model, data: Bundle, layer: str, seed: int = 3) -> AttributionRequest:
    return AttributionRequest(model=model, data=data, data_info=info(data["train/x"].shape[1]), split="test",
                              layer=layer, seed=seed)
