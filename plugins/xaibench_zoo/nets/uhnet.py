"""UH-Net: a U-Net whose 16-channel output map (layer ``deep``) feeds a small classification head.

U-Net with zero padding, batch norm and bilinear upsampling (the halved-bottleneck variant
of Ronneberger et al.'s network, 17.3 M parameters at width 1).  Its last layer is a 1x1
convolution to 16 channels with batch norm and no activation: that is layer ``deep``, at the
input resolution.  The head is three stride-2 3x3 convolutions (BN + ReLU) then a 4x4
adaptive average pool and two linear layers.

Layers: ``input``, ``deep`` (16 channels, stride 1), ``head1``/``head2``/``head3`` (after
each strided convolution's ReLU, strides 2/4/8).  The encoder's skip connections make the
inner U-Net maps unusable as single split points, so none is offered.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import SplittableNet, Step, flatten
from .resnet import scaled

LAYER_NAMES = ("input", "deep", "head1", "head2", "head3")
DEEP_CHANNELS = 16
HEAD_CHANNELS = (32, 64, 128)
HEAD_POOL = 4
HEAD_HIDDEN = 768


class DoubleConv(nn.Module):
    """(3x3 conv -> BN -> ReLU) x 2, spatial size kept."""

    def __init__(self, cin: int, cout: int, mid: int | None = None) -> None:
        super().__init__()
        mid = mid or cout
        self.conv1 = nn.Conv2d(cin, mid, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(mid, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))


class Down(nn.Module):
    """2x2 max-pool (unless ``pool`` is False) then :class:`DoubleConv`."""

    def __init__(self, cin: int, cout: int, pool: bool) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2) if pool else None
        self.conv = DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x) if self.pool is not None else x)


class Up(nn.Module):
    """Bilinear upsampling to the skip map's size, concatenation, :class:`DoubleConv`."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = DoubleConv(cin, cout, cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != skip.shape[-2:]:
            # interpolating to the skip's size (not by 2) also handles odd sizes such as 15 -> 30 -> 60
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """``(N, C, H, W) -> (N, base, H, W)``; ``skip_pooling`` lists encoder steps (1-4) without pooling."""

    def __init__(self, in_channels: int, width: float, skip_pooling: Sequence[int] = ()) -> None:
        super().__init__()
        bad = sorted(set(skip_pooling) - {1, 2, 3, 4})
        if bad:
            raise ValueError(f"skip_pooling lists encoder steps 1-4, got {bad}")
        c = [scaled(n, width) for n in (64, 128, 256, 512, 512)]
        self.inc = DoubleConv(in_channels, c[0])
        self.down1 = Down(c[0], c[1], 1 not in skip_pooling)
        self.down2 = Down(c[1], c[2], 2 not in skip_pooling)
        self.down3 = Down(c[2], c[3], 3 not in skip_pooling)
        self.down4 = Down(c[3], c[4], 4 not in skip_pooling)
        self.up1 = Up(c[3] + c[4], c[2])
        self.up2 = Up(c[2] + c[2], c[1])
        self.up3 = Up(c[1] + c[1], c[0])
        self.up4 = Up(c[0] + c[0], c[0])
        self.out_channels = c[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        return self.up4(x, x1)


class UHNet(SplittableNet):
    """UH-Net ``(N, in_channels, H, W) -> (N, n_classes)`` logits, any ``H, W >= 16``.

    ``skip_pooling`` keeps the bottleneck larger on sizes such as 120 px (15 instead of 7).
    """

    def __init__(self, in_channels: int, n_classes: int, width: float = 1.0, skip_pooling: Sequence[int] = ()) -> None:
        super().__init__()
        self.unet = UNet(in_channels, width, skip_pooling)
        self.out_conv = nn.Conv2d(self.unet.out_channels, DEEP_CHANNELS, 1, bias=False)
        self.out_bn = nn.BatchNorm2d(DEEP_CHANNELS)
        cin = DEEP_CHANNELS
        for i, cout in enumerate(scaled(c, width) for c in HEAD_CHANNELS):
            self.add_module(f"head_conv{i + 1}", nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False))
            self.add_module(f"head_bn{i + 1}", nn.BatchNorm2d(cout))
            self.add_module(f"head_relu{i + 1}", nn.ReLU(inplace=False))
            cin = cout
        self.pool = nn.AdaptiveAvgPool2d(HEAD_POOL)
        hidden = scaled(HEAD_HIDDEN, width)
        self.fc1 = nn.Linear(cin * HEAD_POOL * HEAD_POOL, hidden)
        self.fc_relu = nn.ReLU(inplace=False)
        self.fc2 = nn.Linear(hidden, n_classes)

    def steps(self) -> list[tuple[str | None, Step]]:
        steps: list[tuple[str | None, Step]] = [(None, self.unet), (None, self.out_conv), ("deep", self.out_bn)]
        for i in (1, 2, 3):
            steps += [
                (None, getattr(self, f"head_conv{i}")),
                (None, getattr(self, f"head_bn{i}")),
                (f"head{i}", getattr(self, f"head_relu{i}")),
            ]
        steps += [(None, self.pool), (None, flatten), (None, self.fc1), (None, self.fc_relu), (None, self.fc2)]
        return steps
