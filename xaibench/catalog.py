"""The catalog: every component the loaded plugins registered, by kind and name."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .components import KINDS, Component
from .errors import PluginError


class ComponentClash(PluginError):
    """Two plugins registered one kind and name: ``first`` registered it, then ``second``."""

    def __init__(self, message: str, first: str, second: str) -> None:
        super().__init__(message)
        self.first, self.second = first, second


@dataclass(frozen=True)
class Entry:
    """A registered component class and the plugin that registered it."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str


@dataclass
class Catalog:
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, kind: str, cls: type, plugin: str, name: str | None = None) -> None:
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"plugin {plugin!r}: register_{kind}s got {cls!r}, expected a subclass of {base.__name__}")
        name = name or cls.name
        if not name:
            raise PluginError(f"plugin {plugin!r}: {cls.__name__} has no name (set the class attribute `name`)")
        existing = self.entries[kind].get(name)
        if existing is not None and existing.cls is not cls:
            raise ComponentClash(
                f"{kind} {name!r} is registered twice: by plugin {existing.plugin!r} ({existing.cls.__module__}."
                f"{existing.cls.__qualname__}) and by plugin {plugin!r} ({cls.__module__}.{cls.__qualname__})",
                existing.plugin, plugin)
        self.entries[kind][name] = Entry(kind, name, cls, plugin)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            raise KeyError(unknown_message(kind, name, self.names(kind))) from None

    def validate(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Any:
        """``name``'s validated Params (raises ValidationError).  Validators see this catalog as
        ``info.context["catalog"]``, to check names of other components (a kNN backend)."""
        entry = self.get(kind, name)
        return entry.cls.Params.model_validate(params or {}, context={"catalog": self})

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
        """Instantiate ``name`` with validated ``params`` (raises ValidationError on bad params);
        the component's ``catalog`` is this catalog."""
        component = self.get(kind, name).cls(self.validate(kind, name, params))
        component.catalog = self
        return component


def unknown_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else f" (known: {', '.join(known) or 'none'})"
    return f"unknown {kind} {name!r}.{hint}"


def describe_validation_error(exc: ValidationError, params_cls: type) -> list[tuple[str, str]]:
    """(dotted location, message) pairs for a pydantic error on a component's Params."""
    known = ", ".join(params_cls.model_fields) or "none"
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            out.append((loc, f"unknown parameter (known: {known})"))
        elif err["type"] == "missing":
            out.append((loc, "missing required parameter"))
        else:
            out.append((loc, f"{err['msg']} (got {err.get('input')!r})"))
    return out
