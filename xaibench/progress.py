"""Progress display: rich bars for the grid, log lines above them; silent when quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_current: GridProgress | None = None


class GridProgress:
    """A bar for the grid's stages and, for long stages that report, a bar of their own."""

    def __init__(self, console: Console, total: int, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=console, disable=quiet, transient=False,
        )
        self.grid = self.progress.add_task("stages", total=total)

    def __enter__(self) -> GridProgress:
        global _current
        self.progress.__enter__()
        _current = self
        return self

    def __exit__(self, *exc) -> None:
        global _current
        _current = None
        self.progress.__exit__(*exc)

    def advance(self, description: str | None = None) -> None:
        self.progress.update(self.grid, advance=1, description=description or "stages")


@contextmanager
def task(description: str, total: float | None) -> Iterator:
    """For components with long loops (training epochs): ``with task("train", 10) as step: step()``.

    Shows a bar under the grid's when the stage runs in the driver process; a no-op elsewhere.
    """
    if _current is None or _current.quiet:
        yield lambda n=1: None
        return
    p = _current.progress
    tid = p.add_task(description, total=total)
    try:
        yield lambda n=1: p.update(tid, advance=n)
    finally:
        p.remove_task(tid)


def setup_logging(console: Console, quiet: bool, verbose: bool = False) -> None:
    logger = logging.getLogger("xaibench")
    logger.handlers[:] = [RichHandler(console=console, show_path=False, show_time=False, markup=False)]
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
