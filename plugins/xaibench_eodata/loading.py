"""From an index of records to a Bundle: splits, order and caps, threaded reads, the bad-file policy.

Bad-file policy: a sample whose files are broken (:class:`~.errors.DataError` from
``read``, or a :class:`~.base.Problem` found while indexing) is skipped with a warning
naming it, as long as the skipped share stays within ``max_bad_fraction`` (checked
separately for indexing problems, over all indexed candidates, and for read failures, over
the samples read); beyond it, loading fails with the first problem's own error and the
count.  Nothing is silently replaced.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xaibench.bundle import Bundle

from .base import Problem, Record, SkipSample
from .errors import BadFileError, DataError, EmptyDataError, LabelError, MissingDataError, PairError
from .params import SPLITS

if TYPE_CHECKING:
    from .base import RealDataset

log = logging.getLogger("xaibench")

PROBLEM_ERRORS: dict[str, type[DataError]] = {
    "pair": PairError,
    "label": LabelError,
    "file": BadFileError,
    "missing": MissingDataError,
}
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}


def stable_hash(text: str) -> int:
    """A hash of ``text`` that, unlike ``hash()``, is the same in every process."""
    return zlib.crc32(text.encode())


# ------------------------------------------------------------------ splits
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
        if not first or (i == 0 and first.lower() in ("id", "patch_id", "name", "patch", "image", "filename", "file")):
            continue
        if first not in seen:
            seen.add(first)
            ids.append(first)
    if not ids:
        raise EmptyDataError(p, "split file lists no sample")
    return ids


def random_split(
    records: Sequence[Record], fractions: dict[str, float], seed: int
) -> dict[str, list[Record]]:
    """Split whole groups at random, separately per stratum, into ``fractions`` (the rest: train).

    Group ``g`` of stratum ``s`` is placed by a permutation drawn from ``(seed, s)``, so a
    split does not depend on the other strata or on the order of ``records``.
    """
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


def assign_splits(
    ds: RealDataset, records: list[Record], problems: list[Problem], ignored: set[str] = frozenset()
) -> tuple[dict[str, list[Record]], dict]:
    """Records per split: ``split_files`` first, else the layout's official splits (val carved
    from train when there is none), else a grouped, stratified random split.  Ids listed in a
    split file but absent from the copy are appended to ``problems``."""
    p = ds.params
    info: dict[str, Any] = {}
    if p.split_files:
        lookup: dict[str, Record] = {}
        for r in records:
            lookup[r.key] = r
            for a in r.aliases:
                lookup.setdefault(a, r)
        known_bad = {pr.key for pr in problems if pr.key} | set(ignored)
        out: dict[str, list[Record]] = {s: [] for s in SPLITS}
        owner: dict[str, str] = {}
        for split, file in p.split_files.items():
            for sid in read_id_list(file):
                r = lookup.get(sid)
                if r is None:
                    if sid not in known_bad:
                        problems.append(Problem(str(file), f"lists sample {sid!r}, which is not under {p.root}", "missing"))
                    continue
                if r.key in owner and owner[r.key] != split:
                    raise BadFileError(file, f"sample {sid!r} is also listed for split {owner[r.key]!r}")
                if r.key not in owner:
                    owner[r.key] = split
                    out[split].append(r)
        info["unlisted"] = len(records) - len(owner)
        info["rule"] = "split_files"
        return out, info
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


def ordered(records: Sequence[Record], seed: int, split: str) -> list[Record]:
    """``records`` in the order of a permutation drawn from ``(seed, split)`` (caps take a prefix)."""
    base = sorted(records, key=lambda r: r.key)
    perm = np.random.default_rng([seed, _SPLIT_CODE[split], 7]).permutation(len(base))
    return [base[i] for i in perm]


# ------------------------------------------------------------------ reading
class _Stacker:
    """Writes each sample's arrays into preallocated ``(capacity, ...)`` arrays (no second copy)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.arrays: dict[str, np.ndarray] = {}
        self.n = 0

    def add(self, record: Record, fields: dict[str, np.ndarray]) -> None:
        if not self.arrays:
            self.arrays = {k: np.empty((self.capacity, *np.shape(v)), dtype=np.asarray(v).dtype) for k, v in fields.items()}
        if fields.keys() != self.arrays.keys():
            raise BadFileError(record.first_path, f"fields {sorted(fields)} differ from the other samples' {sorted(self.arrays)}")
        for k, v in fields.items():
            if np.shape(v) != self.arrays[k].shape[1:]:
                raise BadFileError(
                    record.first_path, f"{k} has shape {np.shape(v)}, the other samples {self.arrays[k].shape[1:]}"
                )
            self.arrays[k][self.n] = v
        self.n += 1

    def result(self) -> dict[str, np.ndarray]:
        return {k: v[: self.n] for k, v in self.arrays.items()}


def _read_safely(ds: RealDataset, record: Record) -> dict[str, np.ndarray] | DataError | SkipSample:
    try:
        return ds.read(record)
    except (DataError, SkipSample) as exc:
        return exc


