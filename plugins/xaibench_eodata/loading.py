"""From an index of records to a Bundle: splits, order and caps, threaded reads, the bad-file policy.

Samples are read as the cache consumes the bundle's row streams, a bounded batch at a time: large
per-sample fields (:data:`STREAM_ROW_BYTES`) are written to the cache and never held whole, small
ones are kept and handed to ``finish`` after the last split (so memory does not grow with the copy).

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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from xaibench.arrays import RowStream
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
STREAM_ROW_BYTES = 16 * 2**10
"""Per-sample fields at least this large (images, masks, time series of images) go to the cache a
chunk at a time and are never held whole; smaller ones (labels, ids, coordinates) stay in memory
for :meth:`~.base.RealDataset.finish`."""


class Reading:
    """What reading one split found besides its samples: failures, drops, how many were tried."""

    def __init__(self) -> None:
        self.bad: list[tuple[Record, DataError]] = []
        self.dropped: list[str] = []
        self.tried = 0


def _read_safely(ds: RealDataset, record: Record) -> dict[str, np.ndarray] | DataError | SkipSample:
    try:
        return ds.read(record)
    except (DataError, SkipSample) as exc:
        return exc


def read_batches(
    ds: RealDataset, records: list[Record], cap: int | None, label: str, reading: Reading
) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
    """Read ``records`` in order until ``cap`` good samples (all when ``None``), yielding
    ``(ids, {field: (n, ...) array})`` a bounded batch at a time (memory does not grow with the split).

    Failures, drops (:class:`~.base.SkipSample`) and the number tried are recorded in ``reading``;
    a sample whose fields or shapes differ from the first sample's is a bad file.
    """
    from xaibench.progress import task

    want = len(records) if cap is None else min(cap, len(records))
    shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    good, pos, workers = 0, 0, ds.params.workers
    with ThreadPoolExecutor(max_workers=workers) as pool, task(label, want) as step:
        while pos < len(records) and good < want:
            # bounded batches: results are consumed in order, so a slow file must not pile up the rest
            batch = records[pos : pos + min(max(want - good, workers), 16 * workers)]
            pos += len(batch)
            ids: list[str] = []
            rows: list[dict[str, np.ndarray]] = []
            for record, out in zip(batch, pool.map(lambda r: _read_safely(ds, r), batch)):
                if isinstance(out, DataError):
                    reading.bad.append((record, out))
                elif isinstance(out, SkipSample):
                    reading.dropped.append(f"{record.key}: {out}")
                elif good < want:
                    if not shapes:
                        shapes = {k: (np.shape(v), np.asarray(v).dtype) for k, v in out.items()}
                    problem = _differs(out, shapes)
                    if problem:
                        reading.bad.append((record, BadFileError(record.first_path, problem)))
                        continue
                    ids.append(record.key)
                    rows.append(out)
                    good += 1
                    step()
            if rows:
                yield ids, {k: np.stack([np.asarray(r[k], dtype=dt) for r in rows]) for k, (_, dt) in shapes.items()}
    reading.tried = pos - len(reading.dropped)


def _differs(fields: dict[str, np.ndarray], shapes: dict[str, tuple[tuple[int, ...], np.dtype]]) -> str:
    if fields.keys() != shapes.keys():
        return f"fields {sorted(fields)} differ from the other samples' {sorted(shapes)}"
    for k, v in fields.items():
        if np.shape(v) != shapes[k][0]:
            return f"{k} has shape {np.shape(v)}, the other samples {shapes[k][0]}"
    return ""


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
    """Index and split ``ds``'s copy now; read it as the returned bundle's row streams are consumed
    (by the cache, a chunk at a time, or by :meth:`Bundle.collect`).  See the module docstring for
    bad files.  ``meta`` holds the counts and problems once the streams have been consumed.

    ``strict_splits``: fail when train or test ends up empty (the grid needs both).
    """
    root = ds.root()
    index = ds.index()
    if not index.records and not index.problems:
        raise ds.nothing_found(root, "samples")
    problems = list(index.problems)
    splits, split_info = assign_splits(ds, index.records, problems, index.ignored)
    index_errors = [problem_error(pr) for pr in problems]
    _raise_if_too_many(ds, index_errors, len(index.records) + len(problems), "indexed")
    absent = _absent(index.absent, split_info.get("absent"))
    if absent:
        log.warning("%s: %d ids listed in %s are not in this copy (left out, not bad samples), e.g. %s",
                    ds.name, absent["count"], absent["source"], ", ".join(absent["examples"][:3]))  # fmt: skip
    load = _Load(ds, Bundle(meta={"loader": f"{ds.name}@{ds.version}", "root": str(root)}), strict_splits,
                 split_info, absent, index_errors)  # fmt: skip
    load.bundle.streams = [RowStream(load.stream(split, ordered(splits.get(split, []), ds.params.split_seed, split)),
                                     prefix=split) for split in SPLITS]  # fmt: skip
    return load.bundle


class _Load:
    """The state of one load across its splits' streams; the last split's stream ends the load
    (small fields into the bundle, :meth:`~.base.RealDataset.finish`, the meta)."""

    def __init__(self, ds: RealDataset, bundle: Bundle, strict_splits: bool, split_info: dict[str, Any],
                 absent: dict[str, Any], index_errors: list[DataError]) -> None:  # fmt: skip
        self.ds, self.bundle, self.strict, self.split_info, self.absent = ds, bundle, strict_splits, split_info, absent
        self.named = _warn_skipped(ds, index_errors)
        self.skipped = [{"path": e.path, "reason": e.message, "kind": problem_kind(e)} for e in index_errors]
        self.small: dict[str, dict[str, np.ndarray]] = {}
        self.counts: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def stream(self, split: str, records: list[Record]) -> Iterator[dict[str, np.ndarray]]:
        """The large fields of ``split``'s samples, a batch at a time; the small ones are kept."""
        ds = self.ds
        for r in records:
            r.extra["split"] = split
        reading = Reading()
        small: dict[str, list[np.ndarray]] = {}
        large: set[str] | None = None
        for ids, arrays in read_batches(ds, records, ds.params.cap(split), f"{ds.name} {split}", reading):
            keep = ds.screen(split, ids, arrays)
            if keep is not None:
                arrays = {k: v[keep] for k, v in arrays.items()}
                ids = [i for i, kept in zip(ids, keep) if kept]
            if large is None:
                large = {k for k, v in arrays.items() if int(np.prod(v.shape[1:])) * v.itemsize >= STREAM_ROW_BYTES}
            for k, v in arrays.items():
                if k not in large:
                    small.setdefault(k, []).append(v)
            small.setdefault("id", []).append(np.array(ids))
            if large and ids:
                yield {k: arrays[k] for k in sorted(large)}
        self._ended(split, reading, {k: np.concatenate(v) for k, v in small.items()})
        if split == SPLITS[-1]:
            self._finish()

    def _ended(self, split: str, reading: Reading, small: dict[str, np.ndarray]) -> None:
        ds = self.ds
        if reading.dropped:
            self.dropped[split] = len(reading.dropped)
            log.info("%s: dropped %d %s samples the task cannot use, e.g. %s",
                     ds.name, len(reading.dropped), split, reading.dropped[0])  # fmt: skip
        errors = [e for _, e in reading.bad]
        _raise_if_too_many(ds, errors, reading.tried, f"read in split {split!r}")
        self.named += _warn_skipped(ds, errors, self.named)
        self.skipped.extend({"path": e.path, "reason": e.message, "kind": problem_kind(e)} for e in errors)
        n = len(small.get("id", ()))
        self.counts[split] = n
        if n:
            self.small[split] = small

    def _finish(self) -> None:
        ds, absent, info = self.ds, self.absent, self.split_info
        if self.strict:
            for split in ("train", "test"):
                if not self.counts[split]:
                    hint = (f"; {absent['count']} ids listed in {absent['source']} are not in this copy, "
                            f"e.g. {', '.join(absent['examples'][:3])}" if absent else "")  # fmt: skip
                    raise EmptyDataError(ds.root(), f"split {split!r} is empty after splitting ({info['rule']}{hint}); "
                                         "check split_files / fractions")  # fmt: skip
        if self.skipped:
            log.warning("%s: skipped %d bad samples (max_bad_fraction %g)", ds.name, len(self.skipped),
                        ds.params.max_bad_fraction)  # fmt: skip
        meta = self.bundle.meta
        meta.update({
            "counts": self.counts,
            "split_rule": info.get("rule", ""),
            "unlisted": info.get("unlisted", 0),
            "absent": absent,
            "skipped": self.skipped[:1000],
            "n_skipped": len(self.skipped),
            "problem_kinds": tally_problems(self.skipped),
            "dropped": self.dropped,
        })  # fmt: skip
        ds.finish(self.small, meta)
        for split, fields in self.small.items():
            for k, v in fields.items():
                self.bundle.arrays[f"{split}/{k}"] = v


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
