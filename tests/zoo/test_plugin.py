"""The zoo plugin registers every model and stays light to import."""

from __future__ import annotations

import subprocess
import sys

from xaibench.components import Model


def test_registers_every_model_once():
    from xaibench_zoo import plugin

    registered = []
    plugin.register_models(lambda cls, name=None: registered.append(name or cls.name))
    assert registered == [
        "uh-net",
        "resnet-18",
        "vgg-16",
        "resnet-101",
        "resnet-18-emb",
        "resnet-18-cbn",
        "fusion-resnet-18",
        "convlstm",
    ]
    from xaibench_zoo.components import MODELS

    for cls in MODELS:
        assert issubclass(cls, Model) and cls.version and cls.describe()
        assert "input" == cls().info(None).layers[0]  # info needs no data for these models
        assert "deep" in cls().info(None).layers


def test_params_are_typed_nested_and_strict():
    import pydantic
    import pytest

    from xaibench_zoo.components import ResNet18EmbModel, UHNetModel

    p = UHNetModel.Params(width=0.5, skip_pooling=[4], train={"epochs": 3})
    assert p.skip_pooling == (4,) and p.train.epochs == 3 and p.train.lr == UHNetModel.Params().train.lr
    for bad in ({"train": {"epoch": 3}}, {"widht": 1.0}, {"width": 0}):
        with pytest.raises(pydantic.ValidationError):
            UHNetModel.Params(**bad)
    with pytest.raises(pydantic.ValidationError):
        ResNet18EmbModel.Params(embed_after="layer9")
    assert ResNet18EmbModel.requires == frozenset({"aux"})


def test_plugin_import_does_not_import_torch():
    code = "import sys, xaibench_zoo.plugin; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
