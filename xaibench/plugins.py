"""Plugin discovery: entry points of the ``xaibench`` group -> pluggy -> the catalog.

Built-in plugins (under ``plugins/``) are loaded through the very same entry-point
group as third-party ones; the core imports none of them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .catalog import Catalog
from .components import KINDS
from .errors import PluginError

ENTRY_POINT_GROUP = "xaibench"
DISABLE_ENV = "XAIBENCH_DISABLE_PLUGINS"
log = logging.getLogger("xaibench")

COLLECTING_HOOKS = {f"register_{kind}s": kind for kind in KINDS}


@dataclass
class PluginInfo:
    """What ``xaibench plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


class PluginSession:
    """Loaded plugins, their hook implementations and the component catalog."""

    def __init__(self, *, load_entry_points: bool = True, disabled: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager("xaibench")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.disabled = disabled if disabled is not None else disabled_from_env()
        self._catalog: Catalog | None = None
        if load_entry_points:
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                self._load_entry_point(ep)

    # -- loading -----------------------------------------------------------
    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        if ep.name in self.disabled or (info.distribution or "") in self.disabled:
            return
        try:
            self.add(ep.load(), name=ep.name, info=info)
        except Exception as exc:  # any import-time failure must not stop the other plugins
            info.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.plugins[ep.name] = info
            log.warning(
                "plugin %r (entry point %s = %s, distribution %s %s) failed to load: %s",
                ep.name, ep.name, ep.value, info.distribution, info.version, info.error,
            )

    def add(self, plugin: ModuleType | Any, name: str | None = None, info: PluginInfo | None = None) -> str:
        """Register ``plugin`` (a module or object with hook implementations) in-process."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.disabled:
            return name
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()  # a misspelled hook (register_metric) is an error, not silence
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin, name=name)
            raise PluginError(f"plugin {name!r}: {exc}".splitlines()[0]) from None
        info = info or PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.plugins[name] = info
        self._catalog = None
        return name

    def remove(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.plugins.pop(name, None)
        self._catalog = None

    # -- the catalog -------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self._build_catalog()
        return self._catalog

    def _build_catalog(self) -> Catalog:
        catalog = Catalog()
        for info in self.plugins.values():
            info.components = {}
        for hook_name, kind in COLLECTING_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                plugin_name = impl.plugin_name
                info = self.plugins.get(plugin_name)

                def register(cls: type, name: str | None = None, _p=plugin_name, _k=kind, _i=info) -> None:
                    catalog.add(_k, cls, _p, name)
                    if _i is not None:
                        _i.components.setdefault(_k, []).append(name or cls.name)

                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    log.warning("plugin %r: %s failed: %s", plugin_name, hook_name, msg)
                    if info is not None:
                        info.error = f"{hook_name}: {msg}"
        return catalog

    def add_commands(self, cli: Any) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                log.warning("plugin %r: register_commands failed: %s", impl.plugin_name, exc)


def disabled_from_env() -> set[str]:
    return {p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()}


_session: PluginSession | None = None


def get_session() -> PluginSession:
    """The process-wide plugin session (loaded on first use)."""
    global _session
    if _session is None:
        _session = PluginSession()
    return _session


def reset_session(session: PluginSession | None = None) -> None:
    """Drop (or replace) the process-wide session; tests use it."""
    global _session
    _session = session
