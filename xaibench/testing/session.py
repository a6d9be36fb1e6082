"""Registering plugins in-process and running a small registry in memory, for tests.

Every helper takes the :class:`~xaibench.plugins.PluginSession` it works with; the grid
receives that session explicitly, so a plugin registered in-process reaches every stage
(and, pickled with the session, pool and Ray workers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import yaml

from .. import hookimpl
from ..components import KINDS, Component, InvocationSummary, Params, RunRecord, Tracker
from ..plugins import PluginSession

MEMORY_TRACKER = "xaibench-testing-memory"


class MemoryTracker(Tracker):
    """Keeps the runs of a grid in memory (no MLflow): the default tracker of :func:`run_registry`."""

    name: ClassVar[str] = MEMORY_TRACKER
    records: ClassVar[list[RunRecord]] = []
    """Records of the latest grid run in this process (reset by :meth:`open`)."""
    tracebacks: ClassVar[dict[str, str]] = {}
    """Text of each failed record's traceback artifact, by record key (the files are temporary)."""
    summary: ClassVar[InvocationSummary | None] = None
    """What the latest grid run did (:meth:`Tracker.summarize`)."""

    class Params(Params):
        pass

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        MemoryTracker.records, MemoryTracker.tracebacks, MemoryTracker.summary = [], {}, None

    def log(self, record: RunRecord) -> None:
        MemoryTracker.records.append(record)
        path = record.artifacts.get("errors/traceback.txt")
        if path is not None:
            MemoryTracker.tracebacks[record.key] = Path(path).read_text()

    def summarize(self, summary: InvocationSummary) -> None:
        MemoryTracker.summary = summary


class ComponentsPlugin:
    """A plugin object registering the given component classes under their kinds' hooks."""

    def __init__(self, classes: Iterable[type[Component]]) -> None:
        self.classes = list(classes)
        bad = [c for c in self.classes if not (isinstance(c, type) and issubclass(c, Component) and c.kind in KINDS)]
        if bad:
            raise TypeError(f"not component classes: {bad!r}")

    def _register(self, kind: str, register: Any) -> None:
        for cls in self.classes:
            if cls.kind == kind:
                register(cls)

    @hookimpl
    def register_datasets(self, register):
        self._register("dataset", register)

    @hookimpl
    def register_models(self, register):
        self._register("model", register)

    @hookimpl
    def register_attributions(self, register):
        self._register("attribution", register)

    @hookimpl
    def register_postprocessors(self, register):
        self._register("postprocessor", register)

    @hookimpl
    def register_metrics(self, register):
        self._register("metric", register)

    @hookimpl
    def register_trackers(self, register):
        self._register("tracker", register)

    @hookimpl
    def register_executors(self, register):
        self._register("executor", register)

    @hookimpl
    def register_knn_backends(self, register):
        self._register("knn_backend", register)


def as_plugin(plugin: Any) -> Any:
    """A module or hook object as it is; a component class (or a list of them) wrapped in a plugin."""
    if isinstance(plugin, type) and issubclass(plugin, Component):
        return ComponentsPlugin([plugin])
    if isinstance(plugin, (list, tuple)):
        return ComponentsPlugin(plugin)
    return plugin


@contextlib.contextmanager
def registered(plugin: Any, session: PluginSession, name: str | None = None) -> Iterator[PluginSession]:
    """Register ``plugin`` (a module, an object with hook implementations, a component class or a
    list of them) in ``session`` while the block runs, then unregister it.

    A plugin already registered (installed and found through its entry point) is left as it is.
    The catalog is built on entering, so a broken plugin fails here, with its name.
    """
    obj = as_plugin(plugin)
    if session.pm.is_registered(obj):
        yield session
        return
    name = session.add(obj, name=name or _name(obj))
    try:
        session.catalog  # noqa: B018 -- build it now: registration errors surface at the fixture call
        yield session
    finally:
        session.remove(name)


def _name(obj: Any) -> str:
    if isinstance(obj, ComponentsPlugin):
        return "components:" + ",".join(f"{c.kind}/{c.name}" for c in obj.classes)
    return getattr(obj, "__name__", None) or f"{type(obj).__name__}@{id(obj):x}"


