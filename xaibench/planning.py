"""From a validated registry to a plan: the grid's units (tracked runs) and their stages.

Units are what a tracker records, one child run each:

- a *model unit* per (dataset, model, seed): data -> train, plus model-scope metrics;
- a *cell* per (dataset, model, seed, layer, attribution, post-processor):
  attribute -> [prepare] -> post-process -> metrics.

Group metrics (scopes ``methods``, ``postprocessors``, ``models``) are one stage whose
members are the cells of their group; its values are shared by those cells.  Stages are
shared wherever their keys coincide (the data of a dataset and seed, a model's training,
a layer's features, a post-processor's method-independent ``prepare``), so each is
computed once.  Whatever cannot run (a missing capability, an incompatible layer, a group
of one) becomes a :class:`Skip` with the reason, never an error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from .capabilities import missing
from .catalog import Catalog
from .components import Component, DatasetInfo, ModelInfo
from .config import ComponentRef, Filter, RegistryConfig
from .coords import Coords
from .errors import PluginError
from .hashing import stable_hash
from .stages.attribute import attribute_stage
from .stages.data import data_stage
from .stages.features import features_stage
from .stages.graph import GroupMember, Stage, in_order
from .stages.metric import attribution_metric_stage, group_metric_stage, model_metric_stage
from .stages.postprocess import postprocess_stage, prepare_stage
from .stages.train import train_stage

GroupScope = Literal["methods", "postprocessors", "models"]
SPELLED = {"postprocessor": "post-processor"}


@dataclass
class MetricLink:
    """A metric stage whose values belong (partly) to a unit."""

    alias: str
    scope: str
    stage: Stage

    @property
    def component(self) -> str:
        """The metric component's registered name (``deletion-insertion``...)."""
        return self.stage.spec["metric"]["name"]


@dataclass
class Unit:
    """A tracked combination: a model (``core`` = its training) or a cell (``core`` = its maps)."""

    kind: Literal["model", "cell"]
    coords: Coords
    refs: dict[str, ComponentRef]
    core: Stage
    data: Stage
    train: Stage
    attribute: Stage | None = None
    """A cell's test attribute stage (its raw maps; ``core`` when there is no post-processor)."""
    metrics: list[MetricLink] = field(default_factory=list)
    own_key: str | None = None
    """Set for a unit whose core stage another unit already has (an alias with the same settings)."""

    @property
    def name(self) -> str:
        return self.coords.name

    @property
    def key(self) -> str:
        """Stable identity of the combination: the key of the stage it is about (with its coordinates
        when an earlier unit of the plan is about the same stage)."""
        return self.own_key or self.core.key

    @property
    def content(self) -> str:
        """Changes when anything logged for the unit could change (metrics included)."""
        return stable_hash([self.core.key] + sorted(f"{m.alias}:{m.stage.key}" for m in self.metrics))

    def stages(self) -> list[Stage]:
        return [self.core] + [m.stage for m in self.metrics]


@dataclass(frozen=True)
class Skip:
    """Something the grid declares that cannot run here: a combination (``metric`` None) or one
    metric of a unit (the unit at ``coords``)."""

    coords: Coords
    reason: str
    metric: str | None = None


@dataclass
class Plan:
    config: RegistryConfig
    units: list[Unit]
    skipped: list[Skip]
    components: dict[str, dict[str, Component]] = field(default_factory=dict)
    """The registry's components by kind and alias, as created for planning."""

    def stages(self) -> list[Stage]:
        """Every stage, each once, inputs before the stages that use them."""
        return in_order([s for u in self.units for s in u.stages()])

    def skipped_metrics(self, unit: Unit) -> dict[str, str]:
        """``{metric alias: reason}`` of the unit's skipped metrics."""
        return {s.metric: s.reason for s in self.skipped if s.metric is not None and s.coords == unit.coords}


def selected(config: RegistryConfig, coords: Coords, metric: str | None = None) -> bool:
    """``exclude`` entries apply to units that have all their keys; ``only`` entries to the keys units have."""
    given = {k: str(v) for k, v in coords.given().items()}
    if metric is not None:
        given["metric"] = metric

    def matches(f: Filter, subset: bool) -> bool:
        keys = set(f) & set(given)
        return not (subset and keys != set(f)) and all(given[k] in f[k] for k in keys)

    if any(matches(f, subset=True) for f in config.exclude):
        return False
    return not config.only or any(matches(f, subset=False) for f in config.only)


@dataclass
class _Model:
    """One (dataset, model, seed) while it is planned."""

    coords: Coords
    refs: dict[str, ComponentRef]
    data_info: DatasetInfo
    info: ModelInfo
    provides: frozenset[str]
    data: Stage
    train: Stage

    @property
    def where(self) -> str:
        return f"{self.coords.model}/seed{self.coords.seed}"


