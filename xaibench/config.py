"""registry.yaml: loading, strict validation (every problem at once), the typed result.

A registry declares named instances (alias -> component + params) of each kind,
plus seeds, layers, filters, tracking, executor and cache settings::

    experiment: harmonization
    seeds: [0, 1, 2]
    layers: [deep]
    datasets:
      landcover: {component: synth-landcover, params: {n_train: 256}}
    models:
      uhnet: uh-net                       # shorthand: alias -> component name
    attributions:
      gradcam: {}                         # component defaults to the alias
    postprocessors: {none: {}, harmonize: {params: {k: 100}}}
    metrics: {pearson: pearson-similarity}
    exclude: [{model: uhnet, attribution: lrp}]
    tracking: {component: mlflow, uri: "sqlite:///mlflow.db"}
    executor: {component: local}
    limits: {stage_seconds: 3600, attribution_mb: 4096}   # see xaibench.limits
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .catalog import Catalog, describe_validation_error, unknown_message
from .errors import ConfigError
from .limits import Limits, parse_limits
from .registry_rules import check_registry
from .yamlsafe import YamlProblem, read_yaml

GRID_SECTIONS = {
    "datasets": "dataset",
    "models": "model",
    "attributions": "attribution",
    "postprocessors": "postprocessor",
    "metrics": "metric",
}
SINGLETONS = {"tracking": ("tracker", "mlflow"), "executor": ("executor", "local")}
SCALARS = {"experiment", "seeds", "layers", "exclude", "only", "cache", "results", "memory_budget_mb", "description", "limits"}
TOP_LEVEL = set(GRID_SECTIONS) | set(SINGLETONS) | SCALARS
FILTER_KEYS = ("dataset", "model", "seed", "layer", "attribution", "postprocessor", "metric")


@dataclass(frozen=True)
class ComponentRef:
    """An alias bound to a registered component and its validated params (defaults filled in)."""

    kind: str
    alias: str
    name: str
    params: dict[str, Any]
    version: str = "1"
    plugin: str = ""
    fingerprint: str | None = None

    def identity(self) -> dict[str, Any]:
        """What a cache key needs to know about this component (the alias is not part of it)."""
        ident = {"kind": self.kind, "name": self.name, "version": self.version, "params": self.params}
        if self.fingerprint:
            ident["fingerprint"] = self.fingerprint
        return ident


Filter = dict[str, set[str]]


@dataclass
class RegistryConfig:
    path: Path
    experiment: str
    seeds: list[int]
    layers: list[str]
    components: dict[str, dict[str, ComponentRef]]
    tracking: ComponentRef
    executor: ComponentRef
    exclude: list[Filter] = field(default_factory=list)
    only: list[Filter] = field(default_factory=list)
    cache: str = ".xaibench/cache"
    results: str = "results"
    memory_budget_mb: int = 2048
    limits: Limits = field(default_factory=Limits)
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)
    """Line of each dotted key in the file, for messages."""

    def of(self, kind: str) -> dict[str, ComponentRef]:
        return self.components[kind]


# -- YAML with positions and duplicate-key detection ------------------------------
def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int], problems: list[tuple[tuple, str]]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append((path + (key,), f"duplicate key {key!r} (line {key_node.start_mark.line + 1})"))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, problems)


class _Problems:
    def __init__(self, filename: str, lines: dict[tuple, int]):
        self.filename, self.lines, self.items = filename, lines, []

    def add(self, path: tuple, message: str) -> None:
        dotted = ".".join(str(p) for p in path)
        line = self._line(path)
        where = f"{self.filename}:{line}" if line else self.filename
        self.items.append(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")

    def _line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def load_registry(path: str | Path, catalog: Catalog, only: list[str] | None = None) -> RegistryConfig:
    """Parse and validate ``path`` against the loaded components; raise ConfigError listing all problems.

    ``only`` holds ``KEY=VALUE`` strings from the command line (AND-ed with the file's ``only``).
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise ConfigError([f"{name}: file not found"])
    if path.is_dir():
        raise ConfigError([f"{name}: is a directory, expected a registry YAML file"])
    try:
        node, data = read_yaml(path)
    except YamlProblem as exc:
        where = f"{name}:{exc.line}:{exc.column}" if exc.column else f"{name}:{exc.line}" if exc.line else name
        raise ConfigError([f"{where}: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    lines: dict[tuple, int] = {}
    dup: list[tuple[tuple, str]] = []
    if node is not None:
        _walk(node, (), lines, dup)
    problems = _Problems(name, lines)
    for p, msg in dup:
        problems.add(p, msg)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}: expected a mapping at the top level, got {type(data).__name__}"])
    cfg = _validate(data, catalog, problems, path, only or [])
    if problems.items:
        raise ConfigError(problems.items)
    assert cfg is not None
    return cfg


def _validate(data: dict, catalog: Catalog, problems: _Problems, path: Path, cli_only: list[str]) -> RegistryConfig | None:
    for key in data:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), sorted(TOP_LEVEL), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(TOP_LEVEL))})"
            problems.add((key,), f"unknown top-level key.{hint}")

    experiment = data.get("experiment", path.stem)
    if not isinstance(experiment, str) or not experiment.strip():
        problems.add(("experiment",), "must be a non-empty string")
        experiment = path.stem
    seeds = _int_list(data.get("seeds", [0]), ("seeds",), problems)
    layers = _str_list(data.get("layers", ["input"]), ("layers",), problems)

    components: dict[str, dict[str, ComponentRef]] = {}
    for section, kind in GRID_SECTIONS.items():
        components[kind] = {}
        raw = data.get(section) or {}
        if not isinstance(raw, dict):
            problems.add((section,), f"expected a mapping of alias -> {kind}, got {type(raw).__name__}")
            continue
        for alias, spec in raw.items():
            ref = _component(kind, str(alias), spec, (section, alias), catalog, problems)
            if ref is not None:
                components[kind][str(alias)] = ref
    for section in ("datasets", "models"):
        if not data.get(section):
            problems.add((section,), f"the grid is empty: no {section} declared")
    if data.get("attributions") and not data.get("metrics"):
        problems.add(("attributions",), "no metrics declared: attributions would be computed but never evaluated")

    singles = {}
    for section, (kind, default) in SINGLETONS.items():
        raw = data.get(section) or {}
        if not isinstance(raw, dict):
            problems.add((section,), f"expected a mapping, got {type(raw).__name__}")
            raw = {}
        raw = dict(raw)
        comp = raw.pop("component", default)
        singles[section] = _component(kind, section, {"component": comp, "params": raw}, (section,), catalog, problems, inline=True)

    aliases = {kind: set(refs) for kind, refs in components.items()}
    aliases["seed"] = {str(s) for s in seeds}
    aliases["layer"] = set(layers)
    exclude = _filters(data.get("exclude", []), ("exclude",), aliases, problems)
    only = _filters(data.get("only", []), ("only",), aliases, problems)
    if cli_only:
        entry: Filter = {}
        for item in cli_only:
            key, sep, value = item.partition("=")
            if not sep or key not in FILTER_KEYS:
                problems.add(("--only",), f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}")
                continue
            if value not in aliases[key]:
                problems.add(("--only",), f"{item!r}: no {key} {value!r} in this registry (known: {', '.join(sorted(aliases[key]))})")
            entry.setdefault(key, set()).add(value)
        if entry:
            only = [{**f, **entry} for f in only] if only else [entry]

    memory = data.get("memory_budget_mb", 2048)
    if not isinstance(memory, int) or isinstance(memory, bool) or memory <= 0:
        problems.add(("memory_budget_mb",), f"must be a positive integer (got {memory!r})")
        memory = 2048
    limits = parse_limits(data.get("limits"), problems.add)
    check_registry(data, experiment, seeds, problems.add, GRID_SECTIONS)
    for key in ("cache", "results"):
        if key in data and not isinstance(data[key], str):
            problems.add((key,), "must be a path string")
    if problems.items or any(v is None for v in singles.values()):
        return None
    return RegistryConfig(
        path=path,
        experiment=experiment.strip(),
        seeds=seeds,
        layers=layers,
        components=components,
        tracking=singles["tracking"],
        executor=singles["executor"],
        exclude=exclude,
        only=only,
        cache=_absolute(data.get("cache", ".xaibench/cache")),
        results=data.get("results", "results"),
        memory_budget_mb=memory,
        limits=limits,
        lines=problems.lines,
    )