def read_split(
    ds: RealDataset, records: list[Record], cap: int | None, label: str
) -> tuple[dict[str, np.ndarray], list[str], list[tuple[Record, DataError]], list[str], int]:
    """Read ``records`` in order until ``cap`` good samples (all when ``None``).

    Returns the stacked arrays, the ids read, the failures, the reasons of dropped samples
    (:class:`~.base.SkipSample`) and the number of samples tried.
    """
    from xaibench.progress import task

    want = len(records) if cap is None else min(cap, len(records))
    stack = _Stacker(want)
    ids: list[str] = []
    bad: list[tuple[Record, DataError]] = []
    dropped: list[str] = []
    pos = 0
    workers = ds.params.workers
    with ThreadPoolExecutor(max_workers=workers) as pool, task(label, want) as step:
        while pos < len(records) and stack.n < want:
            # bounded batches: results are consumed in order, so a slow file must not pile up the rest
            batch = records[pos : pos + min(max(want - stack.n, workers), 16 * workers)]
            pos += len(batch)
            for record, out in zip(batch, pool.map(lambda r: _read_safely(ds, r), batch)):
                if isinstance(out, DataError):
                    bad.append((record, out))
                elif isinstance(out, SkipSample):
                    dropped.append(f"{record.key}: {out}")
                elif stack.n < want:
                    try:
                        stack.add(record, out)
                    except DataError as exc:
                        bad.append((record, exc))
                        continue
                    ids.append(record.key)
                    step()
    return stack.result(), ids, bad, dropped, pos - len(dropped)


def _raise_if_too_many(ds: RealDataset, errors: list[DataError], total: int, what: str) -> None:
    if errors and len(errors) > ds.params.max_bad_fraction * total:
        first = errors[0]
        more = (
            f" (and {len(errors) - 1} more bad samples among {total} {what}; "
            f"max_bad_fraction={ds.params.max_bad_fraction:g})"
            if len(errors) > 1
            else ""
        )
        raise type(first)(first.path, first.message + more)


def _warn_skipped(ds: RealDataset, errors: list[DataError]) -> None:
    for err in errors:
        log.warning("%s: skipped %s", ds.name, err)


def problem_error(problem: Problem) -> DataError:
    return PROBLEM_ERRORS.get(problem.kind, BadFileError)(problem.path, problem.message)


# ------------------------------------------------------------------ the whole load
def load_dataset(ds: RealDataset, strict_splits: bool = True) -> Bundle:
    """Index, split, read and stack ``ds``'s copy; see the module docstring for bad files.

    ``strict_splits``: fail when train or test ends up empty (the grid needs both).
    """
    p = ds.params
    root = ds.root()
    index = ds.index()
    if not index.records and not index.problems:
        raise ds.nothing_found(root, "samples")
    problems = list(index.problems)
    splits, split_info = assign_splits(ds, index.records, problems, index.ignored)
    index_errors = [problem_error(pr) for pr in problems]
    _raise_if_too_many(ds, index_errors, len(index.records) + len(problems), "indexed")
    _warn_skipped(ds, index_errors)

    fields: dict[str, dict[str, np.ndarray]] = {}
    counts: dict[str, int] = {}
    skipped: list[dict[str, str]] = [{"path": e.path, "reason": e.message} for e in index_errors]
    dropped: dict[str, int] = {}
    for split in SPLITS:
        records = ordered(splits.get(split, []), p.split_seed, split)
        for r in records:
            r.extra["split"] = split
        arrays, ids, bad, why, tried = read_split(ds, records, p.cap(split), f"{ds.name} {split}")
        if why:
            dropped[split] = len(why)
            log.info("%s: dropped %d %s samples the task cannot use, e.g. %s", ds.name, len(why), split, why[0])
        errors = [e for _, e in bad]
        _raise_if_too_many(ds, errors, tried, f"read in split {split!r}")
        _warn_skipped(ds, errors)
        skipped.extend({"path": e.path, "reason": e.message} for e in errors)
        counts[split] = len(ids)
        if ids:
            arrays["id"] = np.array(ids)
            fields[split] = arrays
    if strict_splits:
        for split in ("train", "test"):
            if not counts[split]:
                raise EmptyDataError(root, f"split {split!r} is empty after splitting ({split_info['rule']}); "
                                     "check split_files / fractions")  # fmt: skip
    if skipped:
        log.warning("%s: skipped %d bad samples (max_bad_fraction %g); see the warnings above",
                    ds.name, len(skipped), p.max_bad_fraction)  # fmt: skip
    meta: dict[str, Any] = {
        "loader": f"{ds.name}@{ds.version}",
        "root": str(root),
        "counts": counts,
        "split_rule": split_info.get("rule", ""),
        "unlisted": split_info.get("unlisted", 0),
        "skipped": skipped[:1000],
        "n_skipped": len(skipped),
        "dropped": dropped,
    }
    ds.finish(fields, meta)
    return Bundle.from_splits(fields, meta)
