"""Plugin discovery: entry points of the ``xaibench`` group -> pluggy -> the catalog.

A :class:`PluginSession` is made once, at the command line's entry (or by a test or a
notebook), and passed explicitly to everything below it: planning, the stage runner,
executors and their workers.  There is no process-wide session.

Built-in plugins (under ``plugins/``) are loaded through the very same entry-point
group as third-party ones; the core imports none of them.  When the installed
distribution's entry points are missing or stale (a source checkout installed long ago),
the built-ins named in :data:`xaibench.builtins.BUILTIN_PLUGINS` are imported by module.
"""

from __future__ import annotations

import importlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .builtins import BUILTIN_PLUGINS
from .catalog import Catalog, ComponentClash
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


@dataclass(frozen=True)
class SessionDescription:
    """What a worker process needs to rebuild a session: whether installed plugins load, which
    are disabled, and the plugins added in-process (a module name, or the plugin object itself,
    which must then be picklable)."""

    load_installed: bool
    disabled: frozenset[str]
    added: tuple[tuple[str, Any], ...]
    token: str


class PluginSession:
    """Loaded plugins, their hook implementations and the component catalog.

    ``load_entry_points=False`` gives an empty session (for tests); :meth:`add` registers a
    plugin in-process.  A session pickles as its :class:`SessionDescription` and is rebuilt
    on the other side, so pool and Ray workers see in-process plugins too.
    """

    def __init__(self, *, load_entry_points: bool = True, disabled: set[str] | None = None) -> None:
        self.pm = pluggy.PluginManager("xaibench")
        self.pm.add_hookspecs(hookspecs)
        self.pm.hook.register_hookspecs.call_historic(kwargs={"register": self.pm.add_hookspecs})
        self.plugins: dict[str, PluginInfo] = {}
        self.disabled = set(disabled) if disabled is not None else disabled_from_env()
        self.load_entry_points = load_entry_points
        self.token = uuid.uuid4().hex
        self._added: dict[str, Any] = {}
        self._catalog: Catalog | None = None
        if load_entry_points:
            self._load_installed()

    # -- loading -----------------------------------------------------------
    def _load_installed(self) -> None:
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        for name in sorted(set(found) | set(BUILTIN_PLUGINS)):
            ep = found.get(name)
            if ep is None:  # a built-in the installed metadata does not know (yet)
                ep = EntryPoint(name, BUILTIN_PLUGINS[name], ENTRY_POINT_GROUP)
            self._load_entry_point(ep)

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
            plugin = ep.load()
        except ImportError as exc:
            builtin = BUILTIN_PLUGINS.get(ep.name)
            if builtin is None or builtin == ep.value:
                return self._failed(ep, info, exc)
            try:  # a stale entry point of a built-in (the module moved since the install)
                plugin, info.module = importlib.import_module(builtin), builtin
            except Exception as exc2:
                return self._failed(ep, info, exc2)
        except Exception as exc:  # any import-time failure must not stop the other plugins
            return self._failed(ep, info, exc)
        try:
            self._register(plugin, ep.name, info)
        except Exception as exc:
            self._failed(ep, info, exc)

    def _failed(self, ep: EntryPoint, info: PluginInfo, exc: BaseException) -> None:
        """Record why a plugin failed to load; the others still load."""
        info.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.plugins[ep.name] = info
        log.warning("plugin %r (entry point %s = %s, distribution %s %s) failed to load: %s",
                    ep.name, ep.name, ep.value, info.distribution, info.version, info.error)

    def add(self, plugin: ModuleType | Any, name: str | None = None) -> str:
        """Register ``plugin`` (a module or an object with hook implementations) in-process.

        It travels with the session to worker processes: a module by name, an object by
        pickling (define its classes at module level).
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.disabled:
            return name
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        self._register(plugin, name, info)
        self._added[name] = plugin.__name__ if isinstance(plugin, ModuleType) else plugin
        return name

    def _register(self, plugin: Any, name: str, info: PluginInfo) -> None:
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()  # a misspelled hook (register_metric) is an error, not silence
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin, name=name)
            raise PluginError(f"plugin {name!r}: {exc}".splitlines()[0]) from None
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.plugins[name] = info
        self._catalog = None

    def remove(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.plugins.pop(name, None)
        self._added.pop(name, None)
        self._catalog = None

    # -- travelling to workers -----------------------------------------------
    def description(self) -> SessionDescription:
        return SessionDescription(self.load_entry_points, frozenset(self.disabled), tuple(self._added.items()),
                                  self.token)

    @classmethod
    def rebuild(cls, description: SessionDescription) -> PluginSession:
        session = cls(load_entry_points=description.load_installed, disabled=set(description.disabled))
        for name, plugin in description.added:
            obj = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
            if session.pm.get_plugin(name) is None and not session.pm.is_registered(obj):  # not installed here too
                session.add(obj, name=name)
        session.token = description.token
        return session

    def __reduce__(self) -> tuple[Any, ...]:
        return (PluginSession.rebuild, (self.description(),))

    # -- the catalog -------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self._build_catalog()
        return self._catalog

    def _build_catalog(self) -> Catalog:
        """The catalog; of two plugins registering one name, the later one (a third party's rather
        than a built-in) is disabled with a warning naming both, and the others still load."""
        while True:
            try:
                return self._collect()
            except ComponentClash as clash:
                loser = clash.first if clash.second in BUILTIN_PLUGINS and clash.first not in BUILTIN_PLUGINS \
                    else clash.second
                if self.pm.get_plugin(loser) is None:
                    raise
                self.pm.unregister(name=loser)
                self._added.pop(loser, None)
                info = self.plugins.setdefault(loser, PluginInfo(name=loser, module=""))
                info.error = f"disabled: {clash}"
                keep = clash.first if loser == clash.second else clash.second
                log.warning("plugin %r disabled: %s; to use %r's instead, set %s=%s", loser, clash, loser,
                            DISABLE_ENV, keep)

    def _collect(self) -> Catalog:
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
