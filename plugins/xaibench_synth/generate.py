"""Chunked generation of the splits of a dataset, and writing them to disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from xaibench.arrays import RowStream
from xaibench.bundle import Bundle

from .bands import SPLIT_CODES
from .params import CHUNK

ChunkFn = Callable[[int, int, int], dict[str, np.ndarray]]
"""``(split_code, start, n) -> {field: array with n rows}`` for samples ``start .. start+n-1``."""


def generate_split(chunk_fn: ChunkFn, split: str, n: int, chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """All ``n`` samples of ``split``, generated ``chunk`` at a time into preallocated arrays."""
    code = SPLIT_CODES[split]
    if n == 0:  # shapes of an empty split: generate one sample and keep none
        return {k: v[:0].copy() for k, v in chunk_fn(code, 0, 1).items()}
    out: dict[str, np.ndarray] = {}
    for start in range(0, n, chunk):
        part = chunk_fn(code, start, min(chunk, n - start))
        if not out:
            out = {k: np.empty((n, *v.shape[1:]), dtype=v.dtype) for k, v in part.items()}
        for k, v in part.items():
            out[k][start : start + len(v)] = v
    return out


CHUNK_BYTES = 64 * 2**20
"""Bytes of samples generated at once by :func:`split_stream` (128 samples of 13 x 256 x 256 were
436 MB, and the generator's temporaries several times that)."""


def split_stream(chunk_fn: ChunkFn, split: str, n: int, chunk: int = CHUNK) -> RowStream:
    """The ``n`` samples of ``split`` as a stream (generated when read): one sample, then chunks of
    ``chunk`` samples at the most and of :data:`CHUNK_BYTES` at the most."""
    code = SPLIT_CODES[split]
    template = {k: v[:0].copy() for k, v in chunk_fn(code, 0, 1).items()} if n == 0 else None

    def chunks():
        start, rows = 0, 1
        while start < n:
            part = chunk_fn(code, start, min(rows, n - start))
            yield part
            got = len(next(iter(part.values())))
            per_sample = sum(np.asarray(v).nbytes for v in part.values()) // max(1, got)
            start, rows = start + got, max(1, min(chunk, CHUNK_BYTES // max(1, per_sample)))

    return RowStream(chunks(), template, prefix=split)


def generate_bundle(chunk_fn: ChunkFn, sizes: dict[str, int], meta: dict, chunk: int = CHUNK) -> Bundle:
    """A :class:`Bundle` with ``"<split>/<field>"`` arrays for each split in ``sizes``, generated a chunk at
    a time as the cache writes them (sample ``i`` depends on its index only, so the chunk size changes nothing)."""
    return Bundle(meta=meta, streams=[split_stream(chunk_fn, split, n, chunk) for split, n in sizes.items()])


def write_npz(bundle: Bundle, path: str | Path) -> Path:
    """Write a bundle's arrays to a compressed ``.npz`` (keys ``"train/x"``...) and its meta
    to a sibling ``.json``; returns the ``.npz`` path."""
    import json

    path = Path(path).with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **bundle.arrays)
    path.with_suffix(".json").write_text(json.dumps(bundle.meta, indent=2, sort_keys=True, default=str))
    return path
