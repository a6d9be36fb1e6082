"""Content-addressed stage cache: atomic writes, checksums verified on read.

An entry is one file ``<root>/<key[:2]>/<key>.xbc``: an 8-byte magic, the 32-byte
SHA-256 of the payload, then the payload (a serialised :class:`Bundle`).  On a
local or shared filesystem it is written to a temporary file in the same
directory, fsync-ed and renamed; on object storage (any fsspec URL such as
``s3://bucket/cache``) it is one PUT, which object stores make visible whole.
Either way a reader sees no entry or a whole one; a torn or corrupted file fails
its checksum and is treated as missing (recomputed), never used.

A small JSON sidecar ``<key>.json`` holds the bundle's metadata so that the
results table can be rebuilt without reading large payloads (model weights).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .bundle import Bundle

MAGIC = b"XBCACHE1"
_HEADER = len(MAGIC) + 32
log = logging.getLogger("xaibench")


class CorruptEntry(Exception):
    pass


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
        try:
            self.path(rel).unlink()
        except FileNotFoundError:
            pass


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

    def put(self, key: str, bundle: Bundle) -> None:
        payload = bundle.to_bytes()
        digest = hashlib.sha256(payload).digest()
        self.store.write(self._rel(key, ".xbc"), MAGIC + digest + payload)
        sidecar = {"checksum": digest.hex(), "nbytes": len(payload), "meta": bundle.meta}
        self.store.write(self._rel(key, ".json"), json.dumps(sidecar).encode())

    def get(self, key: str) -> Bundle:
        """Read and verify an entry; raise KeyError if missing, CorruptEntry if damaged (and remove it)."""
        path = self.path(key)
        try:
            raw = self.store.read(self._rel(key, ".xbc"))
        except FileNotFoundError:
            raise KeyError(key) from None
        if raw[: len(MAGIC)] != MAGIC or hashlib.sha256(raw[_HEADER:]).digest() != raw[len(MAGIC):_HEADER]:
            self.discard(key)
            raise CorruptEntry(f"cache entry {path} failed its checksum; it will be recomputed")
        return Bundle.from_bytes(raw[_HEADER:])

    def valid(self, key: str) -> bool:
        """True if the entry exists and its checksum verifies (reads the whole file)."""
        try:
            self.get(key)
        except (KeyError, CorruptEntry):
            return False
        return True

    def meta(self, key: str) -> dict[str, Any]:
        """The entry's metadata, from the sidecar when present."""
        try:
            return json.loads(self.store.read(self._rel(key, ".json")))["meta"]
        except (FileNotFoundError, ValueError, KeyError):
            return self.get(key).meta

    def discard(self, key: str) -> None:
        for suffix in (".xbc", ".json"):
            self.store.delete(self._rel(key, suffix))


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
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
