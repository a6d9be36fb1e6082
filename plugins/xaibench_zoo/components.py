"""The zoo's model components.  Light to import: torch is imported when a model is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from xaibench.bundle import Bundle
from xaibench.capabilities import AUX, AUX_INPUT, FORECAST, MULTIMODAL, RECURRENT, RESIDUAL, SKIP_CONNECTIONS
from xaibench.components import DatasetInfo, Model, ModelInfo
from xaibench_eo.capabilities import WEATHER

from .datainfo import band_groups, dataset_info
from .params import TrainParams, ZooParams

if TYPE_CHECKING:
    import numpy as np

    from .nets.base import SplittableNet

Stage = Literal["stem", "layer1", "layer2", "layer3", "layer4"]
RESNET_LAYERS = ("input", "stem", "layer1", "deep", "layer3", "layer4")


class ZooModel(Model):
    """Shared behaviour: build, train with :mod:`.training` (or load a checkpoint), rebuild, extract features.

    The trained state is a Bundle whose arrays are the state-dict tensors and whose meta holds
    ``arch`` (data-dependent build arguments such as ``aux_dim``), ``metrics`` and ``history``.
    """

    Params: ClassVar[type[ZooParams]] = ZooParams
    params: ZooParams
    layers: ClassVar[tuple[str, ...]] = ("input",)
    traits: ClassVar[frozenset[str]] = frozenset()
    sequential_after: ClassVar[frozenset[str]] = frozenset()

    def info(self, data: DatasetInfo) -> ModelInfo:
        return ModelInfo(layers=self.layers, provides=self.traits, sequential_after=self.sequential_after)

    def fingerprint(self) -> str | None:
        """SHA-256 of the checkpoint files, so replacing one recomputes what depends on it."""
        import hashlib

        paths = [p for p in (self.params.checkpoint, self.params.pretrained_checkpoint) if p]
        if not paths:
            return None
        digest = hashlib.sha256()
        for path in paths:
            with open(path, "rb") as fh:  # a missing file is reported by `xaibench validate`
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()[:24]

    # -- what subclasses provide ------------------------------------------------
    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        """The untrained network for ``info`` (seed torch before calling for a deterministic init)."""
        raise NotImplementedError

    def arch(self, data: Bundle, info: DatasetInfo) -> dict[str, Any]:
        """Build arguments that come from the data rather than the info (stored with the weights)."""
        return {}

    # -- Model API ------------------------------------------------------------------
    def train(self, data: Bundle, seed: int) -> Bundle:
        import torch

        from . import training
        from .checkpoint import load_into, read_state_dict, state_arrays

        info = dataset_info(data)
        arch = self.arch(data, info)
        torch.manual_seed(seed)
        net = self.build(info, arch)
        history: list[dict[str, float]] = []
        if self.params.checkpoint:
            load_into(net, read_state_dict(self.params.checkpoint), f"checkpoint {self.params.checkpoint}")
            net.eval()
            metrics = {**training.evaluate(net, data, info.task, net.uses_aux), "epochs": 0.0}
        else:
            if self.params.pretrained_checkpoint:
                path = self.params.pretrained_checkpoint
                load_into(net, read_state_dict(path), f"pretrained checkpoint {path}")
            result = training.fit(net, data, info.task, self.params.train, seed, need_aux=net.uses_aux)
            metrics, history = result.metrics, result.history
        metrics["n_params"] = float(sum(p.numel() for p in net.parameters()))
        return Bundle(state_arrays(net), {"arch": arch, "metrics": metrics, "history": history})

    def load(self, data: DatasetInfo, state: Bundle) -> SplittableNet:
        from .checkpoint import load_into

        net = self.build(data, dict(state.meta.get("arch", {})))
        load_into(net, state.arrays, f"trained state of {self.name}")
        return net.eval()

    def features(self, model: Any, data: Bundle, split: str, layer: str) -> np.ndarray:
        from .training import features

        return features(model, data, split, layer, dataset_info(data).task)


def _check_task(info: DatasetInfo) -> None:
    if info.task not in ("multilabel", "singlelabel"):
        raise ValueError(f"zoo classifiers need a multilabel or singlelabel dataset, {info.name} is {info.task!r}")


# ----------------------------------------------------------------------------------------------
class UHNetTrain(TrainParams):
    epochs: int = Field(20, ge=0)
    lr: float = Field(3e-3, gt=0)


class UHNetModel(ZooModel):
    """UH-Net: U-Net to a 16-channel full-resolution map (layer "deep"), then a strided-conv head."""

    name = "uh-net"
    version = "1"
    layers = ("input", "deep", "head1", "head2", "head3")
    # The skip connections are all inside the U-Net: after "deep" the head is a plain chain,
    # so rules such as LRP's apply there (but not at "input").
    traits = frozenset({SKIP_CONNECTIONS})
    sequential_after = frozenset({"deep", "head1", "head2", "head3"})

    class Params(ZooParams):
        width: float = Field(0.125, gt=0)
        skip_pooling: tuple[int, ...] = Field(
            (), description="encoder steps (1-4) without max-pool, e.g. [4] for 120 px"
        )
        train: UHNetTrain = UHNetTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.uhnet import UHNet

        _check_task(info)
        return UHNet(info.n_bands, info.n_classes, self.params.width, self.params.skip_pooling)


class ResNetTrain(TrainParams):
    epochs: int = Field(25, ge=0)
    lr: float = Field(2e-3, gt=0)


class ResNet18Model(ZooModel):
    """ResNet-18 for any band/class count; "deep" is the end of layer2 (stride 8)."""

    name = "resnet-18"
    version = "1"
    arch_name: ClassVar[str] = "resnet-18"
    layers = RESNET_LAYERS
    traits = frozenset({RESIDUAL})

    class Params(ZooParams):
        width: float = Field(0.25, gt=0)
        train: ResNetTrain = ResNetTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.resnet import ResNet

        _check_task(info)
        return ResNet(self.arch_name, info.n_bands, info.n_classes, self.params.width)


class ResNet101Model(ResNet18Model):
    """ResNet-101 (bottleneck blocks) for any band/class count; "deep" is the end of layer2."""

    name = "resnet-101"
    arch_name = "resnet-101"


class VGGTrain(TrainParams):
    # VGG's flattening classifier learns slowly on small data: more, smaller steps
    epochs: int = Field(40, ge=0)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(16, ge=2)
    lr_patience: int = Field(3, ge=0)


class VGG16Model(ZooModel):
    """VGG-16 (batch-norm variant by default) for any band/class count; "deep" is its last convolution."""

    name = "vgg-16"
    version = "1"
    layers = ("input", "conv1_2", "conv2_2", "conv3_3", "conv4_3", "deep")

    class Params(ZooParams):
        width: float = Field(0.125, gt=0)
        batch_norm: bool = True
        dropout: float = Field(0.0, ge=0, lt=1, description="classifier dropout (0.5 in the original)")
        train: VGGTrain = VGGTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.vgg import VGG16

        _check_task(info)
        return VGG16(info.n_bands, info.n_classes, self.params.width, self.params.batch_norm, self.params.dropout)


# ----------------------------------------------------------------------------------------------
class _AuxResNet18(ResNet18Model):
    requires = frozenset({AUX})
    traits = frozenset({RESIDUAL, AUX_INPUT})

    def arch(self, data: Bundle, info: DatasetInfo) -> dict[str, Any]:
        if "train/aux" not in data:
            raise ValueError(f"{self.name} needs the auxiliary vector: the data has no train/aux")
        return {"aux_dim": int(data["train/aux"].shape[1])}


class ResNet18EmbModel(_AuxResNet18):
    """ResNet-18 with an MLP embedding of the aux vector added to the output of a stage."""

    name = "resnet-18-emb"

    class Params(ZooParams):
        width: float = Field(0.25, gt=0)
        embed_after: Stage = "layer4"
        train: ResNetTrain = ResNetTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.resnet import ResNet

        _check_task(info)
        return ResNet(
            "resnet-18",
            info.n_bands,
            info.n_classes,
            self.params.width,
            arch["aux_dim"],
            embed_after=self.params.embed_after,
        )


class ResNet18CBNModel(_AuxResNet18):
    """ResNet-18 whose every batch norm is conditioned on the aux vector (gamma, beta from a linear layer)."""

    name = "resnet-18-cbn"

    class Params(ZooParams):
        width: float = Field(0.25, gt=0)
        train: ResNetTrain = ResNetTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.resnet import ResNet

        _check_task(info)
        return ResNet(
            "resnet-18", info.n_bands, info.n_classes, self.params.width, arch["aux_dim"], conditional_bn=True
        )


class FusionResNet18Model(ZooModel):
    """ResNet-18 with one branch per band modality, fused by concatenation after a stage."""

    name = "fusion-resnet-18"
    version = "1"
    layers = RESNET_LAYERS
    traits = frozenset({RESIDUAL, MULTIMODAL})

    class Params(ZooParams):
        width: float = Field(0.25, gt=0)
        fuse_after: Stage = "layer2"
        modality_dropout: float = Field(0.0, ge=0, lt=1)
        train: ResNetTrain = ResNetTrain()

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.fusion import FusionResNet

        _check_task(info)
        _, groups = band_groups(info)
        p = self.params
        return FusionResNet(groups, info.n_classes, p.width, p.fuse_after, p.modality_dropout)


class ForecastTrain(TrainParams):
    epochs: int = Field(15, ge=0)
    lr: float = Field(3e-3, gt=0)
    batch_size: int = Field(8, ge=2)
    augment: bool = Field(False, description="ignored: forecasts are not augmented")


class ConvLSTMModel(ZooModel):
    """ConvLSTM forecaster: context frames and daily weather in, target frames out (explains mean NDVI)."""

    name = "convlstm"
    version = "3"
    layers = ("input", "deep")
    traits = frozenset({FORECAST, AUX_INPUT, RECURRENT})
    requires = frozenset({FORECAST, WEATHER})

    class Params(ZooParams):
        width: float = Field(0.25, gt=0, description="hidden channels = 32 x width")
        layers: int = Field(2, ge=1, description="stacked hidden ConvLSTM cells before the 4-channel output cell")
        weather: Literal["daily", "frame-mean"] = Field(
            "daily",
            description="weather per step: every day's values, or their mean over the frame's days (EarthNet2021 "
                        "resampled to the image steps, as in the CSP study)",
        )
        train: ForecastTrain = ForecastTrain()

    def arch(self, data: Bundle, info: DatasetInfo) -> dict[str, Any]:
        """Per-variable mean and standard deviation (normalised units) of the train split's
        daily weather ``(N, T_days, V)``: the network standardises its weather input with them."""
        import numpy as np

        if "train/weather" not in data:
            return {}
        weather = np.asarray(data["train/weather"], dtype=np.float64)
        days = weather.reshape(-1, weather.shape[-1])
        return {"weather_mean": days.mean(axis=0).tolist(), "weather_std": days.std(axis=0).tolist()}

    def build(self, info: DatasetInfo, arch: dict[str, Any]) -> SplittableNet:
        from .nets.convlstm import ConvLSTMForecaster
        from .nets.resnet import scaled

        if info.task != "forecast":
            raise ValueError(f"convlstm needs a forecast dataset, {info.name} is {info.task!r}")
        extra = info.extra
        try:
            frames = (int(extra["context_frames"]), int(extra["target_frames"]))
            variables = len(extra["weather_variables"])
            per_frame = int(extra["days_per_frame"]) * variables
        except KeyError as missing:
            raise ValueError(f"{info.name}: info.extra lacks {missing} (needed by convlstm)") from None
        modalities = [b.modality for b in info.bands]
        static = tuple(i for i, m in enumerate(modalities) if m == "static")
        if modalities[-1] != "mask" or static != tuple(range(4, 4 + len(static))):
            raise ValueError("convlstm expects frame channels: 4 reflectance bands, static bands, cloud mask last")
        return ConvLSTMForecaster(
            info.n_bands, *frames, per_frame, scaled(32, self.params.width), self.params.layers, static,
            arch.get("weather_mean"), arch.get("weather_std"), variables if self.params.weather == "frame-mean" else 0,
        )


MODELS: tuple[type[ZooModel], ...] = (
    UHNetModel,
    ResNet18Model,
    VGG16Model,
    ResNet101Model,
    ResNet18EmbModel,
    ResNet18CBNModel,
    FusionResNet18Model,
    ConvLSTMModel,
)
