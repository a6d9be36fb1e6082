"""``torch-module``: explain a model the user already has, without writing a plugin.

Light to import (torch is imported when a model is built).  See ``docs/own-model.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from xaibench.bundle import Bundle
from xaibench.capabilities import MULTIMODAL, NO_MODULE_HOOKS, RESIDUAL, SKIP_CONNECTIONS
from xaibench.components import DatasetInfo, Model, ModelInfo, Params
from xaibench_zoo.datainfo import dataset_info
from xaibench_zoo.params import TrainParams

if TYPE_CHECKING:
    import numpy as np

    from .adapter import Adapted

class Normalize(Params):
    """``(x - mean) / std`` per model band (in the model's band order), or ``x * scale``."""

    mean: list[float] | None = None
    std: list[float] | None = None
    scale: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> Normalize:
        if (self.mean is None) != (self.std is None):
            raise ValueError("normalize needs both mean and std")
        if self.mean is not None and self.scale is not None:
            raise ValueError("normalize: give mean/std or scale, not both")
        if self.mean is None and self.scale is None:
            raise ValueError("normalize: give mean and std, or scale")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError("normalize: every std must be > 0")
        return self


SOURCES = ("module", "torchscript", "exported", "onnx")
TRAITS = {"residual": RESIDUAL, "skip-connections": SKIP_CONNECTIONS, "multimodal": MULTIMODAL}


class TorchModuleParams(Params):
    """Where the model comes from (one source) and what it expects.

    ``module``: ``"package.module:factory"`` called with ``kwargs`` (a class or a function such as
    ``timm.create_model``); ``checkpoint``: its state dict (``weights_only=True``).
    ``torchscript`` / ``exported`` / ``onnx``: a ``.pt`` (``torch.jit.save``), ``.pt2``
    (``torch.export.save``) or ``.onnx`` file (converted by the optional onnx2torch).
    ``layers``: xaibench layer name -> module path (``{deep: "layer2"}``); ``"input"`` is always there.
    ``bands``: dataset band names in the model's order (default: all, as the dataset orders them);
    ``inputs``: one band list per positional input of a multi-input model instead;
    ``aux``: the model takes the dataset's ``aux`` vector as its last input.
    ``classes``: the dataset's class names in the order of the model's outputs.
    ``train``: fine-tune (module and onnx sources) with the zoo's trainer and ``training``;
    otherwise the model is explained as it is.  ``trace``: ``auto`` cuts the traced graph and
    falls back to forward hooks when the model cannot be traced; ``hooks`` always uses hooks.
    ``traits``: what the network has (``residual`` sums, ``skip-connections``, ``multimodal``),
    declared in its :class:`ModelInfo` for methods and metrics that read them; ``sequential_after``:
    the layers after which the network is a plain chain.
    Paths are relative to the working directory.
    """

    module: str | None = None
    kwargs: dict[str, Any] = {}
    checkpoint: str | None = None
    torchscript: str | None = None
    exported: str | None = None
    onnx: str | None = None
    layers: dict[str, str] = {}
    bands: list[str] | None = None
    inputs: list[list[str]] | None = None
    aux: bool = False
    normalize: Normalize | None = None
    task: Literal["multilabel", "singlelabel"] | None = None
    classes: list[str] | None = None
    train: bool = False
    training: TrainParams = TrainParams()
    trace: Literal["auto", "hooks"] = "auto"
    traits: list[Literal["residual", "skip-connections", "multimodal"]] = []
    sequential_after: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> TorchModuleParams:
        given = [s for s in SOURCES if getattr(self, s)]
        if len(given) != 1:
            raise ValueError(f"give exactly one model source of {', '.join(SOURCES)}"
                             + (f", got {', '.join(given)}" if given else ""))
        if self.checkpoint and not self.module:
            raise ValueError("checkpoint goes with module (the other sources carry their weights)")
        if self.kwargs and not self.module:
            raise ValueError("kwargs go with module")
        if self.train and given[0] not in ("module", "onnx"):
            raise ValueError(f"train: true needs a module or onnx source ({given[0]} files are explained as they are)")
        if self.bands is not None and self.inputs is not None:
            raise ValueError("give bands or inputs, not both")
        if "input" in self.layers:
            raise ValueError("layers: 'input' is always there; name module paths for other layers")
        return self

    @property
    def files(self) -> dict[str, str]:
        """The model files by param name."""
        named = {"checkpoint": self.checkpoint, "torchscript": self.torchscript, "exported": self.exported,
                 "onnx": self.onnx}
        return {k: v for k, v in named.items() if v}


class TorchModuleModel(Model):
    """Any PyTorch model (factory + state dict, TorchScript, exported program, ONNX), cut at any named module."""

    name = "torch-module"
    version = "1"
    Params: ClassVar[type[TorchModuleParams]] = TorchModuleParams
    params: TorchModuleParams

    def info(self, data: DatasetInfo) -> ModelInfo:
        from .adaptation import check_dataset
        from .sources import factory

        check_dataset(self.params, data)
        if self.params.module:
            factory(self.params.module)  # an unimportable factory is reported at plan time (xaibench validate)
        provides = {TRAITS[t] for t in self.params.traits} | ({NO_MODULE_HOOKS} if self.params.torchscript else set())
        return ModelInfo(layers=("input", *self.params.layers), provides=frozenset(provides),
                         sequential_after=frozenset(self.params.sequential_after))

    def fingerprint(self) -> str | None:
        """SHA-256 of the model files (checkpoint, TorchScript, exported, ONNX)."""
        from .sources import digest

        return digest(self.params.files)

    def train(self, data: Bundle, seed: int) -> Bundle:
        """Explain as is (``train: false``) or fine-tune; either way check the model on the data and score it."""
        import torch

        from xaibench_zoo import training
        from xaibench_zoo.checkpoint import state_arrays

        from . import adaptation as a

        info = dataset_info(data)
        arch = {"input_shapes": a.input_shapes(self.params, info, data)}
        torch.manual_seed(seed)  # a factory's initial weights, when it has no checkpoint
        raw = a.source_model(self.params, None)
        adapt = a.adaptation(self.params, info)
        metrics: dict[str, float] = {}
        if self.params.train:
            metrics.update(training.fit(a.trainable(raw, adapt), data, info.task, self.params.training, seed).metrics)
        model = a.assemble(self.params, raw, adapt, arch["input_shapes"]).eval()
        a.check(model, data, info)
        if not self.params.train:
            metrics.update(training.evaluate(model, data, info.task))
        metrics["n_params"] = float(sum(p.numel() for p in model.parameters()))
        metrics["traced"] = float(model.traced)  # 0: cut with forward hooks (slower)
        arrays = state_arrays(raw) if a.stores_weights(self.params) else {}
        return Bundle(arrays, {"arch": arch, "metrics": metrics})

    def load(self, data: DatasetInfo, state: Bundle) -> Adapted:
        from .adaptation import build

        arrays = dict(state.arrays) if state.arrays else None
        model, _ = build(self.params, data, dict(state.meta.get("arch", {})), arrays)
        return model

    def features(self, model: Any, data: Bundle, split: str, layer: str) -> np.ndarray:
        from xaibench_zoo.training import features

        return features(model, data, split, layer, dataset_info(data).task)
