"""The studies' model-level metrics, registered through the xaibench entry-point group.

Only light modules are imported here; torch, sklearn and tslearn load when a metric runs.
"""

from __future__ import annotations

from xaibench import hookimpl

from .bioclim import AuxShuffle, Efficiency, Generalization
from .csp import Csp
from .shape import Shape
from .shortcut import ShortcutCheck

METRICS = (Shape, Generalization, AuxShuffle, Efficiency, Csp, ShortcutCheck)


@hookimpl
def register_metrics(register):
    for metric in METRICS:
        register(metric)


@hookimpl(optionalhook=True)  # the report plugin's hook: loads whether or not that plugin is installed
def register_report_sections(register):
    from .report_sections import SECTIONS

    for s in SECTIONS:
        register(s)
