"""VGG-16 for any band and class count.

Keys follow torchvision's ``vgg16``/``vgg16_bn`` (``features.<i>``, ``classifier.<i>``).
Layers: ``input``, ``conv1_2`` ... ``conv4_3`` (after the ReLU of each block's last
convolution, before its max-pool), ``deep`` = ``conv5_3`` (the last convolution, stride 16).
"""

from __future__ import annotations

from torch import nn

from .base import SplittableNet, Step, flatten
from .resnet import scaled

# channels per convolution, "M" = 2x2 max-pool; the name is the layer after that block's last ReLU
_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
_BLOCK_ENDS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "deep")
LAYER_NAMES = ("input",) + _BLOCK_ENDS


class VGG16(SplittableNet):
    """VGG-16 ``(N, in_channels, H, W) -> (N, n_classes)`` logits (``H, W`` multiples of 32).

    ``width`` multiplies convolution channels and the 4096 hidden units; the classifier
    keeps the 7x7 adaptive average pool of the original (134.3 M parameters at width 1
    for 13 bands and 8 classes).  ``batch_norm`` inserts BN after every convolution
    (as ``vgg16_bn``), which trains from scratch far more reliably on small data.
    """

    aliases = {"conv5_3": "deep"}

    def __init__(
        self, in_channels: int, n_classes: int, width: float = 1.0, batch_norm: bool = True, dropout: float = 0.5
    ) -> None:
        super().__init__()
        features: list[nn.Module] = []
        self._names: dict[int, str] = {}
        cin, block = in_channels, 0
        for v in _CFG:
            if v == "M":
                # the step before the pool is the ReLU ending the block
                self._names[len(features) - 1] = _BLOCK_ENDS[block]
                block += 1
                features.append(nn.MaxPool2d(2, 2))
                continue
            cout = scaled(int(v), width)
            features.append(nn.Conv2d(cin, cout, 3, padding=1))
            if batch_norm:
                features.append(nn.BatchNorm2d(cout))
            features.append(nn.ReLU(inplace=False))
            cin = cout
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = scaled(4096, width)
        self.classifier = nn.Sequential(
            nn.Linear(cin * 49, hidden),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=False),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def steps(self) -> list[tuple[str | None, Step]]:
        steps: list[tuple[str | None, Step]] = [(self._names.get(i), m) for i, m in enumerate(self.features)]
        steps += [(None, self.avgpool), (None, flatten)]
        steps += [(None, m) for m in self.classifier]
        return steps