def _component(kind: str, alias: str, spec: Any, where: tuple, catalog: Catalog, problems: _Problems,
               inline: bool = False) -> ComponentRef | None:
    if spec is None:
        spec = {}
    if isinstance(spec, str):
        spec = {"component": spec}
    if not isinstance(spec, dict):
        problems.add(where, f"expected a component name or a mapping with 'component' and 'params', got {type(spec).__name__}")
        return None
    extra = set(spec) - {"component", "params"}
    if extra:
        problems.add(where + (sorted(extra)[0],), "unknown key (known: component, params)")
    name = spec.get("component", alias)
    params = spec.get("params") or {}
    if not isinstance(name, str):
        problems.add(where + ("component",), "must be a string")
        return None
    if not isinstance(params, dict):
        problems.add(where + ("params",), f"expected a mapping, got {type(params).__name__}")
        return None
    try:
        entry = catalog.get(kind, name)
    except KeyError as exc:
        loc = where + ("component",) if ("component" in spec and not inline) else where
        problems.add(loc, exc.args[0])
        return None
    try:
        validated = catalog.validate(kind, name, params)
    except ValidationError as exc:
        base = where if inline else where + ("params",)
        for loc, msg in describe_validation_error(exc, entry.cls.Params):
            problems.add(base + tuple(loc.split(".")), msg)
        return None
    try:
        fingerprint = entry.cls(validated).fingerprint()
    except Exception as exc:  # a file it reads is missing or unreadable: say so here, in one line
        problems.add(where, f"{kind} {name!r}: {type(exc).__name__}: {exc}".splitlines()[0])
        return None
    return ComponentRef(kind, alias, name, validated.model_dump(mode="json"), entry.cls.version, entry.plugin, fingerprint)


