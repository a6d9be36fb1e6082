"""The identity post-processor: attributions as the method produced them."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from xaibench.components import PostProcessor

if TYPE_CHECKING:
    import numpy as np

    from xaibench.bundle import Bundle


class NoPostProcess(PostProcessor):
    """Identity: returns the test attributions unchanged."""

    name: ClassVar[str] = "none"
    version: ClassVar[str] = "1"
    streams: ClassVar[bool] = True  # a chunk at a time: the DFC2020-sized test maps are 2 GB

    def apply(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None) -> np.ndarray:
        """``test`` itself, any shape."""
        return test

    def apply_chunk(self, state: Bundle | None, test: np.ndarray, train: np.ndarray | None, start: int) -> np.ndarray:
        """The chunk ``test`` itself."""
        return test
