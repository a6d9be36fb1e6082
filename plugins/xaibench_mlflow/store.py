"""What keeps one tracking store consistent when several invocations share it, and usable when it
is briefly unavailable.

- :func:`store_lock`: an exclusive ``flock`` on ``<db>.lock`` beside a SQLite store, held while
  the schema is created or migrated (MLflow's migration is not safe when two processes run it at
  once) and while a combination is claimed and logged, so that concurrent invocations on one
  store never create two runs for one combination.  Other stores (an HTTP server) get no lock:
  their duplicates are reconciled by the next invocation (see the tracker's ``_search_units``).
- :func:`retrying`: a store call retried with exponential back-off while it fails (a locked
  SQLite file, a restarting server), for up to ``patience`` seconds.
- :func:`reachable`: why a store cannot be used, in one line, within a few seconds (``validate``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

log = logging.getLogger("xaibench")
T = TypeVar("T")


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Exclusive across processes for a SQLite store (a no-op for other stores)."""
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(db) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def retrying(fn: Callable[[], T], what: str, patience: float = 180.0, first: float = 0.5) -> T:
    """``fn()``, retried with back-off (``first``, doubling, at most 15 s apart) while it raises,
    for up to ``patience`` seconds; then the last error is raised."""
    deadline, delay = time.monotonic() + patience, first
    while True:
        try:
            return fn()
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("tracking store: %s failed (%s); retrying in %.1f s", what,
                        f"{type(exc).__name__}: {exc}".splitlines()[0][:200], delay)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def reachable(uri: str, timeout: float = 5.0) -> str | None:
    """Why the store at ``uri`` cannot be used (one line), or ``None``."""
    db = sqlite_path(uri)
    if db is not None:
        return _sqlite_problem(db)
    if uri.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):  # noqa: S310 -- the user's store
                return None
        except urllib.error.HTTPError as exc:
            return f"the server answered {exc.code} {exc.reason} at /health"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"cannot connect within {timeout:g} s: {reason}"
    if uri.startswith(("file:", "databricks", "postgresql", "mysql", "mssql")) or "://" not in uri:
        return None  # stores MLflow knows that need their own credentials: checked when opened
    return f"unknown tracking URI scheme {uri.split('://')[0]!r} (use sqlite:///FILE or http(s)://HOST)"


def _sqlite_problem(db: Path) -> str | None:
    import sqlite3

    if db.exists():
        if not db.is_file():
            return f"{db} is not a file"
        if not os.access(db, os.R_OK | os.W_OK):
            return f"{db} is not writable"
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)) as con:
                con.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            return f"{db} is not a usable SQLite database ({exc})"
        return None
    parent = db.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create {db}: {parent} is not a writable directory"
    return None
