"""From a validated registry to a plan: the grid's units (tracked runs) and their stages.

Units are what a tracker records, one child run each:

- a *model unit* per (dataset, model, seed): data -> train, plus model-scope metrics;
- a *cell* per (dataset, model, seed, layer, attribution, post-processor):
  attribute -> [prepare] -> post-process -> metrics.

Group metrics (scopes ``methods``, ``postprocessors``, ``models``) are one stage whose
values are shared by the cells of their group.

Stages are shared between units wherever their keys coincide (the data of a
dataset and seed, a model's training, a layer's features, the method-independent
``prepare`` stage of a post-processor), so each is computed once.
Incompatible combinations become :class:`Skip` records with a reason, never errors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .catalog import Catalog
from .components import DatasetInfo, ModelInfo
from .config import ComponentRef, Filter, RegistryConfig
from .errors import PluginError
from .hashing import stable_hash
from .stages import Stage

COORDS = ("dataset", "model", "seed", "layer", "attribution", "postprocessor")


@dataclass
class MetricLink:
    """A metric stage whose values belong (partly) to a unit."""

    alias: str
    scope: str
    stage: Stage


@dataclass
class Unit:
    kind: str  # "model" or "cell"
    coords: dict[str, Any]
    refs: dict[str, ComponentRef]
    core: Stage
    """The stage the unit is about: training for a model unit, post-processing for a cell."""
    metrics: list[MetricLink] = field(default_factory=list)
    skipped_metrics: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        c = self.coords
        parts = [c["dataset"], c["model"], f"seed{c['seed']}"]
        if self.kind == "cell":
            parts += [c["layer"], c["attribution"], c["postprocessor"]]
        return "/".join(str(p) for p in parts)

    @property
    def key(self) -> str:
        """Stable identity of the combination: the key of the stage it is about."""
        return self.core.key

    @property
    def content(self) -> str:
        """Changes when anything logged for the unit could change (metrics included)."""
        return stable_hash([self.core.key] + sorted(f"{m.alias}:{m.stage.key}" for m in self.metrics))

    def stages(self) -> list[Stage]:
        return [self.core] + [m.stage for m in self.metrics]


@dataclass
class Skip:
    coords: dict[str, Any]
    reason: str
    metric: str | None = None


@dataclass
class Plan:
    config: RegistryConfig
    units: list[Unit]
    skipped: list[Skip]

    def stages(self) -> list[Stage]:
        """Every stage, each once, inputs before the stages that use them."""
        seen: dict[str, Stage] = {}

        def visit(stage: Stage) -> None:
            if stage.key in seen:
                return
            for dep in stage.inputs.values():
                visit(dep)
            seen[stage.key] = stage

        for unit in self.units:
            for s in unit.stages():
                visit(s)
        return list(seen.values())


def _matches(f: Filter, coords: dict[str, Any], subset: bool) -> bool:
    keys = set(f) & set(coords)
    if subset and keys != set(f):
        return False
    return all(str(coords[k]) in f[k] for k in keys)


def selected(config: RegistryConfig, coords: dict[str, Any]) -> bool:
    """``exclude`` entries apply to units that have all their keys; ``only`` entries to the keys units have."""
    if any(_matches(f, coords, subset=True) for f in config.exclude):
        return False
    return not config.only or any(_matches(f, coords, subset=False) for f in config.only)


def _missing(requires: frozenset[str], provides: frozenset[str], what: str) -> str | None:
    lacking = sorted(requires - provides)
    return f"{what} requires {', '.join(lacking)}, which this combination does not provide" if lacking else None


def _guard(ref: ComponentRef, what: str, fn, *args):
    """Call plugin code during planning; a failure names the component and its plugin in one line."""
    try:
        return fn(*args)
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise PluginError(f"{ref.kind} {ref.alias!r} (component {ref.name!r} of plugin {ref.plugin!r}): {what} raised {msg}") from exc


def build_plan(config: RegistryConfig, catalog: Catalog) -> Plan:
    units: list[Unit] = []
    skipped: list[Skip] = []
    comps = {kind: {a: _guard(r, "creating it", catalog.create, kind, r.name, r.params) for a, r in refs.items()}
             for kind, refs in config.components.items()}
    metrics_by_scope: dict[str, list[str]] = defaultdict(list)
    for alias, metric in comps["metric"].items():
        metrics_by_scope[metric.scope].append(alias)
    pp_aliases: list[str | None] = list(config.of("postprocessor")) or [None]
    by_model: dict[tuple, list[tuple[str, Unit, ModelInfo, frozenset[str]]]] = defaultdict(list)

    for d_alias, d_ref in config.of("dataset").items():
        dataset = comps["dataset"][d_alias]
        d_info: DatasetInfo = _guard(d_ref, "info()", dataset.info)
        shared_data = not _guard(d_ref, "varies_with_seed()", dataset.varies_with_seed)
        for m_alias, m_ref in config.of("model").items():
            model = comps["model"][m_alias]
            m_info: ModelInfo = _guard(m_ref, "info()", model.info, d_info)
            provides = d_info.provides | m_info.provides
            for seed in config.seeds:
                mcoords = {"dataset": d_alias, "model": m_alias, "seed": seed}
                if not selected(config, mcoords):
                    continue
                reason = _missing(model.requires, d_info.provides, f"model {m_alias!r}")
                if reason:
                    skipped.append(Skip(mcoords, reason))
                    continue
                data_seed = 0 if shared_data else seed
                data = Stage("data", {"dataset": d_ref.identity(), "seed": data_seed}, label=f"data {d_alias} seed{data_seed}")
                train = Stage("train", {"model": m_ref.identity(), "seed": seed}, {"data": data},
                              label=f"train {d_alias}/{m_alias}/seed{seed}")
                unit = Unit("model", mcoords, {"dataset": d_ref, "model": m_ref}, train)
                for alias in metrics_by_scope["model"]:
                    metric = comps["metric"][alias]
                    why = _missing(metric.requires, provides, f"metric {alias!r}") or _guard(config.of("metric")[alias], "incompatibility()", metric.incompatibility, m_info, None)
                    if not selected(config, {**mcoords, "metric": alias}):
                        continue
                    if why:
                        unit.skipped_metrics[alias] = why
                        continue
                    stage = Stage("metric", {"metric": config.of("metric")[alias].identity(), "seed": seed, "scope": "model"},
                                  {"data": data, "model": train}, label=f"{alias} {unit.name}")
                    unit.metrics.append(MetricLink(alias, "model", stage))
                units.append(unit)
                for layer in config.layers:
                    lcoords = {**mcoords, "layer": layer}
                    if not selected(config, lcoords):
                        continue
                    if layer not in m_info.layers:
                        skipped.append(Skip(lcoords, f"model {m_alias!r} has no layer {layer!r} (has: {', '.join(m_info.layers)})"))
                        continue
                    cells = _cells(config, comps, d_info, m_info, provides, data, train, lcoords, pp_aliases,
                                   metrics_by_scope, skipped)
                    for c in cells:
                        group = tuple(c.coords[k] for k in ("dataset", "seed", "layer", "attribution", "postprocessor"))
                        by_model[group].append((m_alias, c, m_info, provides))
                    units.extend(cells)
    _model_groups(config, comps, by_model, metrics_by_scope["models"])
    return Plan(config, units, skipped)


def _trained(cell: Unit) -> Stage:
    attribute = cell.core if cell.core.kind == "attribute" else cell.core.inputs["test"]
    return attribute.inputs["model"]


def _model_groups(config, comps, by_model, aliases: list[str]) -> None:
    """Scope ``models``: one stage per (dataset, seed, layer, method, post-processor) over the models."""
    for m_alias in aliases:
        metric, ref = comps["metric"][m_alias], config.of("metric")[m_alias]
        for members in by_model.values():
            members = [m for m in members if selected(config, {**m[1].coords, "metric": m_alias})]
            if len(members) < 2:
                for _, c, _, _ in members:
                    c.skipped_metrics[m_alias] = f"metric {m_alias!r} compares models and this group has only one"
                continue
            whys = {a: _missing(metric.requires, provides, f"metric {m_alias!r}")
                    or _guard(ref, "incompatibility()", metric.incompatibility, info, c.coords["layer"])
                    for a, c, info, provides in members}
            why = next((f"{w} (model {a!r})" for a, w in whys.items() if w), None)
            if why:
                for _, c, _, _ in members:
                    c.skipped_metrics[m_alias] = why
                continue
            first = members[0][1]
            data = _trained(first).inputs["data"]
            spec = {"metric": ref.identity(), "seed": first.coords["seed"], "scope": "models",
                    "layer": first.coords["layer"], "attribution": first.coords["attribution"],
                    "postprocessor": first.coords["postprocessor"]}
            inputs = {"data": data, "model": _trained(first)}
            for a, c, _, _ in members:
                inputs[f"group/{a}"] = c.core
                inputs[f"group-model/{a}"] = _trained(c)
            c0 = first.coords
            label = f"{m_alias} {c0['dataset']}/seed{c0['seed']}/{c0['layer']}/{c0['attribution']} over {len(members)} models"
            stage = Stage("metric", spec, inputs, label=label)
            for _, c, _, _ in members:
                c.metrics.append(MetricLink(m_alias, "models", stage))


def _cells(config, comps, d_info, m_info, provides, data, train, lcoords, pp_aliases, metrics_by_scope, skipped) -> list[Unit]:
    seed, layer = lcoords["seed"], lcoords["layer"]
    features: Stage | None = None
    prepared: dict[str, Stage] = {}
    cells: list[Unit] = []
    by_pp: dict[Any, list[tuple[str, Unit]]] = defaultdict(list)
    by_method: dict[str, list[tuple[Any, Unit]]] = defaultdict(list)

    for a_alias, a_ref in config.of("attribution").items():
        method = comps["attribution"][a_alias]
        acoords = {**lcoords, "attribution": a_alias}
        if not selected(config, acoords):
            continue
        why = _missing(method.requires, provides, f"attribution {a_alias!r}") or _guard(a_ref, "incompatibility()", method.incompatibility, m_info, layer)
        if why:
            skipped.append(Skip(acoords, why))
            continue
        attr = {split: Stage("attribute", {"method": a_ref.identity(), "layer": layer, "split": split, "seed": seed},
                             {"data": data, "model": train}, label=f"{a_alias} {split} {lcoords['model']}/seed{seed}/{layer}")
                for split in ("test", "train")}  # a train stage enters the plan only if something uses it

        for p_alias in pp_aliases:
            ccoords = {**acoords, "postprocessor": p_alias or ""}
            if not selected(config, ccoords):
                continue
            refs = {"dataset": config.of("dataset")[lcoords["dataset"]], "model": config.of("model")[lcoords["model"]],
                    "attribution": a_ref}
            if p_alias is None:
                out = attr["test"]
            else:
                pp, p_ref = comps["postprocessor"][p_alias], config.of("postprocessor")[p_alias]
                refs["postprocessor"] = p_ref
                why = _missing(pp.requires, provides, f"post-processor {p_alias!r}")
                if why:
                    skipped.append(Skip(ccoords, why))
                    continue
                inputs = {"test": attr["test"]}
                if pp.needs_train_attributions:
                    inputs["train"] = attr["train"]
                if pp.needs_features:
                    if features is None:
                        features = Stage("features", {"layer": layer, "splits": ["train", "test"]}, {"data": data, "model": train},
                                         label=f"features {lcoords['model']}/seed{seed}/{layer}")
                    if p_alias not in prepared:
                        prepared[p_alias] = Stage("prepare", {"postprocessor": p_ref.identity(), "seed": seed},
                                                  {"features": features}, label=f"prepare {p_alias} {lcoords['model']}/seed{seed}/{layer}")
                    inputs["state"] = prepared[p_alias]
                out = Stage("postprocess", {"postprocessor": p_ref.identity(), "seed": seed}, inputs,
                            label=f"{p_alias} {a_alias} {lcoords['model']}/seed{seed}/{layer}")
            cell = Unit("cell", ccoords, refs, out)
            for m_alias in metrics_by_scope["attribution"]:
                metric = comps["metric"][m_alias]
                if not selected(config, {**ccoords, "metric": m_alias}):
                    continue
                why = _missing(metric.requires, provides, f"metric {m_alias!r}") or _guard(config.of("metric")[m_alias], "incompatibility()", metric.incompatibility, m_info, layer)
                if why:
                    cell.skipped_metrics[m_alias] = why
                    continue
                spec = {"metric": config.of("metric")[m_alias].identity(), "seed": seed, "scope": "attribution",
                        "layer": layer, "method": a_ref.identity()}
                evaluated = attr["test"] if metric.needs_raw_attributions else out
                stage = Stage("metric", spec, {"data": data, "model": train, "attributions": evaluated},
                              label=f"{m_alias} {cell.name}")
                cell.metrics.append(MetricLink(m_alias, "attribution", stage))
            cells.append(cell)
            by_pp[p_alias].append((a_alias, cell))
            by_method[a_alias].append((p_alias, cell))

    for scope, groups in (("methods", by_pp), ("postprocessors", by_method)):
        for m_alias in metrics_by_scope[scope]:
            metric = comps["metric"][m_alias]
            for members in groups.values():
                members = [(a, c) for a, c in members if selected(config, {**c.coords, "metric": m_alias})]
                if len(members) < 2:
                    for _, c in members:
                        c.skipped_metrics[m_alias] = f"metric {m_alias!r} compares {scope} and this group has only one"
                    continue
                why = _missing(metric.requires, provides, f"metric {m_alias!r}") or _guard(config.of("metric")[m_alias], "incompatibility()", metric.incompatibility, m_info, layer)
                if why:
                    for _, c in members:
                        c.skipped_metrics[m_alias] = why
                    continue
                first = members[0][1]
                spec = {"metric": config.of("metric")[m_alias].identity(), "seed": seed, "scope": scope, "layer": layer,
                        "attribution": None if scope == "methods" else first.coords["attribution"],
                        "postprocessor": first.coords["postprocessor"] if scope == "methods" else None}
                inputs = {"data": data, "model": train, **{f"group/{a or 'raw'}": c.core for a, c in members}}
                label = f"{m_alias} {lcoords['model']}/seed{seed}/{layer} over {len(members)} {scope}"
                stage = Stage("metric", spec, inputs, label=label)
                for _, c in members:
                    c.metrics.append(MetricLink(m_alias, scope, stage))
    return cells
