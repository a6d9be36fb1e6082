"""A clean stop on SIGTERM and SIGINT: the signal becomes an exception in the main thread.

A batch scheduler's stop or ``kill`` sends SIGTERM, whose default action ends the process
on the spot: no line says why, and the tracker's runs stay ``RUNNING``.  Inside
:func:`stop_on_signals` (installed by the command line around a grid) both signals raise
:class:`Interrupted` instead, so ``finally`` blocks run: the stage in flight is abandoned
(the cache writes through a temp file that is removed, so no torn entry), the tracker
marks the runs of started combinations ``KILLED`` and the command exits ``128 + signal``
(143 for SIGTERM, 130 for SIGINT).  A second signal during that cleanup gets the default
action (a hard stop), so a stuck cleanup can still be ended.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)

REPEAT_S = 2.0
"""Seconds after a stop within which another SIGTERM or SIGINT counts as the same stop."""


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal.  A ``KeyboardInterrupt``, so that ``except Exception`` never
    swallows it and code that already cleans up after Ctrl-C does so here too."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        super().__init__(self.name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal."""
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`Interrupted` in the main thread while the block runs
    (a no-op outside the main thread, where Python cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    stopping: list[float] = []  # when the stop began (a list: the handler writes it)

    def handle(signum: int, frame: FrameType | None) -> None:
        if stopping and time.monotonic() - stopping[0] < REPEAT_S:
            return  # the same stop, delivered twice
        if stopping:  # a second stop: end the cleanup itself
            for s in SIGNALS:
                signal.signal(s, signal.SIG_DFL if s == signal.SIGTERM else signal.default_int_handler)
            if signum == signal.SIGTERM:
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        stopping.append(time.monotonic())
        raise Interrupted(signum)

    for s in SIGNALS:
        signal.signal(s, handle)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
