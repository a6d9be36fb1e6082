"""Finding files by name under a root (``os.scandir``: fast on copies with 10^5-10^6 files)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

SEN12MS_NAME = re.compile(
    r"^(?P<roi>ROIs\d+)_(?P<season>[A-Za-z0-9]+)_(?P<kind>s1|s2_cloudy|s2|lc|dfc)_(?P<scene>\d+)_p(?P<patch>\d+)\.tiff?$"
)
"""SEN12MS naming, shared by DFC2020 and SEN12MS-CR: ``ROIs1158_spring_s2_1_p30.tif``,
``ROIs0000_validation_dfc_0_p30.tif``, ``ROIs1158_spring_s2_cloudy_1_p30.tif``."""


def walk_files(root: Path, keep: Callable[[str], bool] = lambda name: True) -> Iterator[Path]:
    """Files under ``root`` (recursively, symlinks followed, sorted per directory) whose name passes ``keep``."""
    stack = [root]
    seen: set[tuple[int, int]] = set()
    while stack:
        here = stack.pop()
        try:
            st = here.stat()
            if (st.st_dev, st.st_ino) in seen:  # a symlink loop
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            if e.is_dir():
                subdirs.append(Path(e.path))
            elif keep(e.name):
                yield Path(e.path)
        stack.extend(reversed(subdirs))


def find_dirs(root: Path, match: Callable[[str], bool], max_depth: int = 4) -> dict[str, Path]:
    """Directories under ``root`` (up to ``max_depth`` levels) whose name passes ``match``, by name;
    matched directories are not descended into (patch folders hold files only)."""
    out: dict[str, Path] = {}
    level = [root]
    for _ in range(max_depth):
        nxt: list[Path] = []
        for d in level:
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if not e.is_dir():
                    continue
                if match(e.name):
                    out.setdefault(e.name, Path(e.path))
                else:
                    nxt.append(Path(e.path))
        level = nxt
        if not level:
            break
    return out


def sen12ms_files(root: Path, kinds: set[str]) -> dict[str, dict[str, Path]]:
    """``{"ROIs1158_spring_1_p30": {"s2": path, "s1": path, "lc": path}}`` for the SEN12MS-named files under ``root``."""
    out: dict[str, dict[str, Path]] = {}
    for path in walk_files(root, lambda n: n.startswith("ROIs") and (n.endswith(".tif") or n.endswith(".tiff"))):
        m = SEN12MS_NAME.match(path.name)
        if m and m["kind"] in kinds:
            key = f"{m['roi']}_{m['season']}_{m['scene']}_p{m['patch']}"
            out.setdefault(key, {})[m["kind"]] = path
    return out


def sen12ms_parts(key: str) -> dict[str, str]:
    """``"ROIs1158_spring_1_p30"`` -> roi, season, scene, patch."""
    roi, season, scene, patch = key.split("_")
    return {"roi": roi, "season": season, "scene": scene, "patch": patch[1:]}
