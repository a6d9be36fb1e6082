"""Registry rules beyond the schema, checked by ``validate`` and before a run starts, so that
nothing a user writes fails only after the grid has run.

- names: the experiment (it becomes a file name) and every alias use a safe character set
  (letters, digits, ``_ . + -``, not starting with ``.`` or ``-``), at most :data:`NAME_MAX`
  characters, no path separator, no ``..``, no NUL; the message says which rule;
- seeds fit the table's int32 column and every seeding library (0 <= seed < 2**31);
- ``results`` and a local ``cache`` are (or can be made) writable directories, not files.

What only a plan shows is checked by :mod:`xaibench.plan_checks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAME_MAX = 100
SEED_MAX = 2**31 - 1
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
Add = Callable[[tuple, str], None]


def name_problem(name: str) -> str | None:
    """Which naming rule ``name`` breaks, or ``None``."""
    if "\x00" in name:
        return "contains a NUL character"
    if "/" in name or "\\" in name:
        return "contains a path separator ('/' or '\\'); names become file names"
    if ".." in name:
        return "contains '..'; names become file names"
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX}"
    if not _SAFE.fullmatch(name):
        bad = next((c for c in name if not re.fullmatch(r"[A-Za-z0-9_.+-]", c)), name[:1])
        return (f"contains {bad!r}; use letters, digits and _ . + - (not starting with . or -)" if name else
                "is empty")
    return None


def check_registry(data: dict[str, Any], experiment: Any, seeds: list[int], add: Add, sections: Any) -> None:
    """The rules above that need no plugin: names (of ``sections``' aliases), seeds, output paths."""
    if isinstance(experiment, str):
        why = name_problem(experiment.strip())
        if why:
            add(("experiment",), f"{experiment[:60]!r} {why}")
    for section in sections:
        raw = data.get(section)
        for alias in raw if isinstance(raw, dict) else []:
            why = name_problem(str(alias))
            if why:
                add((section, alias), f"alias {str(alias)[:60]!r} {why}")
    for seed in seeds:
        if not 0 <= seed <= SEED_MAX:
            add(("seeds",), f"seed {seed} is out of range (0 to {SEED_MAX})")
    for key in ("results", "cache"):
        value = data.get(key)
        if isinstance(value, str) and "://" not in value:
            why = directory_problem(Path(value))
            if why:
                add((key,), f"{value!r} {why}")


def directory_problem(path: Path) -> str | None:
    """Why ``path`` cannot be (made) a writable directory, or ``None``."""
    if "\x00" in str(path):
        return "contains a NUL character"
    if path.exists() and not path.is_dir():
        return "is an existing file; expected a directory"
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"is not writable ({parent} is read-only for this user)"
    return None
