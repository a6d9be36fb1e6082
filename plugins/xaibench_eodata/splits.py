"""Which sample goes to which split: split files, a layout's official split, or a grouped random split.

Split files are often official lists for the whole dataset while the copy holds a subset
(people work on a few thousand BigEarthNet patches with the 590,326-line ``train.csv``).  An
id a split file lists but the copy lacks is therefore *absent*: counted and named once in the
summary (``meta["absent"]``), never a bad sample.  A line may also name a whole scene (SEN12MS's
``splits/SEN12MS_holdOutScenes.txt`` lists folders such as ``ROIs1158_spring/s1_63``) when the
loader resolves it with :meth:`~.base.RealDataset.split_group`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadFileError, EmptyDataError
from .params import SPLITS

if TYPE_CHECKING:
    from .base import Problem, RealDataset, Record

HEADER_NAMES = ("id", "patch_id", "name", "patch", "image", "filename", "file")
EXAMPLES = 5


def stable_hash(text: str) -> int:
    """A hash of ``text`` that, unlike ``hash()``, is the same in every process."""
    return zlib.crc32(text.encode())


@dataclass
class Tally:
    """A count and its first few examples (what a summary shows instead of every line)."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, item: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(item)

    def as_dict(self, source: str = "") -> dict[str, Any]:
        return {"count": self.count, "examples": list(self.examples), "source": source}


def read_id_list(path: str | Path) -> list[str]:
    """Sample ids in the first column of a CSV or text file (no header; a header line naming
    a column such as ``patch_id`` is skipped), without blank lines or duplicates."""
    from .base import require_file

    p = require_file(path, "split file")
    ids: list[str] = []
    seen: set[str] = set()
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFileError(p, f"cannot read split file: {exc}") from None
    for i, line in enumerate(lines):
        first = line.split(",")[0].strip().strip('"')
        if not first or (i == 0 and first.lower() in HEADER_NAMES):
            continue
        if first not in seen:
            seen.add(first)
            ids.append(first)
    if not ids:
        raise EmptyDataError(p, "split file lists no sample")
    return ids


def random_split(records: Sequence[Record], fractions: dict[str, float], seed: int) -> dict[str, list[Record]]:
    """Split whole groups at random, separately per stratum, into ``fractions`` (the rest: train).

    Group ``g`` of stratum ``s`` is placed by a permutation drawn from ``(seed, s)``, so a
    split does not depend on the other strata or on the order of ``records``.
    """
    import numpy as np

    groups: dict[str, list[Record]] = {}
    for r in sorted(records, key=lambda r: r.key):
        groups.setdefault(r.group or r.key, []).append(r)
    strata: dict[str, list[str]] = {}
    for g, members in groups.items():
        strata.setdefault(str(members[0].stratum), []).append(g)
    out: dict[str, list[Record]] = {s: [] for s in SPLITS}
    for stratum in sorted(strata):
        names = sorted(strata[stratum])
        perm = np.random.default_rng([seed, stable_hash(stratum)]).permutation(len(names))
        start = 0
        for split, share in fractions.items():
            n = int(round(len(names) * share))
            for i in perm[start : start + n]:
                out[split].extend(groups[names[i]])
            start += n
        for i in perm[start:]:
            out["train"].extend(groups[names[i]])
    return out


def _from_split_files(
    ds: RealDataset, records: list[Record], problems: list[Problem], ignored: set[str]
) -> tuple[dict[str, list[Record]], dict[str, Any]]:
    p = ds.params
    assert p.split_files is not None
    lookup: dict[str, Record] = {}
    by_group: dict[str, list[Record]] = {}
    for r in records:
        lookup[r.key] = r
        for a in r.aliases:
            lookup.setdefault(a, r)
        if r.group:
            by_group.setdefault(r.group, []).append(r)
    known_bad = {pr.key for pr in problems if pr.key} | set(ignored)
    out: dict[str, list[Record]] = {s: [] for s in SPLITS}
    owner: dict[str, str] = {}
    absent = Tally()
    for split, file in p.split_files.items():
        for sid in read_id_list(file):
            r = lookup.get(sid)
            if r is not None:
                members = [r]
            else:
                group = ds.split_group(sid)
                members = by_group.get(group, []) if group is not None else []
                if not members:
                    if sid not in known_bad:
                        absent.add(sid)
                    continue
            for m in members:
                if m.key in owner and owner[m.key] != split:
                    raise BadFileError(file, f"sample {sid!r} is also listed for split {owner[m.key]!r}")
                if m.key not in owner:
                    owner[m.key] = split
                    out[split].append(m)
    info: dict[str, Any] = {"rule": "split_files"}
    unlisted = [r for r in records if r.key not in owner]
    if "train" not in p.split_files:  # e.g. a hold-out list: everything else trains
        out["train"] = unlisted
        info["rule"] = "split_files; train = samples no split file lists"
        if "val" not in p.split_files and p.val_fraction > 0 and out["train"]:
            carved = random_split(out["train"], {"val": p.val_fraction}, p.split_seed)
            out["train"], out["val"] = carved["train"], carved["val"]
            info["rule"] += f", val = {p.val_fraction:g} of them"
        unlisted = []
    info["unlisted"] = len(unlisted)
    if absent.count:
        files = ", ".join(Path(f).name for f in p.split_files.values())
        info["absent"] = absent.as_dict(f"split files ({files})")
    return out, info


def assign_splits(
    ds: RealDataset, records: list[Record], problems: list[Problem], ignored: set[str] = frozenset()
) -> tuple[dict[str, list[Record]], dict[str, Any]]:
    """Records per split, and how they were assigned (``info["rule"]``).

    ``split_files`` first (ids the copy lacks are counted in ``info["absent"]``; splits no file
    names: see :func:`_from_split_files`), else the layout's official splits (val carved from
    train when there is none), else a grouped, stratified random split.
    """
    p = ds.params
    if p.split_files:
        return _from_split_files(ds, records, problems, ignored)
    info: dict[str, Any] = {}
    if records and all(r.split in SPLITS for r in records):
        out = {s: [r for r in records if r.split == s] for s in SPLITS}
        info["rule"] = "official"
        if not out["val"] and p.val_fraction > 0 and out["train"]:
            carved = random_split(out["train"], {"val": p.val_fraction}, p.split_seed)
            out["train"], out["val"] = carved["train"], carved["val"]
            info["rule"] = f"official, val = {p.val_fraction:g} of train"
        return out, info
    info["rule"] = f"random (val {p.val_fraction:g}, test {p.test_fraction:g}, split_seed {p.split_seed})"
    return random_split(records, {"test": p.test_fraction, "val": p.val_fraction}, p.split_seed), info
