"""What a conformance check returns or raises: the list of checks run, skipped and failed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Failure:
    """One broken rule: ``check`` names it, ``message`` says what happened, ``fix`` what to change."""

    check: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}" + (f"\n      fix: {self.fix}" if self.fix else "")


class ConformanceError(AssertionError):
    """A component breaks the xaibench contract; the message lists every failure with its fix.

    It subclasses ``AssertionError`` so pytest reports it as a test failure.
    """

    def __init__(self, component: str, failures: list[Failure]) -> None:
        self.component = component
        self.failures = list(failures)
        lines = [f"{component} fails {len(self.failures)} conformance check(s):"]
        lines += [f"  - {f}" for f in self.failures]
        super().__init__("\n".join(lines))


class _StopCheck(Exception):
    """Raised by :meth:`ConformanceReport.require` to abandon the rest of a check."""


@dataclass
class ConformanceReport:
    """Outcome of a conformance check.  ``passed``/``skipped`` name checks (skipped with why)."""

    component: str
    passed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def ok(self, check: str) -> None:
        self.passed.append(check)

    def skip(self, check: str, why: str) -> None:
        self.skipped.append((check, why))

    def fail(self, check: str, message: str, fix: str = "") -> None:
        self.failures.append(Failure(check, message, fix))

    def expect(self, condition: bool, check: str, message: str, fix: str = "") -> bool:
        """Record ``check`` as passed when ``condition`` holds, else as failed; return ``condition``."""
        if condition:
            self.ok(check)
        else:
            self.fail(check, message, fix)
        return bool(condition)

    def require(self, condition: bool, check: str, message: str, fix: str = "") -> None:
        """Like :meth:`expect`, but a failure abandons the enclosing :meth:`step`."""
        if not self.expect(condition, check, message, fix):
            raise _StopCheck

    @contextlib.contextmanager
    def step(self, check: str, fix: str = "") -> Iterator[None]:
        """Run a block calling the component; an exception it raises becomes a failure of ``check``."""
        try:
            yield
        except _StopCheck:
            pass
        except ConformanceError:
            raise
        except Exception as exc:
            where = _plugin_frame(exc)
            self.fail(check, f"raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                      + (f" (at {where})" if where else ""), fix)

    def raise_if_failed(self) -> ConformanceReport:
        if self.failures:
            raise ConformanceError(self.component, self.failures)
        return self

    def summary(self) -> str:
        return (f"{self.component}: {len(self.passed)} checks passed, {len(self.skipped)} skipped, "
                f"{len(self.failures)} failed")


def _plugin_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost frame outside xaibench.testing (where the component raised)."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "xaibench/testing" not in f.filename.replace("\\", "/")]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename}:{f.lineno}"