# -- running a registry ------------------------------------------------------------------
class RegistryRunError(AssertionError):
    """Stages of a :func:`run_registry` grid failed; the message lists them and the first traceback."""


def tiny_registry(
    attributions: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    postprocessors: dict[str, Any] | None = None,
    *,
    layers: Iterable[str] = ("input",),
    seeds: Iterable[int] = (0,),
    epochs: int = 2,
    **sections: Any,
) -> dict[str, Any]:
    """A registry (as a dict) for seconds-long grids: 13-band ``synth-landcover`` patches
    (16 train, 8 val, 8 test, 32 px) and a ``uh-net`` at 1/16 width trained ``epochs`` epochs
    (learning rate 0.01, batches of 8).

    The dataset and model are the built-in ``synth`` and ``zoo`` plugins', named through the
    catalog (they are installed with xaibench).  ``sections`` override any top-level key
    (``datasets=``, ``models=``, ``exclude=``...).
    """
    reg: dict[str, Any] = {
        "experiment": "kit",
        "seeds": list(seeds),
        "layers": list(layers),
        "datasets": {"synth": {"component": "synth-landcover",
                               "params": {"n_train": 16, "n_val": 8, "n_test": 8, "patch_size": 32}}},
        "models": {"tiny": {"component": "uh-net",
                            "params": {"width": 0.0625, "train": {"epochs": epochs, "batch_size": 8, "lr": 0.01}}}},
        "attributions": dict(attributions or {}),
        "postprocessors": dict(postprocessors or {"none": "none"}),
        "metrics": dict(metrics or {}),
    }
    reg.update(sections)
    return reg


def run_registry(spec: str | dict[str, Any], workdir: str | Path, *, raise_on_failure: bool = True,
                 session: PluginSession | None = None) -> Any:
    """Run a registry given as YAML text or a dict with ``session``'s components (a new session
    of the installed plugins by default); return the results table (pyarrow).

    Defaults filled in when the registry omits them: ``cache`` and ``results`` under
    ``workdir``, the in-memory tracker (no MLflow) and the ``local`` executor.  With
    ``raise_on_failure``, failed stages raise :class:`RegistryRunError` naming each stage
    with its error and the first traceback.
    """
    from ..config import load_registry
    from ..runner import run

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(spec) if isinstance(spec, str) else dict(spec)
    if not isinstance(data, dict):
        raise TypeError(f"a registry must be a mapping, got {type(data).__name__}")
    data.setdefault("experiment", "kit")
    data.setdefault("cache", str(workdir / "cache"))
    data.setdefault("results", str(workdir / "results"))
    data.setdefault("tracking", {"component": MEMORY_TRACKER})
    data.setdefault("executor", {"component": "local"})
    path = workdir / "registry.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with registered(ComponentsPlugin([MemoryTracker]), session or PluginSession(), "xaibench.testing") as s:
        config = load_registry(path, s.catalog)
        summary = run(config, s, quiet=True)
    if raise_on_failure and not summary.ok:
        raise RegistryRunError(_failure_message(summary, config.tracking.name == MEMORY_TRACKER))
    return summary.table


def _failure_message(summary: Any, memory_tracked: bool) -> str:
    lines = [f"{len(summary.failed)} stage(s) failed:"] + [f"  {label}: {err}" for label, err in summary.failed]
    if summary.blocked:
        lines.append(f"  and {len(summary.blocked)} stage(s) that depended on them")
    for record in MemoryTracker.records if memory_tracked else []:
        text = MemoryTracker.tracebacks.get(record.key)
        if record.status == "FAILED" and text:
            lines += ["", f"first traceback ({record.name}):", text[-4000:]]
            break
    return "\n".join(lines)


def rows(table: Any, status: str | None = "ok", **filters: Any) -> list[dict[str, Any]]:
    """Rows of a results table as dicts, keeping those whose columns equal ``filters``
    (``rows(t, metric="gini", attribution="edges")``); ``status=None`` keeps every status."""
    out = []
    for r in table.to_pylist():
        if status is not None and r["status"] != status:
            continue
        if all(r.get(k) == v for k, v in filters.items()):
            out.append(r)
    return out
