"""Networks as an ordered list of steps, cut at named layers into ``(body, head)``.

A :class:`SplittableNet` lists its forward pass as steps; some steps are named: the name is
the layer whose feature map is that step's output.  :meth:`SplittableNet.split` chains the
steps up to a layer into the body and the rest into the head, so ``head(body(x, aux), aux)``
runs exactly the operations of ``net(x, aux)`` (see :class:`xaibench.components.SplittableModel`).

The body and head are built on the fly and are not registered as children of the net, so the
state-dict keys stay those of the architecture (torchvision-compatible for VGG and ResNet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Step = nn.Module | Callable[[torch.Tensor], torch.Tensor]


class AuxModule(nn.Module):
    """A module whose ``forward`` takes ``(x, aux)``; ``aux`` is ``(N, A)`` or ``None``."""

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def call(step: Step, x: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
    """Apply ``step`` to ``x``, passing ``aux`` only to modules that take it."""
    return step(x, aux) if isinstance(step, AuxModule) else step(x)


class AuxSequential(nn.Sequential, AuxModule):
    """``nn.Sequential`` that forwards ``aux`` to the members that take it (same state-dict keys)."""

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        for module in self:
            x = call(module, x, aux)
        return x


class Identity(AuxModule):
    """``(x, aux) -> x``: the body at ``"input"``."""

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return x


class Chain(AuxModule):
    """Runs steps in order.  Module steps are registered (Captum hooks find them); plain
    functions (``flatten``) are kept outside the module tree because Captum's LRP rejects
    leaf modules it has no rule for, such as ``nn.Flatten``."""

    def __init__(self, steps: Sequence[Step]) -> None:
        super().__init__()
        self.members = nn.ModuleList([s for s in steps if isinstance(s, nn.Module)])
        self._steps = tuple(steps)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        for step in self._steps:
            x = call(step, x, aux)
        return x


def flatten(x: torch.Tensor) -> torch.Tensor:
    """``(N, ...) -> (N, prod(...))``."""
    return torch.flatten(x, 1)


class SplittableNet(nn.Module):
    """Base of every zoo network: ``forward(x, aux=None)`` -> logits ``(N, classes)``.

    Subclasses implement :meth:`steps`.  ``aliases`` maps extra accepted layer names onto
    listed ones (``"layer2"`` -> ``"deep"``) without listing a layer twice.
    """

    aliases: dict[str, str] = {}
    uses_aux: bool = False
    """Whether the logits depend on ``aux`` (the trainer then requires it)."""

    def steps(self) -> list[tuple[str | None, Step]]:
        """The forward pass as ``(layer name or None, step)``; a name labels the step's output."""
        raise NotImplementedError

    @property
    def layer_names(self) -> tuple[str, ...]:
        return ("input",) + tuple(name for name, _ in self.steps() if name is not None)

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        for _, step in self.steps():
            x = call(step, x, aux)
        return x

    def split(self, layer: str) -> tuple[AuxModule | nn.Module, AuxModule | nn.Module]:
        """``(body, head)`` with ``head(body(x, aux), aux) == self(x, aux)``."""
        layer = self.aliases.get(layer, layer)
        if layer == "input":
            return Identity(), self
        steps = self.steps()
        names = [name for name, _ in steps]
        if layer not in names:
            raise KeyError(f"{type(self).__name__} has no layer {layer!r} (layers: {', '.join(self.layer_names)})")
        cut = names.index(layer) + 1
        return Chain([s for _, s in steps[:cut]]), Chain([s for _, s in steps[cut:]])
