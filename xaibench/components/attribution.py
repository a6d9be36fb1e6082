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
    """What to explain: the rows of ``split`` in ``data`` at ``layer`` of ``model``.

    The engine explains a large split a chunk of samples at a time: ``data`` then holds the
    chunk's rows of ``split`` (``data[f"{split}/x"]`` is ``(n, C, H, W)``), the other splits as
    they are, ``data.whole`` the uncut bundle (read it with ``data.whole.rows(name)`` to take a few
    samples, e.g. baselines, without reading a whole split), and ``offset`` is the index of the
    chunk's first sample in the split, so that
    per-sample randomness can be seeded by ``(seed, offset + i)`` and not depend on chunking.
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
    offset: int = 0


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
    whole_split: ClassVar[bool] = False
    """True for methods whose maps of one sample depend on the other samples of the split: they get
    the whole split in one request (its arrays read whole) instead of chunks of samples."""

    def incompatibility(self, model_info: ModelInfo, layer: str) -> str | None:
        """Return why this method cannot explain ``layer`` of such a model, or ``None``."""
        return None

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        raise NotImplementedError
