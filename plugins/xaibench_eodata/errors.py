"""One-line errors about a user's copy of a dataset, each naming the offending path.

They subclass :class:`xaibench.errors.XaibenchError`, so the CLI prints them without a
traceback (exit code 2, like other mistakes in the user's input).
"""

from __future__ import annotations

from pathlib import Path

from xaibench.errors import XaibenchError


class DataError(XaibenchError):
    """Something is wrong with the files under a dataset's root: ``"<path>: <what>"``."""

    exit_code = 2

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class MissingDataError(DataError):
    """A root, folder or file the loader needs does not exist."""


class EmptyDataError(DataError):
    """A root that exists but holds no sample the loader recognises."""


class BadFileError(DataError):
    """A file that cannot be read, or has the wrong band count, size, dtype or values."""


class LabelError(DataError):
    """A label or metadata file that does not parse, or names an unknown class."""


class PairError(DataError):
    """A sample whose counterpart (S1 for S2, VH for VV, land cover, context for target) is missing."""


class TooManyBadSamples(DataError):
    """More samples failed than ``max_bad_fraction`` allows; names the first failure and the count."""
