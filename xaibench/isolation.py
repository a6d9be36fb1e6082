"""What a plugin's code may do to the process that computes its stage, and what it may not.

A stage's code runs under :func:`guarded`: it fails with :class:`StageTimeout` after its time
limit (``limits.stage_seconds``, or the component's own ``stage_seconds``), and a
``KeyboardInterrupt`` that no signal caused (a plugin raising it) is told apart from the user's
Ctrl-C, so the runner fails only that stage; ``SystemExit`` is caught by the runner likewise.

The limit is a ``SIGALRM`` timer, so it holds where stages run on a process's main thread (the
``local`` executor, ``process-pool`` workers) and interrupts Python code and the C code that
checks for signals (sleeps, torch operators between kernels); code stuck in C without returning
to Python is out of its reach.  A crash (segfault, abort, OOM kill) ends the process that
computes the stage, and still fails only that stage: ``process-pool`` reruns the stages of a lost
worker one at a time (see its executor); under ``local``, ``xaibench run`` is a supervised child
that records the stage in flight, and its parent marks that stage crashed and restarts the run,
which fails it with the reason and resumes the rest from the cache (:mod:`xaibench.supervisor`;
``main(argv)`` called from Python is not supervised).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stages.graph import Stage

COMPONENT_KEYS = ("method", "metric", "postprocessor", "model", "dataset")


class StageTimeout(BaseException):
    """A stage ran past its time limit (a BaseException, so that plugins' ``except Exception`` let it through)."""


@dataclass
class Guard:
    user_interrupt: bool = False
    """True when SIGINT arrived while the stage ran (the user's Ctrl-C, not a plugin's raise)."""


def component_of(stage: Stage) -> dict[str, Any] | None:
    """The identity of the component whose code the stage runs (the model's for ``features``)."""
    for key in COMPONENT_KEYS:
        if isinstance(stage.spec.get(key), dict):
            return stage.spec[key]
    model = stage.inputs.get("model")
    return model.spec.get("model") if model is not None else None


@contextlib.contextmanager
def guarded(seconds: float | None) -> Iterator[Guard]:
    """Run a stage's code with a time limit of ``seconds`` (``None``: none) and SIGINT watched."""
    guard = Guard()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield guard
        return
    previous_int = signal.getsignal(signal.SIGINT)

    def on_int(signum: int, frame: Any) -> None:
        guard.user_interrupt = True
        if callable(previous_int):
            previous_int(signum, frame)
        elif previous_int != signal.SIG_IGN:
            raise KeyboardInterrupt

    def on_alarm(signum: int, frame: Any) -> None:
        raise StageTimeout(f"the stage ran past its time limit of {seconds:g} s (limits.stage_seconds)")

    previous_alarm = signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGINT, on_int)
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield guard
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        signal.signal(signal.SIGINT, previous_int)
