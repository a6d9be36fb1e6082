"""Content-addressed stage cache: atomic writes, checksums verified on read.

An entry is one file ``<root>/<key[:2]>/<key>.xbc``: an 8-byte magic, the 32-byte
SHA-256 of the payload, then the payload (a serialised :class:`Bundle`).  On a
local or shared filesystem it is written to a temporary file in the same
directory, fsync-ed and renamed; on object storage (any fsspec URL such as
``s3://bucket/cache``) it is one PUT, which object stores make visible whole.
Either way a reader sees no entry or a whole one; a torn or corrupted file fails
its checksum and is treated as missing (recomputed), never used.

A small JSON sidecar ``<key>.json`` holds the bundle's metadata, sealed to the entry
(:mod:`xaibench.integrity`), so the table is rebuilt without reading payloads (weights).

A bundle's row streams (:mod:`xaibench.arrays`) are written first, each to its own Arrow IPC
file ``<key>.rows<i>.arrow`` (a temporary name renamed when complete), then the entry file, which
lists them: an entry is complete exactly when its entry file exists.  Row files are read lazily,
batch by batch, each batch verified against its CRC-32; a torn or corrupted batch raises
:class:`CorruptEntry` naming the entry, which is then discarded and recomputed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .arrays import LazyArray, RowsFile, RowStream, rows_for, write_rows
from .bundle import Bundle
from .integrity import check_entry, collect_temp, read_sidecar, seal

MAGIC = b"XBCACHE1"
_HEADER = len(MAGIC) + 32
log = logging.getLogger("xaibench")


ROWS_KEY = "xaibench.rows"
"""Where an entry file's meta lists its row files (kept out of :meth:`Cache.meta`)."""
ENTRY_KEY = "xaibench.key"
"""The entry's own key in its file's meta: an entry file copied over another's is detected."""


class CorruptEntry(Exception):
    """A cache entry failed its checksum or cannot be read; ``key`` names it (when known)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class LocalStore:
    """Files on a local or shared (NFS, Lustre) filesystem; atomic by rename."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    def read(self, rel: str) -> bytes:
        return self.path(rel).read_bytes()  # FileNotFoundError when missing

    def write(self, rel: str, data: bytes) -> None:
        _atomic_write(self.path(rel), data)

    def delete(self, rel: str) -> None:
        self.path(rel).unlink(missing_ok=True)

    @contextlib.contextmanager
    def writer(self, rel: str) -> Iterator[Any]:
        """A file to write ``rel`` into; it appears under its name only when the block ends without error."""
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def opener(self, rel: str) -> Any:
        return functools.partial(_open_local, str(self.path(rel)))

    def list(self, prefix: str) -> list[str]:
        """Relative names of the files whose name starts with ``prefix`` (same directory)."""
        folder = self.path(prefix).parent
        name = Path(prefix).name
        if not folder.is_dir():
            return []
        return [str(Path(prefix).parent / p.name) for p in folder.iterdir() if p.name.startswith(name)]


def _open_local(path: str) -> Any:
    import pyarrow as pa

    return pa.OSFile(path, "rb")


def _open_fsspec(url: str, rel: str) -> Any:
    import pyarrow as pa

    store = FsspecStore(url)
    return pa.PythonFile(store.fs.open(store.path(rel), "rb"), mode="r")


