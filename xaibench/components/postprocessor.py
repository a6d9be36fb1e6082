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
    - :meth:`train_subset` (bounded memory on large splits): the most train positions
      ``(sample, h, w)`` the post-processor reads.  The engine then draws that many of the
      ``N * H_l * W_l`` positions with the stage seed (:func:`xaibench.arrays.seeded_subset`) and
      keeps only those while streaming over the train split: the features Bundle holds
      ``train_rows`` ``(M, D_l)`` and ``subset`` ``(M,)`` (flattened positions
      ``(n * H_l + h) * W_l + w``, sorted) instead of ``train``, with meta ``train_positions``
      ``[N, H_l, W_l]``; the train attributions arrive as rows ``(M, classes[, D_l])`` in the
      same order.
    - ``streams``: :meth:`apply_chunk` post-processes a chunk of test samples (so the test
      split is never held whole); the ``test`` array of the features Bundle may then be lazy
      (``features.rows("test")``, :class:`xaibench.arrays.LazyArray`).
    """

    kind: ClassVar[str] = "postprocessor"
    needs_features: ClassVar[bool] = False
    needs_train_attributions: ClassVar[bool] = False
    streams: ClassVar[bool] = False

    def train_subset(self) -> int | None:
        """The most train positions read (``None``: all of them, as whole arrays)."""
        return None

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

    def apply_chunk(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None, start: int) -> np.ndarray:
        """With ``streams``: test samples ``start .. start + len(test) - 1``, post-processed."""
        raise NotImplementedError
