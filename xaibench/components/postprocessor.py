"""Post-processors: transform a method's test attributions (identity, harmonization...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .base import Component

if TYPE_CHECKING:
    import numpy as np

    from ..bundle import Bundle


class PostProcessor(Component):
    """Turns a method's test attributions into new ones of the same shape.

    Work that does not depend on the attribution method (the neighbour search of
    harmonization) goes into :meth:`prepare`, which is cached once per
    (dataset, model, seed, layer) and shared by every method; only :meth:`apply`
    runs per method.

    - ``needs_features``: :meth:`prepare` receives the layer features, a Bundle with
      ``train`` and ``test`` arrays ``(N, D_l, H_l, W_l)``.
    - ``needs_train_attributions``: :meth:`apply` receives the method's train
      attributions as well.
    """

    kind: ClassVar[str] = "postprocessor"
    needs_features: ClassVar[bool] = False
    needs_train_attributions: ClassVar[bool] = False

    def prepare(self, features: Bundle | None, seed: int) -> Bundle | None:
        return None

    def apply(
        self,
        state: Bundle | None,
        test: np.ndarray,
        train: np.ndarray | None,
    ) -> np.ndarray:
        """``test``/``train``: ``(N, classes, H_l, W_l)``; return the test shape."""
        raise NotImplementedError