class FsspecStore:
    """Any fsspec filesystem (``s3://``, ``gs://``, ``memory://``): one whole-object write per entry."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.url = url

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}"

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def read(self, rel: str) -> bytes:
        return self.fs.cat_file(self.path(rel))

    def write(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self.path(rel), data)

    def delete(self, rel: str) -> None:
        try:
            self.fs.rm_file(self.path(rel))
        except FileNotFoundError:
            pass

    @contextlib.contextmanager
    def writer(self, rel: str) -> Iterator[Any]:
        """One object written as a whole (a multipart upload completes only when the block ends)."""
        with self.fs.open(self.path(rel), "wb") as fh:
            yield fh

    def opener(self, rel: str) -> Any:
        return functools.partial(_open_fsspec, self.url, rel)

    def list(self, prefix: str) -> list[str]:
        found = self.fs.glob(self.path(prefix) + "*")
        root = self.root.rstrip("/") + "/"
        return [f[len(root):] if f.startswith(root) else f for f in found]


def open_store(root: str | os.PathLike) -> LocalStore | FsspecStore:
    text = str(root)
    if "://" in text and not text.startswith("file://"):
        return FsspecStore(text)
    return LocalStore(text[len("file://"):] if text.startswith("file://") else text)


class Cache:
    """A directory (or object-store prefix) of immutable entries addressed by stage key.

    Safe for several processes and machines sharing it: writers of one key race
    only to store identical content.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.store = open_store(root)
        self.root = root if isinstance(self.store, FsspecStore) else self.store.root

    @staticmethod
    def _rel(key: str, suffix: str) -> str:
        return f"{key[:2]}/{key}{suffix}"

    def path(self, key: str, suffix: str = ".xbc"):
        return self.store.path(self._rel(key, suffix))

    def has(self, key: str) -> bool:
        return self.store.exists(self._rel(key, ".xbc"))

    def put(self, key: str, bundle: Bundle) -> Bundle:
        """Store ``bundle`` (its row streams chunk by chunk, then the entry) and return it as stored:
        row streams become lazy arrays read from the cache.  The streams are consumed first, so a
        stream may still add arrays and meta to the bundle as it goes (statistics of a split)."""
        rows = []
        streams, bundle.streams = bundle.streams, []
        for name in list(bundle.arrays):
            value = bundle.arrays.raw(name)
            if isinstance(value, LazyArray):  # another entry's rows handed on: copied into this entry
                del bundle.arrays[name]
                prefix, _, short = name.rpartition("/")
                streams.append(RowStream(({short: block} for _, block in value.chunks(rows_for(64 * 2**20, value))),
                                         {short: value[:0]}, prefix))
        for i, stream in enumerate(streams):
            rel = self._rel(key, f".rows{i}.arrow")
            with self.store.writer(rel) as fh:
                info = write_rows(stream, fh)
            rows.append({"group": stream.prefix, "file": Path(rel).name, "info": info})
        arrays = {k: bundle.arrays.raw(k) for k in bundle.arrays}
        entry = Bundle(arrays, {**bundle.meta, ENTRY_KEY: key, **({ROWS_KEY: rows} if rows else {})})
        payload = entry.to_bytes()
        digest = hashlib.sha256(payload).digest()
        self.store.write(self._rel(key, ".xbc"), MAGIC + digest + payload)
        self._write_sidecar(key, digest.hex(), len(payload), bundle.meta)
        return self._with_rows(key, entry) if rows else bundle

    def get(self, key: str) -> Bundle:
        """Read and verify an entry; raise KeyError if missing, CorruptEntry if damaged (and remove it).
        Row files are opened, not read: their arrays are lazy."""
        path = self.path(key)
        try:
            raw = self.store.read(self._rel(key, ".xbc"))
        except FileNotFoundError:
            raise KeyError(key) from None
        if not _intact(raw):
            self.discard(key)
            raise CorruptEntry(f"cache entry {path} failed its checksum; it will be recomputed", key)
        bundle = Bundle.from_bytes(raw[_HEADER:])
        if bundle.meta.get(ENTRY_KEY, key) != key:  # a whole entry file copied over another's
            self.discard(key)
            raise CorruptEntry(f"cache entry {path} holds another entry's content; it will be recomputed", key)
        return self._with_rows(key, bundle)

    def _with_rows(self, key: str, bundle: Bundle) -> Bundle:
        """``bundle`` with the row files its meta lists opened as lazy arrays (the listing removed).

        An entry gathered from shards lists the shards' files (each with the shard's ``entry``
        key); the files of one group, in order, are one lazy array."""
        rows = bundle.meta.pop(ROWS_KEY, None)
        bundle.meta.pop(ENTRY_KEY, None)
        parts: dict[str, list[tuple[str, RowsFile]]] = {}
        for r in rows or []:
            owner = r.get("entry", key)
            rel = f"{owner[:2]}/{r['file']}"
            # a torn shard file is reported as this entry's: discarding it (and its shards) recomputes it
            rfile = RowsFile(self.store.opener(rel), r["info"], location=str(self.store.path(rel)), key=key)
            for c in r["info"]["columns"]:
                name = f"{r['group']}/{c['name']}" if r["group"] else c["name"]
                parts.setdefault(name, []).append((c["name"], rfile))
        for name, files in parts.items():
            bundle.arrays[name] = LazyArray(files[0][0], [f for _, f in files])
        return bundle

    def gather(self, key: str, shards: list[str], arrays: dict[str, Any] | None = None,
               meta: dict[str, Any] | None = None) -> Bundle:
        """Store entry ``key`` whose row arrays are those of the ``shards`` entries, concatenated in
        order (their files are referenced, not copied), with ``arrays`` and ``meta`` of its own."""
        listing = []
        for shard in shards:
            try:
                raw = self.store.read(self._rel(shard, ".xbc"))
            except FileNotFoundError:
                raise CorruptEntry(f"shard {shard} of {key} is missing from the cache", shard) from None
            if not _intact(raw):
                raise CorruptEntry(f"shard {shard} of {key} failed its checksum", shard)
            for r in Bundle.from_bytes(raw[_HEADER:]).meta.get(ROWS_KEY, []):
                listing.append({**r, "entry": r.get("entry", shard)})
        entry = Bundle(arrays or {}, {**(meta or {}), ENTRY_KEY: key, ROWS_KEY: listing})
        payload = entry.to_bytes()
        digest = hashlib.sha256(payload).digest()
        self.store.write(self._rel(key, ".xbc"), MAGIC + digest + payload)
        self._write_sidecar(key, digest.hex(), len(payload), dict(meta or {}))
        return self._with_rows(key, entry)

    def rows_files(self, key: str) -> list[str]:
        return [rel for rel in self.store.list(self._rel(key, ".rows")) if rel.endswith(".arrow")]

    def valid(self, key: str) -> bool:
        """True if the entry exists and its checksum verifies (reads the whole file)."""
        try:
            self.get(key)
        except (KeyError, CorruptEntry):
            return False
        return True

    def _write_sidecar(self, key: str, checksum: str, nbytes: int, meta: dict[str, Any]) -> None:
        meta = json.loads(json.dumps(meta))  # sealed as it will read back
        sidecar = {"checksum": checksum, "nbytes": nbytes, "meta": meta, "seal": seal(key, checksum, meta)}
        self.store.write(self._rel(key, ".json"), json.dumps(sidecar).encode())

    def _read(self, key: str, suffix: str) -> bytes | None:
        with contextlib.suppress(FileNotFoundError):
            return self.store.read(self._rel(key, suffix))
        return None

    def meta(self, key: str) -> dict[str, Any]:
        """The entry's metadata: from the sidecar when its seal holds, else from the verified entry."""
        side, _ = read_sidecar(key, self._read(key, ".json"))
        return side["meta"] if side is not None else self.get(key).meta

    def verify(self, key: str) -> str | None:
        """Why entry ``key`` cannot be trusted, or ``None`` (:func:`~xaibench.integrity.check_entry`)."""
        return check_entry(key, self._read(key, ".xbc"), self._read(key, ".json"), MAGIC)

    def reseal(self, key: str) -> bool:
        """Rewrite the sidecar of ``key`` from its verified entry; ``False`` if the entry is not trusted."""
        raw = self._read(key, ".xbc")
        if raw is None or not _intact(raw):
            return False
        meta = Bundle.from_bytes(raw[_HEADER:]).meta
        if meta.pop(ENTRY_KEY, None) != key:  # an entry from before the seals, or another entry's: recompute
            return False
        meta.pop(ROWS_KEY, None)
        self._write_sidecar(key, raw[len(MAGIC):_HEADER].hex(), len(raw) - _HEADER, meta)
        return True

    def collect_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove killed writers' temporary files (local stores; an object store's PUT leaves none)."""
        return collect_temp(self.store.root, older_than_s) if isinstance(self.store, LocalStore) else 0

    def discard(self, key: str) -> None:
        """Remove entry ``key``, its row files and, for an entry gathered from shards, the shards."""
        try:
            shards = json.loads(self.store.read(self._rel(key, ".json")))["meta"].get("shards", [])
        except (FileNotFoundError, ValueError, KeyError, AttributeError):
            shards = []
        for shard in shards:
            self.discard(shard)
        for suffix in (".xbc", ".json"):
            self.store.delete(self._rel(key, suffix))
        for rel in self.rows_files(key):
            self.store.delete(rel)


def _intact(raw: bytes) -> bool:
    return raw[: len(MAGIC)] == MAGIC and hashlib.sha256(raw[_HEADER:]).digest() == raw[len(MAGIC):_HEADER]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
