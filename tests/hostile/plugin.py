"""The hostile components as an installed plugin (an entry point), for runs of the real command line."""

from __future__ import annotations

from hostile.components import CLASSES
from xaibench import hookimpl


@hookimpl
def register_attributions(register):
    for cls in CLASSES:
        if cls.kind == "attribution":
            register(cls)


@hookimpl
def register_metrics(register):
    for cls in CLASSES:
        if cls.kind == "metric":
            register(cls)
