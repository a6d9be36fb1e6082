"""A small CNN as people write it (in-place ReLUs, a residual block, functional pooling): explained
by xaibench's `torch-module` component without a plugin.  See docs/own-model.md."""

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class Net(nn.Module):
    def __init__(self, bands: int = 13, classes: int = 8, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(bands, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.layer1 = Block(width)
        self.layer2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                    Block(2 * width))
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


if __name__ == "__main__":
    # Save the model the three ways xaibench reads (weights here are untrained: train yours first).
    net = Net().eval()
    torch.save(net.state_dict(), "mynet.pt")                                      # module + checkpoint
    torch.jit.save(torch.jit.script(net), "mynet.ts.pt")                          # torchscript
    batch = {"x": {0: torch.export.Dim("batch")}}  # any batch size
    torch.export.save(torch.export.export(net, (torch.zeros(2, 13, 32, 32),), dynamic_shapes=batch), "mynet.pt2")
