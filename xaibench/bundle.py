"""Bundle: named numpy arrays plus JSON metadata, the value every stage produces.

Small arrays are serialised as one Arrow IPC file (zstd): one row per array with its name, dtype,
shape and raw bytes, and the metadata as JSON in the schema metadata.  Arrow is used rather than
``np.savez`` so that the files are readable from any Arrow implementation and compressed without
pickling.  Arrays that grow with the data travel as :class:`~xaibench.arrays.RowStream` groups
(``bundle.streams``, a list): the cache writes them chunk by chunk and reads them back as
:class:`~xaibench.arrays.LazyArray` (see :mod:`xaibench.arrays`).

``bundle[name]`` and ``bundle.arrays[name]`` always give a numpy array (a lazy one is read whole);
``bundle.rows(name)`` gives the array as stored, lazy or not, for code that works a chunk at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from .arrays import LazyArray, RowStream

_META_KEY = b"xaibench.meta"
FORMAT_VERSION = 1



class ArrayMap(MutableMapping):
    """``name -> array`` whose reads are numpy arrays (lazy arrays are read whole on access)."""

    def __init__(self, arrays: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(arrays or {})

    def __getitem__(self, name: str) -> np.ndarray:
        value = self._data[name]
        return np.asarray(value) if isinstance(value, LazyArray) else value

    def __setitem__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def __delitem__(self, name: str) -> None:
        del self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        # Mapping's default tries ``self[name]``, which would read a lazy array whole.
        return name in self._data

    def raw(self, name: str) -> Any:
        """The array as stored (a :class:`LazyArray` stays lazy)."""
        return self._data[name]


class Bundle:
    """``arrays``: name -> array (names like ``"train/x"``); ``meta``: JSON-able dict;
    ``streams``: :class:`RowStream` s whose arrays are stored as ``"<prefix>/<name>"``."""

    def __init__(self, arrays: Mapping[str, Any] | None = None, meta: dict[str, Any] | None = None,
                 streams: list[RowStream] | None = None) -> None:
        self._arrays = ArrayMap(arrays)
        self.meta: dict[str, Any] = dict(meta or {})
        self.streams: list[RowStream] = list(streams or [])
        self.whole: Bundle = self
        """The bundle a :meth:`view` was cut from (``self`` for a bundle that is not a view)."""

    @property
    def arrays(self) -> ArrayMap:
        """Every array by name.  A bundle used outside the cache (a component's output in a test or a
        notebook) reads its pending streams into whole arrays here, on first access."""
        if self.streams:
            self.collect()
        return self._arrays

    def collect(self) -> Bundle:
        """Read the pending :attr:`streams` into whole in-memory arrays (they are consumed)."""
        streams, self.streams = self.streams, []
        for stream in streams:
            parts: dict[str, list[np.ndarray]] = {}
            for chunk in stream.chunks:
                for name, arr in chunk.items():
                    parts.setdefault(name, []).append(np.asarray(arr))
            for name, empty in stream.template.items():
                parts.setdefault(name, [np.asarray(empty)])
            for name, arrs in parts.items():
                self._arrays[f"{stream.prefix}/{name}" if stream.prefix else name] = np.concatenate(arrs)
        return self

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise KeyError(f"bundle has no array {name!r} (has: {', '.join(sorted(self.arrays))})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __repr__(self) -> str:
        return f"Bundle(arrays={sorted(self.arrays)}, streams={len(self.streams)}, meta keys={sorted(self.meta)})"

    def rows(self, name: str) -> np.ndarray | LazyArray:
        """The array as stored: a numpy array, or a :class:`LazyArray` read a chunk at a time."""
        try:
            return self.arrays.raw(name)
        except KeyError:
            raise KeyError(f"bundle has no array {name!r} (has: {', '.join(sorted(self.arrays))})") from None

    def split(self, split: str) -> dict[str, np.ndarray]:
        """Arrays of one split, without the ``"<split>/"`` prefix (read whole)."""
        prefix = f"{split}/"
        return {k[len(prefix):]: self.arrays[k] for k in self.arrays if k.startswith(prefix)}

    def view(self, split: str, start: int, stop: int) -> Bundle:
        """This bundle with the arrays of ``split`` cut to rows ``start:stop`` (read now), the other
        arrays as they are (lazy ones stay lazy), the same meta; ``view.whole`` is this bundle (to
        draw from the whole split, as Gradient-SHAP draws its baselines)."""
        prefix = f"{split}/"
        arrays = {k: (self.arrays.raw(k)[start:stop] if k.startswith(prefix) else self.arrays.raw(k))
                  for k in self.arrays}
        view = Bundle(arrays, self.meta)
        view.whole = self.whole
        return view

    @classmethod
    def from_splits(cls, splits: Mapping[str, Mapping[str, np.ndarray]], meta: dict | None = None) -> Bundle:
        arrays = {f"{s}/{k}": np.asarray(v) for s, fields in splits.items() for k, v in fields.items()}
        return cls(arrays, dict(meta or {}))

    def nbytes(self) -> int:
        """Bytes of the arrays held in memory (lazy arrays and pending streams are not)."""
        return sum(v.nbytes for k in self._arrays if not isinstance(v := self._arrays.raw(k), LazyArray))

    # -- serialisation of the in-memory arrays -----------------------------------------------
    def to_bytes(self, compression: str | None = "zstd") -> bytes:
        import pyarrow as pa

        names, dtypes, shapes, data = [], [], [], []
        for name in self.arrays:  # pending streams are read whole here (the cache writes them itself)
            if isinstance(self.arrays.raw(name), LazyArray):
                continue  # stored in its row file
            arr = np.asarray(self.arrays.raw(name))
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
