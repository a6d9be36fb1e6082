"""The report plugin's own hook, declared through ``register_hookspecs``.

Other plugins implement it for the components they ship, marked
``@hookimpl(optionalhook=True)`` so that they load whether or not this plugin is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .sections import Section

hookspec = pluggy.HookspecMarker("xaibench")


@hookspec
def register_report_sections(register: Callable[[Section], None]) -> None:
    """Add sections to ``xaibench report``: ``register(section)`` with a
    :class:`xaibench_report.sections.Section` (made with the ``@section`` decorator)."""
