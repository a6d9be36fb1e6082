"""What every real-dataset loader shares: index the copy, split, read in threads, skip or fail on bad files.

A loader implements two methods:

- :meth:`RealDataset.index` lists the samples (:class:`Record`) from the layout, with the
  problems found while pairing files (:class:`Problem`): cheap, no pixel read;
- :meth:`RealDataset.read` reads one sample into arrays (``x`` and per-sample fields),
  raising a :class:`~.errors.DataError` subclass that names the file when it is bad.

:func:`.loading.load_dataset` does the rest (splits, caps, threads, the bad-file policy,
stacking into a :class:`~xaibench.bundle.Bundle`).  Heavy modules (numpy, rasterio) are
imported inside methods only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import xaibench.components as xc

from .errors import EmptyDataError, MissingDataError
from .params import RealParams

if TYPE_CHECKING:
    import numpy as np

    from xaibench.bundle import Bundle


@dataclass
class Record:
    """One sample of a copy, before any pixel is read.

    ``key`` is its id (unique; the ``id`` field of the Bundle); ``split`` the official split
    when the layout defines one; samples with the same ``group`` (scene, tile) land in the
    same random split; random splits keep the proportions of ``stratum`` (class); ``aliases``
    are other ids split files may use (the Sentinel-1 name of a BigEarthNet pair).
    """

    key: str
    paths: dict[str, Path] = field(default_factory=dict)
    split: str | None = None
    group: str | None = None
    stratum: str | None = None
    aliases: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_path(self) -> Path | str:
        return next(iter(self.paths.values()), self.key)


@dataclass(frozen=True)
class Problem:
    """A sample found broken while indexing (a missing pair, an unparsable label file)."""

    path: str
    message: str
    kind: str = "pair"
    """``"pair"``, ``"label"``, ``"file"`` or ``"missing"``: the :class:`~.errors.DataError` raised if it is fatal."""
    key: str | None = None
    """The sample's id when known (so that split files listing it do not count it twice)."""


class SkipSample(Exception):
    """Raised by :meth:`RealDataset.read` for a valid sample the task cannot use (a land-cover
    patch whose pixels are all of ignored classes): dropped and counted, not a bad file."""


@dataclass
class Index:
    """The samples of a copy, the broken ones, and ids left out on purpose (``exclude_files``),
    which split files may list without it being a problem.  ``absent``: ids the layout's own
    metadata lists (BigEarthNet v2's ``metadata.parquet``) but the copy lacks, as
    :meth:`.splits.Tally.as_dict` (counted and named once, not problems: partial copies are normal)."""

    records: list[Record]
    problems: list[Problem] = field(default_factory=list)
    ignored: set[str] = field(default_factory=set)
    absent: dict[str, Any] | None = None


@dataclass(frozen=True)
class Sources:
    """What a loader reads, for :meth:`RealDataset.fingerprint`: folders walked (file names passing
    ``keep``) and single side files (split lists, metadata tables)."""

    roots: tuple[Path, ...]
    keep: Callable[[str], bool]
    side_files: tuple[str, ...] = ()


def suffix_filter(*suffixes: str) -> Callable[[str], bool]:
    """A ``keep`` predicate: file names ending (case-insensitively) with one of ``suffixes``."""
    lowered = tuple(s.lower() for s in suffixes)
    return lambda name: name.lower().endswith(lowered)


class RealDataset(xc.Dataset):
    """Base of the loaders of published Earth-observation datasets (users bring their own copy)."""

    Params: ClassVar[type[RealParams]] = RealParams
    params: RealParams
    layout: ClassVar[str] = ""
    """One line describing the expected layout, quoted by 'nothing found' errors."""

    # -- what subclasses provide ------------------------------------------------
    def index(self) -> Index:
        raise NotImplementedError

    def read(self, record: Record) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def screen(self, split: str, ids: list[str], fields: dict[str, np.ndarray]) -> np.ndarray | None:
        """Look at one batch of read samples (``(n, ...)`` arrays, all fields) before it is stored:
        add fields computed per sample in place, keep running statistics of large fields, and
        return a boolean ``(n,)`` mask of the samples to keep (``None``: all).  Called batch by
        batch, split by split, before :meth:`finish`."""
        return None

    def finish(self, splits: dict[str, dict[str, np.ndarray]], meta: dict[str, Any]) -> None:
        """Post-process the small per-sample fields of every split in place, once all are read
        (normalisation from training statistics...).  Large fields (images, masks: see
        :data:`~.loading.STREAM_ROW_BYTES`) are already stored and not in ``splits``; what
        needs them is done in :meth:`screen`."""

    def sources(self) -> Sources:
        """The folders and side files the loader reads (default: every GeoTIFF under ``root``
        and the split files); loaders with other files or several roots override it."""
        return Sources((Path(self.params.root).expanduser(),), suffix_filter(".tif", ".tiff"), self.split_side_files())

    def split_side_files(self) -> tuple[str, ...]:
        return tuple((self.params.split_files or {}).values())

    def split_group(self, sid: str) -> str | None:
        """The ``Record.group`` a split-file line names when it is not a sample id (a scene
        folder), else ``None``.  Default: lines are sample ids only."""
        return None

    # -- Dataset API --------------------------------------------------------------------
    def load(self, seed: int) -> Bundle:
        from .loading import load_dataset

        return load_dataset(self)

    def varies_with_seed(self) -> bool:
        return False  # a copy on disk; random splits and sampling use params (split_seed...), not the grid seed

    def fingerprint(self) -> str | None:
        """``"<mode>:<files>:<digest>"`` of what :meth:`sources` lists (relative paths, sizes and
        modification times; see :mod:`.fingerprint`), so that the ``data`` stage is recomputed
        when the copy changes and reused when it does not.  ``None`` when ``params.fingerprint``
        is ``off`` or ``root`` does not exist (loading then says what is missing)."""
        from .fingerprint import tree_fingerprint

        p = self.params
        if p.fingerprint == "off" or not Path(p.root).expanduser().is_dir():
            return None
        src = self.sources()
        start = time.perf_counter()
        digest, n = tree_fingerprint(src.roots, src.keep, src.side_files, p.fingerprint, f"{self.name}@{self.version}",
                                     workers=p.workers)  # fmt: skip
        took = time.perf_counter() - start
        if took > 5:
            logging.getLogger("xaibench").info(
                "%s: fingerprinted %d files in %.1f s (fingerprint: names skips the per-file stat)", self.name, n, took)
        return f"{p.fingerprint}:{n}:{digest}"

    # -- helpers --------------------------------------------------------------------
    def root(self) -> Path:
        return require_dir(self.params.root, f"{self.name} root")

    def nothing_found(self, where: Path | str, what: str) -> EmptyDataError:
        hint = f" (expected {self.layout})" if self.layout else ""
        return EmptyDataError(where, f"no {what} found{hint}")


def require_dir(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingDataError(p, f"{what} does not exist")
    if not p.is_dir():
        raise MissingDataError(p, f"{what} is not a directory")
    return p


def require_file(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingDataError(p, f"{what} does not exist" if not p.exists() else f"{what} is not a file")
    return p