def build_plan(config: RegistryConfig, catalog: Catalog) -> Plan:
    return _Planner(config, catalog).plan()


class _Planner:
    def __init__(self, config: RegistryConfig, catalog: Catalog) -> None:
        self.config = config
        self.comps: dict[str, dict[str, Any]] = {
            kind: {a: _guard(r, "creating it", catalog.create, kind, r.name, r.params) for a, r in refs.items()}
            for kind, refs in config.components.items()}
        self.metrics_of: dict[str, list[str]] = defaultdict(list)
        for alias, metric in self.comps["metric"].items():
            self.metrics_of[metric.scope].append(alias)
        self.units: list[Unit] = []
        self.skipped: list[Skip] = []
        self.across_models: dict[tuple, list[tuple[_Model, Unit]]] = defaultdict(list)

    def plan(self) -> Plan:
        for d_alias, d_ref in self.config.of("dataset").items():
            dataset = self.comps["dataset"][d_alias]
            d_info: DatasetInfo = _guard(d_ref, "info()", dataset.info)
            shared_data = not _guard(d_ref, "varies_with_seed()", dataset.varies_with_seed)
            for m_alias, m_ref in self.config.of("model").items():
                m_info: ModelInfo = _guard(m_ref, "info()", self.comps["model"][m_alias].info, d_info)
                for seed in self.config.seeds:
                    coords = Coords(d_alias, m_alias, seed)
                    if not selected(self.config, coords):
                        continue
                    why = self.why_not("model", m_alias, d_info.provides)
                    if why:
                        self.skipped.append(Skip(coords, why))
                        continue
                    data = data_stage(d_ref, 0 if shared_data else seed)
                    model = _Model(coords, {"dataset": d_ref, "model": m_ref}, d_info, m_info,
                                   d_info.provides | m_info.provides, data, train_stage(m_ref, seed, data, d_alias))
                    self.model_unit(model)
                    for layer in self.config.layers:
                        self.layer(model, layer)
        for members in self.across_models.values():
            self.group_metrics("models", members)
        seen: set[str] = set()
        for unit in self.units:  # aliases with the same settings share stages, not runs
            if unit.core.key in seen:
                unit.own_key = stable_hash({"core": unit.core.key, "coords": unit.coords.given()})
            seen.add(unit.core.key)
        return Plan(self.config, self.units, self.skipped, self.comps)

    def why_not(self, kind: str, alias: str, provides: frozenset[str], model: ModelInfo | None = None,
                layer: str | None = None) -> str | None:
        """Why component ``alias`` cannot run in a combination providing ``provides``, or None."""
        component: Component = self.comps[kind][alias]
        lacking = missing(component.requires, provides)
        if lacking:
            return (f"{SPELLED.get(kind, kind)} {alias!r} requires {', '.join(lacking)}, "
                    f"which this combination does not provide")
        check = getattr(component, "incompatibility", None)
        if model is not None and check is not None:
            return _guard(self.config.of(kind)[alias], "incompatibility()", check, model, layer)
        return None

    def model_unit(self, m: _Model) -> None:
        unit = Unit("model", m.coords, dict(m.refs), m.train, m.data, m.train)
        for alias in self.metrics_of["model"]:
            if not selected(self.config, m.coords, alias):
                continue
            why = self.why_not("metric", alias, m.provides, m.info)
            if why:
                self.skipped.append(Skip(m.coords, why, alias))
                continue
            stage = model_metric_stage(self.config.of("metric")[alias], m.coords.seed, m.data, m.train, m.coords.name)
            unit.metrics.append(MetricLink(alias, "model", stage))
        self.units.append(unit)

    def layer(self, m: _Model, layer: str) -> None:
        coords = m.coords.at(layer=layer)
        if not selected(self.config, coords):
            return
        if layer not in m.info.layers:
            self.skipped.append(Skip(coords, f"model {coords.model!r} has no layer {layer!r} "
                                             f"(has: {', '.join(m.info.layers)})"))
            return
        where, seed = f"{m.where}/{layer}", m.coords.seed
        shared: dict[Any, Stage] = {}  # features per train subset, the prepare stage of each post-processor

        def state(p_alias: str, subset: int | None) -> Stage:
            if ("features", subset) not in shared:
                shared["features", subset] = features_stage(layer, m.data, m.train, m.where, subset, seed)
            if p_alias not in shared:
                shared[p_alias] = prepare_stage(self.config.of("postprocessor")[p_alias], seed,
                                                shared["features", subset], where)
            return shared[p_alias]

        cells: list[Unit] = []
        for a_alias, a_ref in self.config.of("attribution").items():
            a_coords = coords.at(attribution=a_alias)
            if not selected(self.config, a_coords):
                continue
            why = self.why_not("attribution", a_alias, m.provides, m.info, layer)
            if why:
                self.skipped.append(Skip(a_coords, why))
                continue
            test = attribute_stage(a_ref, layer, "test", seed, m.data, m.train, m.where)
            for p_alias in list(self.config.of("postprocessor")) or [None]:
                c_coords = a_coords.at(postprocessor=p_alias or "")
                if not selected(self.config, c_coords):
                    continue
                refs = {**m.refs, "attribution": a_ref}
                core = test
                if p_alias is not None:
                    pp, refs["postprocessor"] = self.comps["postprocessor"][p_alias], self.config.of("postprocessor")[p_alias]
                    why = self.why_not("postprocessor", p_alias, m.provides)
                    if why:
                        self.skipped.append(Skip(c_coords, why))
                        continue
                    subset = _guard(refs["postprocessor"], "train_subset()", pp.train_subset)
                    train = (attribute_stage(a_ref, layer, "train", seed, m.data, m.train, m.where, subset)
                             if pp.needs_train_attributions else None)
                    core = postprocess_stage(refs["postprocessor"], seed, test, train,
                                             state(p_alias, subset) if pp.needs_features else None,
                                             label=f"{p_alias} {a_alias} {where}")
                cell = Unit("cell", c_coords, refs, core, m.data, m.train, test)
                self.attribution_metrics(m, cell, layer)
                cells.append(cell)
                self.across_models[(coords.dataset, seed, layer, a_alias, p_alias)].append((m, cell))
        self.units.extend(cells)
        for scope, axis in (("methods", "postprocessor"), ("postprocessors", "attribution")):
            groups: dict[Any, list[tuple[_Model, Unit]]] = defaultdict(list)
            for cell in cells:
                groups[getattr(cell.coords, axis)].append((m, cell))
            for members in groups.values():
                self.group_metrics(scope, members)

    def attribution_metrics(self, m: _Model, cell: Unit, layer: str) -> None:
        for alias in self.metrics_of["attribution"]:
            if not selected(self.config, cell.coords, alias):
                continue
            why = self.why_not("metric", alias, m.provides, m.info, layer)
            if why:
                self.skipped.append(Skip(cell.coords, why, alias))
                continue
            evaluated = cell.attribute if self.comps["metric"][alias].needs_raw_attributions else cell.core
            assert evaluated is not None
            stage = attribution_metric_stage(self.config.of("metric")[alias], cell.coords.seed, layer,
                                             cell.refs["attribution"], m.data, m.train, evaluated, cell.name)
            cell.metrics.append(MetricLink(alias, "attribution", stage))

    def group_metrics(self, scope: GroupScope, group: list[tuple[_Model, Unit]]) -> None:
        """One stage per metric of ``scope`` over ``group``: cells that differ only in the
        scope's axis (the method, the post-processor or the model)."""
        axis = {"methods": "attribution", "postprocessors": "postprocessor", "models": "model"}[scope]
        for alias in self.metrics_of[scope]:
            members = [(m, c) for m, c in group if selected(self.config, c.coords, alias)]
            why = f"metric {alias!r} compares {scope} and this group has only one" if len(members) == 1 else None
            for m, c in members:
                why = why or _named(self.why_not("metric", alias, m.provides, m.info, c.coords.layer),
                                    scope == "models" and m.coords.model)
            if why or not members:
                self.skipped.extend(Skip(c.coords, why, alias) for _, c in members if why)
                continue
            first_model, first = members[0]
            fixed = {"attribution": first.coords.attribution, "postprocessor": first.coords.postprocessor}
            if scope != "models":
                fixed[{"methods": "attribution", "postprocessors": "postprocessor"}[scope]] = None
            grouped = [GroupMember(getattr(c.coords, axis) or "raw", c.core, c.train if scope == "models" else None)
                       for _, c in members]
            stage = group_metric_stage(self.config.of("metric")[alias], scope, first.coords.seed, str(first.coords.layer),
                                       fixed, first_model.data, first_model.train, grouped,
                                       f"{first_model.where}/{first.coords.layer}")
            for _, c in members:
                c.metrics.append(MetricLink(alias, scope, stage))


def _named(why: str | None, model: str | bool) -> str | None:
    return f"{why} (model {model!r})" if why and model else why


def _guard(ref: ComponentRef, what: str, fn, *args):
    """Call plugin code during planning; a failure names the component and its plugin in one line."""
    try:
        return fn(*args)
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise PluginError(f"{ref.kind} {ref.alias!r} (component {ref.name!r} of plugin {ref.plugin!r}): "
                          f"{what} raised {msg}") from exc
