"""A cheap identity of the files a loader indexes, so that a changed copy gets new cache keys.

:func:`tree_fingerprint` walks the loader's roots (``os.scandir``, symlinks followed, loops
skipped) and hashes, in a fixed order, each kept file's path relative to its root and, in
``"files"`` mode, its size and modification time (ns).  No file is opened.  Adding, removing,
renaming or replacing a file changes the digest; an untouched copy gives the same digest in
every process.  ``"names"`` mode hashes the paths only (no ``stat`` per file): about twice as
fast, and it misses a file overwritten in place under the same name.

Measured with ``benchmarks/fingerprint_speed.py`` (docs/datasets.md has the numbers).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

Mode = Literal["files", "names", "off"]


def _walk(root: Path, keep: Callable[[str], bool], with_stat: bool, digest) -> int:
    """Feed ``digest`` with the kept files under ``root`` in sorted order; returns their count."""
    count = 0
    stack: list[tuple[str, str]] = [(str(root), "")]
    seen: set[tuple[int, int]] = set()
    while stack:
        here, rel = stack.pop()
        try:
            st = os.stat(here)
            if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or a folder reached twice
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[tuple[str, str]] = []
        for e in entries:
            name = f"{rel}{e.name}"
            try:
                is_dir = e.is_dir()
            except OSError:
                continue
            if is_dir:
                subdirs.append((e.path, f"{name}/"))
            elif keep(e.name):
                if with_stat:
                    try:
                        s = e.stat()
                    except OSError:  # a dangling link: it counts as what it is
                        digest.update(f"{name}\0dangling\n".encode())
                        count += 1
                        continue
                    digest.update(f"{name}\0{s.st_size}\0{s.st_mtime_ns}\n".encode())
                else:
                    digest.update(f"{name}\n".encode())
                count += 1
        stack.extend(reversed(subdirs))
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
            total += _walk(r, keep, with_stat, digest)
    for f in side_files:
        digest.update(_side_file(f, with_stat).encode())
        total += 1
    return digest.hexdigest(), total
