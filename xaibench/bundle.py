"""Bundle: named numpy arrays plus JSON metadata, the value every stage produces.

Serialised as an Arrow IPC file (zstd): one row per array with its name, dtype,
shape and raw bytes, and the metadata as JSON in the schema metadata.  Arrow is
used rather than ``np.savez`` so that the files are readable from any Arrow
implementation and compressed without pickling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_META_KEY = b"xaibench.meta"
FORMAT_VERSION = 1


@dataclass
class Bundle:
    """``arrays``: name -> ndarray (names like ``"train/x"``); ``meta``: JSON-able dict."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise KeyError(f"bundle has no array {name!r} (has: {', '.join(sorted(self.arrays))})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def split(self, split: str) -> dict[str, np.ndarray]:
        """Arrays of one split, without the ``"<split>/"`` prefix."""
        prefix = f"{split}/"
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}

    @classmethod
    def from_splits(cls, splits: Mapping[str, Mapping[str, np.ndarray]], meta: dict | None = None) -> Bundle:
        arrays = {f"{s}/{k}": np.asarray(v) for s, fields in splits.items() for k, v in fields.items()}
        return cls(arrays, dict(meta or {}))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())

    # -- serialisation -----------------------------------------------------
    def to_bytes(self, compression: str | None = "zstd") -> bytes:
        import pyarrow as pa

        names, dtypes, shapes, data = [], [], [], []
        for name, arr in self.arrays.items():
            arr = np.ascontiguousarray(arr).reshape(np.shape(arr))  # ascontiguousarray makes 0-d arrays 1-d
            if arr.dtype.hasobject:
                raise TypeError(f"bundle array {name!r} has dtype object; only numeric/bool/fixed strings are stored")
            names.append(name)
            dtypes.append(arr.dtype.str)
            shapes.append(list(arr.shape))
            data.append(arr.tobytes())
        schema = pa.schema(
            [("name", pa.string()), ("dtype", pa.string()), ("shape", pa.list_(pa.int64())), ("data", pa.large_binary())],
            metadata={_META_KEY: json.dumps({"format": FORMAT_VERSION, "meta": self.meta}, sort_keys=True).encode()},
        )
        table = pa.table([names, dtypes, shapes, data], schema=schema)
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with pa.ipc.new_file(sink, schema, options=options) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    @classmethod
    def from_bytes(cls, payload: bytes) -> Bundle:
        import pyarrow as pa

        reader = pa.ipc.open_file(pa.py_buffer(payload))
        table = reader.read_all()
        header = json.loads(reader.schema.metadata[_META_KEY])
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported bundle format {header.get('format')!r}")
        cols = table.to_pydict()
        arrays = {}
        for name, dtype, shape, data in zip(cols["name"], cols["dtype"], cols["shape"], cols["data"]):
            arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
        return cls(arrays, header["meta"])
