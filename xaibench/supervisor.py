"""``xaibench run`` as a supervised child, so a crash in a plugin's C code fails only its stage.

A segfault (or abort, bus error, the kernel's OOM kill) ends the process it happens in; under the
``local`` executor that is the process running the grid.  So the command line runs the grid in a
child process (:func:`supervise`) and waits.  The child's :class:`~xaibench.stages.runner.StageRunner`
writes the stage it is computing to a :class:`CrashJournal` before computing it and clears it
after.  When the child dies by one of :data:`CRASH_SIGNALS` with a stage in flight, the parent
marks that stage crashed, prints one line and starts the child again with the same arguments:
the runner fails a marked stage at once with the reason, and the rest of the grid resumes from
the cache.  Each restart marks a new stage, so there are at most as many restarts as stages.

The journal is a private temporary directory made by the parent and removed when it exits (or,
when it was killed, by the same user's next ``xaibench run``): a crash marker holds for this
invocation only, and the next ``xaibench run`` retries the stage (a crash may be transient:
memory pressure, a driver).  SIGINT and SIGTERM sent to the parent are
forwarded to the child, whose clean stop (:mod:`xaibench.interrupts`) decides the exit code; the
child dies with the parent (``PR_SET_PDEATHSIG``, Linux), so ``kill -9`` still ends the command.
Stages computed in other processes (``process-pool`` workers) are not journaled: their crashes do
not end the grid's process, and their executor handles them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

JOURNAL_ENV = "XAIBENCH_CRASH_JOURNAL"
"""The environment variable by which the parent tells the child where its journal is."""

CRASH_SIGNALS = frozenset(getattr(signal, name) for name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE", "SIGILL",
                                                            "SIGSYS", "SIGKILL") if hasattr(signal, name))
"""A death by one of these while a stage is in flight is that stage's crash (SIGKILL: the OOM killer);
any other signal (SIGHUP, SIGPIPE, a forwarded SIGTERM...) stops the command."""

FORWARDED = (signal.SIGINT, signal.SIGTERM)


class CrashJournal:
    """Stages in flight and stages that crashed, as small files in ``directory``.

    ``inflight-<thread>.json`` holds ``{"key", "label"}`` while a thread computes a stage;
    ``crashed-<key>.json`` holds ``{"label", "signal"}`` once the parent found it in flight at a crash.
    Every write is a rename of a complete temporary file, so a crash never leaves a torn one.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @contextlib.contextmanager
    def in_flight(self, key: str, label: str) -> Iterator[None]:
        """Record ``key`` as being computed by this thread while the block runs (best effort: a
        journal that cannot be written leaves the stage unrecorded, as without a supervisor)."""
        path = self.directory / f"inflight-{threading.get_ident()}.json"
        with contextlib.suppress(OSError):
            self._write(path, {"key": key, "label": label})
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def crash(self, key: str) -> str | None:
        """The one-line failure of ``key`` if it crashed the process in this invocation, else ``None``."""
        try:
            marker = json.loads((self.directory / f"crashed-{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return f"StageCrashed: the stage's code crashed the process ({marker['signal']}); the next run retries it"

    def take_in_flight(self) -> list[tuple[str, str]]:
        """The (key, label) of the stages that were in flight, forgetting them."""
        found = []
        for path in sorted(self.directory.glob("inflight-*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                entry = json.loads(path.read_text())
                found.append((str(entry["key"]), str(entry["label"])))
            with contextlib.suppress(OSError):
                path.unlink()
        return found

    def mark_crashed(self, key: str, label: str, signal_name: str) -> None:
        self._write(self.directory / f"crashed-{key}.json", {"label": label, "signal": signal_name})

    @staticmethod
    def _write(path: Path, entry: dict[str, str]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)


def supervise(command: list[str], env: Mapping[str, str], say: Callable[[str], None]) -> int:
    """Run ``command`` (a child ``xaibench run``) until it ends other than by a stage's crash;
    returns the exit code for the command line (``128 + signal`` when the child died by one)."""
    _collect_stale_journals()
    journal_dir = tempfile.mkdtemp(prefix=f"xaibench-run-{os.getpid()}-")  # private (0700), unique name
    journal = CrashJournal(journal_dir)
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        while True:
            child = subprocess.Popen(command, env={**env, JOURNAL_ENV: journal_dir},
                                     preexec_fn=_die_with_parent())
            code = child.wait()
            in_flight = journal.take_in_flight()
            if code >= 0:
                return code
            sig = signal.Signals(-code)
            if sig not in CRASH_SIGNALS:
                return 128 + sig
            if not in_flight or any(journal.crash(key) for key, _ in in_flight):
                where = "outside any stage" if not in_flight else f"again in {in_flight[0][1]}"
                say(f"the run's process was killed by {sig.name} {where}; stopping")
                return 128 + sig
            for key, label in in_flight:
                journal.mark_crashed(key, label, sig.name)
                say(f"stage {label} crashed the process ({sig.name}); it is failed and the run resumes")
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        shutil.rmtree(journal_dir, ignore_errors=True)


def _collect_stale_journals() -> None:
    """Remove this user's journals whose parent is gone (it was killed before it could remove them)."""
    for path in Path(tempfile.gettempdir()).glob("xaibench-run-*-*"):
        with contextlib.suppress(OSError, ValueError):
            if path.stat().st_uid != os.getuid():
                continue
            try:
                os.kill(int(path.name.split("-")[2]), 0)
            except ProcessLookupError:
                shutil.rmtree(path, ignore_errors=True)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed when this process dies (Linux), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:  # runs in the child between fork and exec (the parent has no other thread)
        prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(137)

    return arm
