"""What every synthetic dataset shares: seeding, bundle metadata, writing to disk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import xaibench.components as xc

from .params import CHUNK, SplitParams

if TYPE_CHECKING:
    import numpy as np

    from xaibench.bundle import Bundle


class SynthDataset(xc.Dataset):
    """Base of the procedurally generated datasets.

    Subclasses implement :meth:`chunk` (the samples ``start .. start + n - 1`` of one split
    as arrays with ``n`` rows) and :meth:`info`.  The data depend on
    :meth:`SplitParams.effective_seed`: by default on ``params.data_seed`` only, not on
    the grid seed given to :meth:`load`.
    """

    Params: ClassVar[type[SplitParams]] = SplitParams
    params: SplitParams
    chunk_size: ClassVar[int] = CHUNK
    """Samples generated at once (bounds temporary memory)."""

    def chunk(self, data_seed: int, split: int, start: int, n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def load(self, seed: int) -> Bundle:
        from .generate import generate_bundle

        data_seed = self.params.effective_seed(seed)
        meta: dict[str, Any] = {
            "generator": f"{self.name}@{self.version}",
            "data_seed": data_seed,
        }
        return generate_bundle(
            lambda split, start, n: self.chunk(data_seed, split, start, n),
            self.params.split_sizes(),
            meta,
            self.chunk_size,
        )

    def varies_with_seed(self) -> bool:
        return self.params.vary_with_grid_seed

    def write(self, path: str | Path, seed: int = 0) -> Path:
        """Generate the data and write it to ``path`` (``.npz`` plus a ``.json`` of the meta)."""
        from .generate import write_npz

        return write_npz(self.load(seed), path)