def _absolute(location: str) -> str:
    """Local paths become absolute (workers of a distributed executor run elsewhere); URLs stay."""
    return location if "://" in location else str(Path(location).resolve())


def _int_list(value: Any, where: tuple, problems: _Problems) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        problems.add(where, f"expected a non-empty list of integers, got {value!r}")
        return [0]
    if len(set(value)) != len(value):
        problems.add(where, f"duplicate values in {value!r}")
    return list(dict.fromkeys(value))


def _str_list(value: Any, where: tuple, problems: _Problems) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.add(where, f"expected a non-empty list of names, got {value!r}")
        return ["input"]
    return list(dict.fromkeys(value))


def _filters(value: Any, where: tuple, aliases: dict[str, set[str]], problems: _Problems) -> list[Filter]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        problems.add(where, "expected a list of mappings such as {model: vgg, attribution: lrp}")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not item:
            problems.add(where + (i,), "expected a non-empty mapping such as {model: vgg, attribution: lrp}")
            continue
        entry: Filter = {}
        for key, vals in item.items():
            if key not in FILTER_KEYS:
                problems.add(where + (i, key), f"unknown filter key (known: {', '.join(FILTER_KEYS)})")
                continue
            vals = vals if isinstance(vals, list) else [vals]
            entry[key] = {str(v) for v in vals}
            for v in entry[key]:
                if v not in aliases[key]:
                    problems.add(where + (i, key), unknown_message(key, v, sorted(aliases[key])) + " (not declared in this registry)")
        out.append(entry)
    return out
