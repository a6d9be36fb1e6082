"""From an index of records to a Bundle: splits, order and caps, threaded reads, the bad-file policy.

Bad-file policy: a sample whose files are broken (:class:`~.errors.DataError` from
``read``, or a :class:`~.base.Problem` found while indexing) is skipped, as long as the
skipped share stays within ``max_bad_fraction`` (checked separately for indexing problems,
over all indexed candidates, and for read failures, over the samples read); beyond it,
loading fails with the first problem's own error and the count.  Skipped samples are named
in a warning each (the first :data:`WARN_EACH`, then one line counts the rest) and tallied
by kind in ``meta["problem_kinds"]``.  Nothing is silently replaced.  Ids that split files
or the layout's metadata list but the copy lacks are not bad samples (``meta["absent"]``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from xaibench.bundle import Bundle

from .base import Problem, Record, SkipSample
from .errors import BadFileError, DataError, EmptyDataError, LabelError, MissingDataError, PairError
from .params import SPLITS
from .splits import EXAMPLES, Tally, assign_splits, random_split, read_id_list, stable_hash  # noqa: F401  (re-exported)

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


WARN_EACH = 20
"""Skipped samples named one warning each; beyond, one line counts the rest (``data check`` groups them all)."""

PROBLEM_KINDS: dict[type[DataError], str] = {
    PairError: "missing counterpart",
    LabelError: "bad label or metadata",
    MissingDataError: "missing file",
    BadFileError: "unreadable or malformed file",
}


def problem_kind(err: DataError) -> str:
    """The summary heading of a problem (``data check`` groups problems by it)."""
    for cls, kind in PROBLEM_KINDS.items():
        if isinstance(err, cls):
            return kind
    return "other"


def _warn_skipped(ds: RealDataset, errors: list[DataError], already: int = 0) -> int:
    """Log each skipped sample, up to :data:`WARN_EACH` per load; returns how many were named."""
    named = 0
    for err in errors[: max(0, WARN_EACH - already)]:
        log.warning("%s: skipped %s", ds.name, err)
        named += 1
    if len(errors) > named:
        log.warning("%s: skipped %d more bad samples (not named; `xaibench data check` summarises them by kind)",
                    ds.name, len(errors) - named)  # fmt: skip
    return named


def tally_problems(problems: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """``{kind: {"count": n, "examples": ["path: reason", ...]}}`` over ``problems`` (``path``, ``reason``, ``kind``)."""
    kinds: dict[str, Tally] = {}
    for pr in problems:
        kinds.setdefault(pr.get("kind", "other"), Tally()).add(f"{pr['path']}: {pr['reason']}")
    return {k: {"count": t.count, "examples": t.examples} for k, t in sorted(kinds.items(), key=lambda kv: -kv[1].count)}


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
    named = _warn_skipped(ds, index_errors)
    absent = _absent(index.absent, split_info.get("absent"))
    if absent:
        log.warning("%s: %d ids listed in %s are not in this copy (left out, not bad samples), e.g. %s",
                    ds.name, absent["count"], absent["source"], ", ".join(absent["examples"][:3]))  # fmt: skip

    fields: dict[str, dict[str, np.ndarray]] = {}
    counts: dict[str, int] = {}
    skipped = [{"path": e.path, "reason": e.message, "kind": problem_kind(e)} for e in index_errors]
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
        named += _warn_skipped(ds, errors, named)
        skipped.extend({"path": e.path, "reason": e.message, "kind": problem_kind(e)} for e in errors)
        counts[split] = len(ids)
        if ids:
            arrays["id"] = np.array(ids)
            fields[split] = arrays
    if strict_splits:
        for split in ("train", "test"):
            if not counts[split]:
                hint = (f"; {absent['count']} ids listed in {absent['source']} are not in this copy, "
                        f"e.g. {', '.join(absent['examples'][:3])}" if absent else "")  # fmt: skip
                raise EmptyDataError(root, f"split {split!r} is empty after splitting ({split_info['rule']}{hint}); "
                                     "check split_files / fractions")  # fmt: skip
    if skipped:
        log.warning("%s: skipped %d bad samples (max_bad_fraction %g)", ds.name, len(skipped), p.max_bad_fraction)
    meta: dict[str, Any] = {
        "loader": f"{ds.name}@{ds.version}",
        "root": str(root),
        "counts": counts,
        "split_rule": split_info.get("rule", ""),
        "unlisted": split_info.get("unlisted", 0),
        "absent": absent,
        "skipped": skipped[:1000],
        "n_skipped": len(skipped),
        "problem_kinds": tally_problems(skipped),
        "dropped": dropped,
    }
    ds.finish(fields, meta)
    return Bundle.from_splits(fields, meta)


def _absent(from_index: dict[str, Any] | None, from_splits: dict[str, Any] | None) -> dict[str, Any]:
    """The ids a layout's metadata or the split files list but the copy lacks, merged (``{}``: none)."""
    parts = [a for a in (from_index, from_splits) if a and a.get("count")]
    if not parts:
        return {}
    return {
        "count": sum(a["count"] for a in parts),
        "examples": [e for a in parts for e in a["examples"]][:EXAMPLES],
        "source": " and ".join(a["source"] for a in parts),
    }
