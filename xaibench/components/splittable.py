"""The contract between torch models and the attribution methods that explain them.

It is a :class:`typing.Protocol` so the core needs no torch import.  A model
plugin's :meth:`Model.load` returns an object satisfying it; attribution methods
rely only on it, so any third-party model that implements it can be explained.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

Body = Callable[["torch.Tensor", "torch.Tensor | None"], "torch.Tensor"]
Head = Callable[["torch.Tensor", "torch.Tensor | None"], "torch.Tensor"]


@runtime_checkable
class SplittableModel(Protocol):
    """A classifier in eval mode that can be cut at each of its named layers.

    - ``__call__(x, aux=None) -> logits``: ``x`` ``(N, C, H, W)``, ``aux`` ``(N, A)`` or
      ``None``; logits ``(N, classes)`` (pre-sigmoid / pre-softmax).
    - ``layer_names``: the layers it can be cut at; always includes ``"input"``.
    - ``split(layer) -> (body, head)``: ``body(x, aux)`` returns the layer's feature
      map ``(N, D_l, H_l, W_l)``; ``head(features, aux)`` returns the logits, so that
      ``head(body(x, aux), aux) == model(x, aux)``.  At ``"input"`` the body is the
      identity and the head the whole model.  Attribution methods run the body once
      without a graph and differentiate (or perturb) only the head.
    """

    layer_names: tuple[str, ...]

    def __call__(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor: ...

    def split(self, layer: str) -> tuple[Body, Head]: ...

