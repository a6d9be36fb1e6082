"""Multi-modal ResNet-18: one branch per modality, fused by channel concatenation.

Input bands are grouped by the dataset's band modality (``DatasetInfo.bands[i].modality``).
Each group runs its own ResNet-18 trunk up to ``fuse_after``; the branch maps are
concatenated along channels and a shared trunk continues (its first block takes
``n_modalities`` times the channels).  Before the fusion point the feature map of a layer
is the concatenation of the branch maps, so every layer of :mod:`.resnet` is a valid split.

Modality dropout (training only) zeroes each branch's fused map for a sample with
probability ``modality_dropout``, never all branches of a sample at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import SplittableNet, Step, flatten
from .resnet import STAGES, BasicBlock, init_weights, make_layer, scaled


class _Branch(nn.Module):
    """A ResNet-18 trunk for one modality, holding the stages up to the fusion point."""

    def __init__(self, in_channels: int, planes: Sequence[int], n_stages: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = planes[0]
        for i in range(n_stages - 1):
            self.add_module(
                f"layer{i + 1}", make_layer(BasicBlock, inplanes, planes[i], 2, 1 if i == 0 else 2, nn.BatchNorm2d)
            )
            inplanes = planes[i]

    def stage(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == "stem":
            return self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return getattr(self, name)(x)


class _BranchStage(nn.Module):
    """Runs stage ``name`` of every branch on its slice of the input channels, concatenates."""

    def __init__(self, net: FusionResNet, name: str, in_splits: Sequence[Sequence[int]], dropout: bool) -> None:
        super().__init__()
        self.branches = net.branches
        self.name = name
        self.in_splits = [list(s) for s in in_splits]
        self.net_ref = [net]  # a list so that the net is not registered as a child
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b.stage(self.name, x[:, idx]) for b, idx in zip(self.branches, self.in_splits)]
        if self.dropout:
            outs = self.net_ref[0].drop_modalities(outs)
        return torch.cat(outs, dim=1)


class FusionResNet(SplittableNet):
    """ResNet-18 with one branch per band group; ``(N, C, H, W) -> (N, n_classes)`` logits.

    ``band_groups``: the input band indices of each modality, in branch order.
    ``fuse_after``: stage after which branches are concatenated (``"stem"`` ... ``"layer4"``).
    """

    aliases = {"layer2": "deep"}

    def __init__(
        self,
        band_groups: Sequence[Sequence[int]],
        n_classes: int,
        width: float = 1.0,
        fuse_after: str = "layer2",
        modality_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if fuse_after not in STAGES:
            raise ValueError(f"fuse_after must be one of {STAGES}, got {fuse_after!r}")
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.band_groups = [list(g) for g in band_groups]
        self.fuse_index = STAGES.index(fuse_after)
        self.modality_dropout = modality_dropout
        planes = [scaled(c, width) for c in (64, 128, 256, 512)]
        self._stage_channels = [planes[0]] + planes  # output channels of stem, layer1..4
        self.branches = nn.ModuleList(_Branch(len(g), planes, self.fuse_index + 1) for g in self.band_groups)
        inplanes = len(self.band_groups) * self._stage_channels[self.fuse_index]
        for i in range(self.fuse_index, 4):
            self.add_module(
                f"layer{i + 1}", make_layer(BasicBlock, inplanes, planes[i], 2, 1 if i == 0 else 2, nn.BatchNorm2d)
            )
            inplanes = planes[i]
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, n_classes)
        init_weights(self)

    def drop_modalities(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Zero whole branch maps per sample during training (see module docstring)."""
        if not self.training or self.modality_dropout == 0.0 or len(outs) < 2:
            return outs
        n = outs[0].shape[0]
        keep = torch.rand(n, len(outs), device=outs[0].device) >= self.modality_dropout
        # a sample that lost every branch keeps one chosen at random
        lost = ~keep.any(dim=1)
        rescue = torch.randint(len(outs), (n,), device=keep.device)
        keep[lost, rescue[lost]] = True
        return [o * keep[:, i, None, None, None].to(o.dtype) for i, o in enumerate(outs)]

    def steps(self) -> list[tuple[str | None, Step]]:
        names = {"layer2": "deep"}
        steps: list[tuple[str | None, Step]] = []
        widths = [c for c in self._stage_channels]
        for i, stage in enumerate(STAGES):
            if i <= self.fuse_index:
                if i == 0:
                    splits = self.band_groups
                else:
                    c = widths[i - 1]
                    splits = [list(range(b * c, (b + 1) * c)) for b in range(len(self.band_groups))]
                step: Step = _BranchStage(self, stage, splits, dropout=i == self.fuse_index)
            else:
                step = getattr(self, stage)
            steps.append((names.get(stage, stage), step))
        steps += [(None, self.avgpool), (None, flatten), (None, self.fc)]
        return steps
