"""Models: architecture, training and the split at a named layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .base import Component

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle
    from .dataset import DatasetInfo


@dataclass(frozen=True)
class ModelInfo:
    """Static description of a model built for a dataset.

    ``layers`` are the names attribution can be computed at; ``"input"`` is always
    offered and ``"deep"`` is the harmonization paper's layer.  ``provides`` lists the
    model's traits, :mod:`xaibench.capabilities` constants (``RESIDUAL``,
    ``SKIP_CONNECTIONS``, ``AUX_INPUT``, ``MULTIMODAL``, ``FORECAST``...) that components
    may require.  ``sequential_after`` names the layers after which the network is a plain
    chain of modules (no sums or concatenations), whatever it has before them.
    """

    layers: tuple[str, ...] = ("input",)
    provides: frozenset[str] = frozenset()
    sequential_after: frozenset[str] = frozenset()


class Model(Component):
    """A trainable model.

    The core treats the built model as opaque: it only passes what :meth:`load`
    returns to attribution methods and metrics.  Torch models from the built-in zoo
    return an ``nn.Module`` with ``split(layer) -> (body, head)``; see
    ``docs/plugin-hooks.md``.
    """

    kind: ClassVar[str] = "model"

    def info(self, data: DatasetInfo) -> ModelInfo:
        return ModelInfo()

    def train(self, data: Bundle, seed: int) -> Bundle:
        """Train on ``data`` under ``seed``; return the weights as a Bundle of arrays.

        ``meta["metrics"]`` (a flat dict of floats) is logged to the model's run.
        """
        raise NotImplementedError

    def load(self, data: DatasetInfo, state: Bundle) -> Any:
        """Rebuild the trained model from :meth:`train`'s output, ready for inference."""
        raise NotImplementedError

    def features(self, model: Any, data: Bundle, split: str, layer: str) -> np.ndarray:
        """Feature map of ``split`` at ``layer``: ``(N, D_l, H_l, W_l)`` float32."""
        raise NotImplementedError
