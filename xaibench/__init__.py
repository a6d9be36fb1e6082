"""xaibench: a plugin-based benchmark for attribution methods on Earth-observation models.

The core package imports no plugin. Plugins implement the hooks in
:mod:`xaibench.hookspecs` with the :data:`hookimpl` marker and are found through
the ``xaibench`` entry-point group.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("xaibench")
"""Marker for plugin hook implementations: ``@hookimpl def register_metrics(register): ...``."""

__all__ = ["__version__", "hookimpl"]
