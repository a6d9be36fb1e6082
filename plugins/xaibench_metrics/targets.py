"""Which class a per-class metric looks at."""

from __future__ import annotations

from typing import Literal

import numpy as np

Target = Literal["predicted"] | int
"""``"predicted"``: each sample's top-scoring class (for multi-label models, the most
confident label); an int: that class index for every sample."""


def fixed_targets(target: int, n: int, n_classes: int) -> np.ndarray:
    """``(n,)`` int64 array of ``target``, checked against ``n_classes``."""
    if not 0 <= int(target) < n_classes:
        raise ValueError(f"target class {target} is outside [0, {n_classes})")
    return np.full(n, int(target), dtype=np.int64)
