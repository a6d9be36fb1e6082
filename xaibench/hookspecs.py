"""Hook specifications: the whole contract between xaibench and its plugins.

Every hook is documented in ``docs/plugin-hooks.md`` (a test checks that each hook
here appears there and is exercised by a test).  Collecting hooks receive a
``register`` callback, in the manner of ``simonw/llm``::

    from xaibench import hookimpl

    @hookimpl
    def register_attributions(register):
        register(MyMethod)              # name taken from MyMethod.name
        register(MyMethod, name="alias")

``register(component_class, name=None)`` adds a component class (a subclass of the
matching base in :mod:`xaibench.components`).  Two plugins that register the same
name under the same kind are an error that names both plugins.

A plugin may declare hooks of its own for other plugins to implement (the report
plugin's ``register_report_sections``) with :func:`register_hookspecs`; implementations
of such hooks are marked ``@hookimpl(optionalhook=True)``, so that they load whether or
not the declaring plugin is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from .cache import Cache

hookspec = pluggy.HookspecMarker("xaibench")

Register = Callable[..., None]


@hookspec(historic=True)
def register_hookspecs(register: Callable[[object], None]) -> None:
    """Declare this plugin's own hooks: ``register(module_or_class)`` adds the ``@hookspec``
    functions it holds (made with ``pluggy.HookspecMarker("xaibench")``).  Called once for
    each plugin as it is loaded."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset components (subclasses of :class:`xaibench.components.Dataset`)."""


@hookspec
def register_models(register: Register) -> None:
    """Register model components (subclasses of :class:`xaibench.components.Model`)."""


@hookspec
def register_attributions(register: Register) -> None:
    """Register attribution methods (subclasses of :class:`xaibench.components.AttributionMethod`)."""


@hookspec
def register_postprocessors(register: Register) -> None:
    """Register post-processors (subclasses of :class:`xaibench.components.PostProcessor`)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics (subclasses of :class:`xaibench.components.Metric`)."""


@hookspec
def register_trackers(register: Register) -> None:
    """Register experiment trackers (subclasses of :class:`xaibench.components.Tracker`)."""


@hookspec
def register_executors(register: Register) -> None:
    """Register executors (subclasses of :class:`xaibench.components.Executor`)."""


@hookspec
def register_knn_backends(register: Register) -> None:
    """Register nearest-neighbour backends (subclasses of :class:`xaibench.components.KnnBackend`)
    that feature-space post-processors such as ``harmonize`` choose by name."""


@hookspec
def unit_artifacts(unit: dict, cache: Cache, workdir: Path) -> dict[str, Path] | None:
    """Files to attach to a combination's tracked run, such as figures of its attribution maps.

    Called in the driver when a unit (a model or an attribution cell) has all its
    results.  ``unit`` is the entry of the results table's ``xaibench.units``
    metadata (``run_key``, ``kind``, ``coords``, the cache keys in ``stages`` and, in
    ``metrics``, each metric alias's ``component``, ``scope`` and ``stage`` key, whose
    entry's meta holds its ``values``) plus ``status``; ``cache`` reads those entries; write files under ``workdir``
    and return ``{relative artifact path: file}``.  Use the same relative paths for
    every unit so that the tracker's compare view shows them side by side.  A
    failure here is logged as a warning and never fails the run.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``xaibench`` click group: ``cli.add_command(cmd)``."""
