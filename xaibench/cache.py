"""Content-addressed stage cache: atomic writes, checksums verified on read.

An entry is one file ``<root>/<key[:2]>/<key>.xbc``: an 8-byte magic, the 32-byte
SHA-256 of the payload, then the payload (a serialised :class:`Bundle`).  It is
written to a temporary file in the same directory, fsync-ed and renamed, so a
reader sees either no entry or a whole one; a torn or corrupted file fails its
checksum and is treated as missing (recomputed), never used.

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


class Cache:
    """A directory of immutable entries addressed by stage key.  Safe for several
    processes on one shared filesystem: writers race only to rename identical content."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str, suffix: str = ".xbc") -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def has(self, key: str) -> bool:
        return self.path(key).exists()

    def put(self, key: str, bundle: Bundle) -> None:
        payload = bundle.to_bytes()
        digest = hashlib.sha256(payload).digest()
        _atomic_write(self.path(key), MAGIC + digest + payload)
        sidecar = {"checksum": digest.hex(), "nbytes": len(payload), "meta": bundle.meta}
        _atomic_write(self.path(key, ".json"), json.dumps(sidecar).encode())

    def get(self, key: str) -> Bundle:
        """Read and verify an entry; raise KeyError if missing, CorruptEntry if damaged (and remove it)."""
        path = self.path(key)
        try:
            raw = path.read_bytes()
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
            return json.loads(self.path(key, ".json").read_text())["meta"]
        except (FileNotFoundError, ValueError, KeyError):
            return self.get(key).meta

    def discard(self, key: str) -> None:
        for suffix in (".xbc", ".json"):
            try:
                self.path(key, suffix).unlink()
            except FileNotFoundError:
                pass


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
