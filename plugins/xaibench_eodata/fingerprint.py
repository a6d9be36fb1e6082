"""A cheap identity of the files a loader indexes, so that a changed copy gets new cache keys.

:func:`tree_fingerprint` walks the loader's roots (``os.scandir``, symlinks followed, loops
skipped) and hashes, in a fixed order, each kept file's path relative to its root and, in
``"files"`` mode, its size and modification time (ns).  No file is opened.  Adding, removing,
renaming or replacing a file changes the digest; an untouched copy gives the same digest in
every process.  ``"names"`` mode hashes the paths only (no ``stat`` per file): faster, and it
misses a file overwritten in place under the same name.

Measured with ``benchmarks/fingerprint_speed.py`` (docs/datasets.md has the numbers).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

Mode = Literal["files", "names", "off"]


_HAS_DIR_FD = os.stat in os.supports_dir_fd and os.scandir in os.supports_fd


def _scan(here: str, rel: str, keep: Callable[[str], bool], with_stat: bool
          ) -> tuple[tuple[int, int] | None, str, list[tuple[str, str]], int]:
    """One folder: its (device, inode), the digest text of its kept files (sorted), its sub-folders, the count."""
    lines: list[str] = []
    subdirs: list[tuple[str, str]] = []
    try:
        fd = os.open(here, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if _HAS_DIR_FD else None
    except OSError:
        return None, "", [], 0
    try:
        st = os.fstat(fd) if fd is not None else os.stat(here)
        with os.scandir(fd if fd is not None else here) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                continue
            if is_dir:
                subdirs.append((os.path.join(here, e.name), f"{rel}{e.name}/"))
            elif keep(e.name):
                if not with_stat:
                    lines.append(f"{rel}{e.name}")
                    continue
                try:  # relative to the open folder: no path walk per file
                    s = os.stat(e.name, dir_fd=fd) if fd is not None else os.stat(os.path.join(here, e.name))
                    lines.append(f"{rel}{e.name}\0{s.st_size}\0{s.st_mtime_ns}")
                except OSError:  # a dangling link counts as what it is
                    lines.append(f"{rel}{e.name}\0dangling")
    except OSError:
        return None, "", [], 0
    finally:
        if fd is not None:
            os.close(fd)
    return (st.st_dev, st.st_ino), "\n".join(lines) + "\n", subdirs, len(lines)


def _walk(root: Path, keep: Callable[[str], bool], with_stat: bool, digest, workers: int) -> int:
    """Feed ``digest`` with the kept files under ``root``, folder by folder in breadth-first, sorted
    order (threads list and stat folders in parallel: on network file systems ``stat`` is latency-bound
    and releases the GIL); returns the number of files."""
    from concurrent.futures import ThreadPoolExecutor

    count = 0
    seen: set[tuple[int, int]] = set()
    level: list[tuple[str, str]] = [(str(root), "")]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while level:
            nxt: list[tuple[str, str]] = []
            for ident, text, subdirs, n in pool.map(lambda d: _scan(d[0], d[1], keep, with_stat), level):
                if ident is None or ident in seen:  # unreadable, a symlink loop, or a folder reached twice
                    continue
                seen.add(ident)
                digest.update(text.encode())
                count += n
                nxt.extend(subdirs)
            level = nxt
    return count


def _side_file(path: str | Path, with_stat: bool) -> str:
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        return f"{p}\0missing\n"
    if p.is_dir():
        return f"{p}\0dir\n"
    return f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n" if with_stat else f"{p}\n"


def tree_fingerprint(
    roots: Iterable[str | Path],
    keep: Callable[[str], bool],
    side_files: Iterable[str | Path] = (),
    mode: Mode = "files",
    label: str = "",
    workers: int = 4,
) -> tuple[str | None, int]:
    """Digest (24 hex characters) of the kept files under ``roots`` and of ``side_files``, and
    the number of files hashed.  ``mode="off"`` gives ``(None, 0)``.

    ``roots`` that do not exist hash as missing (the loader reports them when it loads);
    ``side_files`` (split files, metadata tables) are hashed by absolute path.
    """
    if mode == "off":
        return None, 0
    with_stat = mode == "files"
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{label}\0{mode}\n".encode())
    total = 0
    for i, root in enumerate(roots):
        r = Path(root).expanduser()
        digest.update(f"root {i}\0{'dir' if r.is_dir() else 'missing'}\n".encode())
        if r.is_dir():
            total += _walk(r, keep, with_stat, digest, workers)
    for f in side_files:
        digest.update(_side_file(f, with_stat).encode())
        total += 1
    return digest.hexdigest(), total
