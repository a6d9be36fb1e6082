"""Attribution methods: all classes at once, at the input or a named layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .base import Component

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle
    from .dataset import DatasetInfo
    from .model import ModelInfo


@dataclass(frozen=True)
class AttributionRequest:
    """What to explain: ``split`` of ``data`` at ``layer`` of ``model``.

    ``memory_budget_mb`` caps the working memory of one chunk of samples x classes;
    ``seed`` makes stochastic methods (Gradient-SHAP baselines) reproducible.
    """

    model: Any
    data: Bundle
    data_info: DatasetInfo
    split: str
    layer: str
    seed: int
    memory_budget_mb: int = 2048


class AttributionMethod(Component):
    """Explains every class of a model at once.

    :meth:`attribute` returns raw attributions (no ReLU, no normalisation) of
    shape ``(N, classes, H_l, W_l)`` float32, summed over the layer's channels, or
    ``(N, classes, D_l, H_l, W_l)`` when the method's params ask to keep channels.
    """

    kind: ClassVar[str] = "attribution"
    class_specific: ClassVar[bool] = True
    """False for methods whose maps are the same for every class (edge detectors, baselines);
    the conformance checks of :mod:`xaibench.testing` hold class-specific methods to differ by class."""

    def incompatibility(self, model_info: ModelInfo, layer: str) -> str | None:
        """Return why this method cannot explain ``layer`` of such a model, or ``None``."""
        return None

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        raise NotImplementedError
