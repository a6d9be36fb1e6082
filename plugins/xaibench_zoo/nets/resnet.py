"""ResNet-18/101 for any band and class count, with optional conditioning on ``aux``.

State-dict keys follow torchvision (``conv1``, ``layer2.0.downsample.0``, ``fc``), so a
torchvision checkpoint loads once its ``conv1``/``fc`` match the band and class counts.
Every ReLU is its own module (Captum's DeepLift/LRP/GuidedBackprop hook them per use).

Layers: ``input``, ``stem`` (after max-pool, stride 4), ``layer1`` (stride 4), ``deep`` (end of
``layer2``, stride 8, the harmonization paper's layer; ``"layer2"`` is accepted as an alias),
``layer3`` (stride 16), ``layer4`` (stride 32).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import AuxModule, AuxSequential, SplittableNet, Step, call, flatten
from .conditional import AuxEmbedding, ConditionalBatchNorm2d

Norm = Callable[[int], nn.Module]

STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
LAYER_NAMES = ("input", "stem", "layer1", "deep", "layer3", "layer4")
ARCHS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet-18": ("basic", (2, 2, 2, 2)),
    "resnet-101": ("bottleneck", (3, 4, 23, 3)),
}


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels * width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


def norm_factory(aux_dim: int = 0, conditional: bool = False) -> Norm:
    """Batch norm, or conditional batch norm on an ``aux_dim`` vector."""
    if conditional:
        if aux_dim <= 0:
            raise ValueError("conditional batch norm needs aux_dim > 0")
        return lambda c: ConditionalBatchNorm2d(c, aux_dim)
    return nn.BatchNorm2d


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(AuxModule):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, norm: Norm) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = norm(planes)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = norm(planes)
        self.relu2 = nn.ReLU(inplace=False)
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride, norm)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        out = self.relu1(call(self.bn1, self.conv1(x), aux))
        out = call(self.bn2, self.conv2(out), aux)
        identity = x if self.downsample is None else self.downsample(x, aux)
        return self.relu2(out + identity)


class Bottleneck(AuxModule):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, norm: Norm) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = norm(planes)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = norm(planes)
        self.relu2 = nn.ReLU(inplace=False)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = norm(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=False)
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride, norm)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        out = self.relu1(call(self.bn1, self.conv1(x), aux))
        out = self.relu2(call(self.bn2, self.conv2(out), aux))
        out = call(self.bn3, self.conv3(out), aux)
        identity = x if self.downsample is None else self.downsample(x, aux)
        return self.relu3(out + identity)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _shortcut(inplanes: int, outplanes: int, stride: int, norm: Norm) -> AuxSequential | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return AuxSequential(_conv1x1(inplanes, outplanes, stride), norm(outplanes))


def make_layer(
    block: type[BasicBlock] | type[Bottleneck], inplanes: int, planes: int, blocks: int, stride: int, norm: Norm
) -> AuxSequential:
    """One ResNet stage: ``blocks`` blocks, the first with ``stride``; output ``planes * expansion`` channels."""
    members = [block(inplanes, planes, stride, norm)]
    members += [block(planes * block.expansion, planes, 1, norm) for _ in range(blocks - 1)]
    return AuxSequential(*members)


def init_weights(module: nn.Module) -> None:
    """torchvision's ResNet initialisation (Kaiming fan-out for convolutions, unit BN)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(SplittableNet):
    """ResNet classifier ``(N, in_channels, H, W) -> (N, n_classes)`` logits.

    ``width`` multiplies every channel count (1.0 = the published network).
    ``aux_dim > 0`` with ``conditional_bn`` replaces every batch norm by conditional batch
    norm; with ``embed_after`` (a stage name) adds an embedding of ``aux`` to that stage's output.
    """

    aliases = {"layer2": "deep"}

    def __init__(
        self,
        arch: str,
        in_channels: int,
        n_classes: int,
        width: float = 1.0,
        aux_dim: int = 0,
        conditional_bn: bool = False,
        embed_after: str | None = None,
    ) -> None:
        super().__init__()
        kind, depths = ARCHS[arch]
        block = BLOCKS[kind]
        norm = norm_factory(aux_dim, conditional_bn)
        planes = [scaled(c, width) for c in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(in_channels, planes[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = norm(planes[0])
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = planes[0]
        for i, (p, d) in enumerate(zip(planes, depths)):
            self.add_module(f"layer{i + 1}", make_layer(block, inplanes, p, d, 1 if i == 0 else 2, norm))
            inplanes = p * block.expansion
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, n_classes)
        self.uses_aux = conditional_bn or embed_after is not None
        self.embed_after = embed_after
        if embed_after is not None:
            if embed_after not in STAGES or aux_dim <= 0:
                raise ValueError(f"embed_after must be one of {STAGES} with aux_dim > 0, got {embed_after!r}")
            channels = planes[0] if embed_after == "stem" else planes[STAGES.index(embed_after) - 1] * block.expansion
            self.aux_embedding = AuxEmbedding(aux_dim, channels)
        init_weights(self)

    def steps(self) -> list[tuple[str | None, Step]]:
        steps: list[tuple[str | None, Step]] = [
            (None, self.conv1),
            (None, self.bn1),
            (None, self.relu),
            ("stem", self.maxpool),
            ("layer1", self.layer1),
            ("deep", self.layer2),
            ("layer3", self.layer3),
            ("layer4", self.layer4),
            (None, self.avgpool),
            (None, flatten),
            (None, self.fc),
        ]
        if self.embed_after is not None:
            at = {"layer2": "deep"}.get(self.embed_after, self.embed_after)
            index = [name for name, _ in steps].index(at) + 1
            steps.insert(index, (None, self.aux_embedding))
        return steps
