"""Models as people write them (not in the zoo), each with a hand-written split of the same weights.

Each ``User*`` model is what a user brings: in-place and reused ReLU modules, functional ReLUs,
``+=`` residual sums, ``torch.cat`` skips, two inputs, control flow fx cannot trace.  Each
``Reference*`` is the same network written the zoo's way (one out-of-place ReLU module per use,
a ``split`` by hand, ``layer_module`` for Captum) with the same state-dict keys, so
``reference.load_state_dict(user.state_dict())`` makes the two compute the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def init(model: nn.Module, seed: int = 0) -> nn.Module:
    """Variance-preserving weights, random batch-norm statistics: attributions of order one."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
    return model.eval()


class _Part(nn.Module):
    def __init__(self, owner: nn.Module, fn) -> None:
        super().__init__()
        self.owner, self._fn = owner, fn

    def forward(self, x, aux=None):
        return self._fn(x)


class _Reference(nn.Module):
    """``split(layer)`` by hand from ``body``/``head`` functions; ``layer_module`` for Captum."""

    layer_names = ("input", "deep")

    def forward(self, x, aux=None):
        return self.head(self.body(x))

    def split(self, layer):
        if layer == "input":
            return _Part(self, lambda x: x), _Part(self, self.forward)
        return _Part(self, self.body), _Part(self, self.head)

    def layer_module(self, layer):
        return self.inp if layer == "input" else self.get_submodule(self.deep_name)


# -- residual CNN with a custom block --------------------------------------------------------------
class Block(nn.Module):
    """torchvision-style: one in-place ReLU module used twice, ``out += identity``."""

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


class UserResNet(nn.Module):
    def __init__(self, bands: int = 4, classes: int = 3, width: int = 6) -> None:
        super().__init__()
        self.stem = nn.Conv2d(bands, width, 3, padding=1)
        self.layer1 = Block(width)
        self.layer2 = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                                    Block(width))
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _CleanBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + x)


class ReferenceResNet(_Reference):
    def __init__(self, bands: int = 4, classes: int = 3, width: int = 6) -> None:
        super().__init__()
        self.inp = nn.Identity()
        self.stem, self.relu0 = nn.Conv2d(bands, width, 3, padding=1), nn.ReLU()
        self.layer1 = _CleanBlock(width)
        self.layer2 = nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(), _CleanBlock(width))
        self.fc = nn.Linear(width, classes)
        self.deep_name = "layer1"

    def body(self, x):
        return self.layer1(self.relu0(self.stem(self.inp(x))))

    def head(self, f):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layer2(f), 1), 1))


# -- U-Net-like net with concatenated skips ----------------------------------------------------------
class UserUNet(nn.Module):
    def __init__(self, bands: int = 4, classes: int = 3, width: int = 4) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(bands, width, 3, padding=1), nn.ReLU(inplace=True))
        self.enc2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(inplace=True))
        self.up = nn.Conv2d(2 * width, width, 1)
        self.dec = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        d = self.dec(torch.cat([self.up(F.interpolate(e2, scale_factor=2.0)), e1], dim=1))
        return self.out(d).mean(dim=(2, 3))


class ReferenceUNet(_Reference):
    def __init__(self, bands: int = 4, classes: int = 3, width: int = 4) -> None:
        super().__init__()
        self.inp = nn.Identity()
        self.enc1 = nn.Sequential(nn.Conv2d(bands, width, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Conv2d(2 * width, width, 1)
        self.dec = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(width, classes, 1)
        self.deep_name = "dec"

    def body(self, x):
        e1 = self.enc1(self.inp(x))
        up = self.up(F.interpolate(self.enc2(self.pool(e1)), scale_factor=2.0))
        return self.dec(torch.cat([up, e1], dim=1))

    def head(self, f):
        return self.out(f).mean(dim=(2, 3))


# -- two-input fusion net ---------------------------------------------------------------------------
class UserFusion(nn.Module):
    """``forward(optical, radar)``: one branch each, fused by concatenation."""

    def __init__(self, optical: int = 3, radar: int = 2, classes: int = 3, width: int = 4) -> None:
        super().__init__()
        self.optical = nn.Conv2d(optical, width, 3, padding=1)
        self.radar = nn.Conv2d(radar, width, 3, padding=1)
        self.fuse = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.fc = nn.Linear(width, classes)

    def forward(self, optical, radar):
        f = torch.cat([torch.relu(self.optical(optical)), self.radar(radar).relu()], dim=1)
        return self.fc(self.fuse(f).mean(dim=(2, 3)))


class ReferenceFusion(_Reference):
    """Takes the five bands stacked (optical first); the same weights as :class:`UserFusion`."""

    def __init__(self, optical: int = 3, radar: int = 2, classes: int = 3, width: int = 4) -> None:
        super().__init__()
        self.inp, self.n_optical = nn.Identity(), optical
        self.optical = nn.Conv2d(optical, width, 3, padding=1)
        self.radar = nn.Conv2d(radar, width, 3, padding=1)
        self.relu_o, self.relu_r = nn.ReLU(), nn.ReLU()
        self.fuse = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(width, classes)
        self.deep_name = "fuse"

    def body(self, x):
        x = self.inp(x)
        o, r = x[:, : self.n_optical], x[:, self.n_optical:]
        return self.fuse(torch.cat([self.relu_o(self.optical(o)), self.relu_r(self.radar(r))], dim=1))

    def head(self, f):
        return self.fc(f.mean(dim=(2, 3)))


# -- control flow fx cannot trace -----------------------------------------------------------------------
class UserControlFlow(nn.Module):
    """Pools large inputs first: ``if`` on a shape is control flow that ``torch.fx`` cannot trace."""

    def __init__(self, bands: int = 4, classes: int = 3, width: int = 5) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(bands, width, 3, padding=1), nn.ReLU(inplace=True))
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        if x.shape[-1] > 8:
            x = F.avg_pool2d(x, 2)
        x = self.block(self.conv(x))
        return self.fc(x.amax(dim=(2, 3)))


class ReferenceControlFlow(_Reference):
    def __init__(self, bands: int = 4, classes: int = 3, width: int = 5) -> None:
        super().__init__()
        self.inp = nn.Identity()
        self.conv = nn.Sequential(nn.Conv2d(bands, width, 3, padding=1), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.fc = nn.Linear(width, classes)
        self.deep_name = "conv"

    def body(self, x):
        x = self.inp(x)
        if x.shape[-1] > 8:
            x = F.avg_pool2d(x, 2)
        return self.conv(x)

    def head(self, f):
        return self.fc(self.block(f).amax(dim=(2, 3)))


CASES = {
    # name: (user class, reference class, inner layer's module path, bands as the model takes them)
    "resnet": (UserResNet, ReferenceResNet, "layer1", None),
    "unet": (UserUNet, ReferenceUNet, "dec", None),
    "fusion": (UserFusion, ReferenceFusion, "fuse", [["b0", "b1", "b2"], ["b3", "b4"]]),
    "control-flow": (UserControlFlow, ReferenceControlFlow, "conv", None),
}
