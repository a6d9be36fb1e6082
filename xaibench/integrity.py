"""Integrity of the cache beyond each file's own checksum.

The results table is rebuilt from the entries' metadata sidecars, so a sidecar is *sealed*: a
SHA-256 over the entry's key, its payload checksum and the metadata.  A sidecar edited by hand,
copied from another entry or missing a key fails its seal and is never used
(:meth:`xaibench.cache.Cache.meta` then reads the verified entry).  :func:`check_entry` checks an
entry and its sidecar together, so that a run recomputes what it cannot trust before it builds
the table from it; :func:`collect_temp` removes what killed writers left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any


def seal(key: str, checksum: str, meta: dict[str, Any]) -> str:
    """SHA-256 binding a sidecar's meta to its entry's key and payload checksum."""
    text = json.dumps({"key": key, "checksum": checksum, "meta": meta}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_sidecar(key: str, data: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    """``(sidecar, None)`` when ``data`` is a sidecar sealed for ``key``, else ``(None, problem)``."""
    if data is None:
        return None, "its metadata sidecar is missing"
    try:
        side = json.loads(data)
    except ValueError:
        return None, "its metadata sidecar is not valid JSON"
    if not isinstance(side, dict) or not isinstance(side.get("meta"), dict) or "checksum" not in side:
        return None, "its metadata sidecar is incomplete"
    if side.get("seal") != seal(key, str(side["checksum"]), side["meta"]):
        return None, "its metadata sidecar fails its seal (edited, or another entry's)"
    return side, None


def check_entry(key: str, raw: bytes | None, sidecar: bytes | None, magic: bytes) -> str | None:
    """Why entry ``key`` (its file's bytes ``raw``: magic, SHA-256 of the payload, payload) cannot be
    trusted with its ``sidecar``, or ``None``.  Row files are not read here: each batch is verified
    by its CRC-32 when read."""
    if raw is None:
        return "its entry file is missing"
    header = len(magic) + 32
    digest = raw[len(magic):header]
    if raw[: len(magic)] != magic or hashlib.sha256(raw[header:]).digest() != digest:
        return "its entry file fails its checksum"
    side, problem = read_sidecar(key, sidecar)
    if side is None:
        return problem
    if side["checksum"] != digest.hex():
        return "its metadata sidecar names another entry's checksum"
    return None


def collect_temp(root: Path, older_than_s: float = 3600.0) -> int:
    """Remove the temporary files (``<root>/<xx>/.<name>.tmp``) of writers killed more than
    ``older_than_s`` ago (a live writer's file is younger); returns how many."""
    if not root.is_dir():
        return 0
    removed, limit = 0, time.time() - older_than_s
    for sub in os.scandir(root):
        if not sub.is_dir(follow_symlinks=False):
            continue
        for f in os.scandir(sub.path):
            if f.name.startswith(".") and f.name.endswith(".tmp") and f.is_file(follow_symlinks=False):
                try:
                    if f.stat(follow_symlinks=False).st_mtime < limit:
                        os.unlink(f.path)
                        removed += 1
                except FileNotFoundError:
                    pass
    return removed
