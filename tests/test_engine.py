"""The engine's seams: the session is passed (never fetched), the tracker contract is what its
docstring says, the stage graph is typed, and the core has no import circle."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import TOY_REGISTRY, write

from xaibench.bundle import Bundle
from xaibench.components import Band, Dataset, DatasetInfo, Params, RunRecord, Tracker
from xaibench.config import load_registry
from xaibench.plugins import PluginSession
from xaibench.runner import run
from xaibench.testing.session import ComponentsPlugin

CORE = Path(__file__).parents[1] / "xaibench"


# -- components that exist only in this process (module level, so that workers can unpickle them) --------
class InProcessData(Dataset):
    """toy-data's shape under another name, registered in-process only."""

    name = "inprocess-data"

    class Params(Params):
        n: int = 4

    def info(self) -> DatasetInfo:
        return DatasetInfo("inprocess", "multilabel", ("a", "b", "c"), (Band("u", 500.0), Band("v", 800.0)))

    def load(self, seed: int) -> Bundle:
        rng = np.random.default_rng(seed)
        splits = {s: {"x": rng.random((self.params.n, 2, 4, 4), dtype=np.float32),
                      "labels": np.eye(3, dtype=np.float32)[rng.integers(0, 3, self.params.n)]}
                  for s in ("train", "val", "test")}
        return Bundle.from_splits(splits)


class JsonTracker(Tracker):
    """A tracker written from ``components/tracker.py``'s docstring alone: a JSON file of records."""

    name = "json-file"
    logged: ClassVar[list[str]] = []

    class Params(Params):
        path: str

    def open(self, experiment: str, tags: dict[str, str]) -> None:
        path = Path(self.params.path)
        self.records = json.loads(path.read_text()) if path.exists() else {}

    def finished(self) -> dict[str, str]:
        return {k: r["content"] for k, r in self.records.items() if r["status"] == "FINISHED"}

    def log(self, record: RunRecord) -> None:
        JsonTracker.logged.append(record.key)
        self.records[record.key] = {"content": record.content, "status": record.status, "metrics": record.metrics}

    def close(self, status: str, artifacts: dict[str, Path]) -> list[str]:
        Path(self.params.path).write_text(json.dumps(self.records))
        return [f"records: {self.params.path}"]


INPROCESS = ComponentsPlugin([InProcessData, JsonTracker])

GRID = """\
experiment: inprocess
seeds: [0, 1]
layers: [input]
datasets: {d: inprocess-data}
models: {lin: toy-linear}
attributions: {g1: toy-gradient, g2: {component: toy-gradient, params: {scale: 2.0}}}
postprocessors: {none: toy-identity}
metrics: {mean: toy-mean, pair: toy-pair-diff}
tracking: {component: json-file, path: records.json}
"""


def _values(table) -> list[tuple]:
    return sorted((r["seed"], r["attribution"], r["metric"], r["statistic"], r["sub_key"], r["value"])
                  for r in table.to_pylist() if r["status"] == "ok")


@pytest.mark.parametrize("executor", ["local", "process-pool"])
def test_a_plugin_registered_in_process_runs_under_every_executor(session, workdir, executor):
    session.add(INPROCESS, name="inprocess")
    write(workdir / "ref.yaml", GRID + "cache: ref-cache\nresults: ref-results\n")
    write(workdir / "r.yaml", GRID + f"executor: {{component: {executor}, workers: 2}}\n"
          if executor != "local" else GRID)
    got = run(load_registry(workdir / "r.yaml", session.catalog), session, quiet=True)
    assert got.ok, got.failed
    assert got.computed == got.stages and got.units_logged == len(got.plan.units)
    ref = run(load_registry(workdir / "ref.yaml", session.catalog), session, quiet=True)
    assert _values(got.table) == _values(ref.table) and _values(got.table)


def test_a_session_travels_to_workers_with_its_in_process_plugins(session):
    import pickle

    session.add(INPROCESS, name="inprocess")
    rebuilt = pickle.loads(pickle.dumps(session))
    assert rebuilt is not session and rebuilt.token == session.token
    assert rebuilt.catalog.get("dataset", "inprocess-data").cls is InProcessData
    assert sorted(rebuilt.plugins) == sorted(session.plugins)


def test_a_tracker_written_from_its_docstring_logs_each_unit_once(session, workdir):
    session.add(INPROCESS, name="inprocess")
    write(workdir / "r.yaml", GRID)
    JsonTracker.logged = []
    first = run(load_registry(workdir / "r.yaml", session.catalog), session, quiet=True)
    assert first.ok and first.units_logged == len(first.plan.units) == len(set(JsonTracker.logged))
    second = run(load_registry(workdir / "r.yaml", session.catalog), session, quiet=True)
    assert second.computed == 0 and second.units_logged == 0
    assert second.units_already_tracked == len(second.plan.units)
    assert sorted(JsonTracker.logged) == sorted({u.key for u in first.plan.units})  # each once, both runs
    assert first.tracking == ["records: records.json"]


def test_a_failure_blocks_its_dependents_by_key(session, workdir):
    write(workdir / "r.yaml", TOY_REGISTRY.replace("lin: toy-linear", "lin: {component: toy-linear, params: {fail: true}}"))
    s = run(load_registry(workdir / "r.yaml", session.catalog), session, quiet=True)
    trains = {st.key: st.label for st in s.plan.stages() if st.kind == "train"}
    assert len(s.failed) == len(trains) == 2 and all("toy model asked to fail" in e for _, e in s.failed)
    assert s.blocked and {root for _, root in s.blocked} == set(trains.values())
    failed_rows = [r for r in s.table.to_pylist() if r["status"] == "failed" and r["metric"] != "training"]
    assert failed_rows and all(r["message"].startswith("upstream failed: train ") for r in failed_rows)


# -- the core's import graph ----------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """Every core module ``path`` imports, at any depth (inside functions and TYPE_CHECKING blocks too),
    with the packages whose ``__init__`` that import runs (except the module's own packages, which
    are always initialised before it)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            parts = t.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules
    parts = module.split(".")
    return found - {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def test_the_core_has_no_import_circle():
    files = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert "xaibench.stages.graph" in graph["xaibench.components.executor"] | graph["xaibench.stages"]


def test_core_modules_stay_small():
    sizes = {p.relative_to(CORE.parent).as_posix(): len(p.read_text().splitlines()) for p in CORE.rglob("*.py")}
    assert not {f: n for f, n in sizes.items() if n > 350}, "split modules above 350 lines"


def test_no_process_wide_session_below_the_cli():
    for p in [*CORE.rglob("*.py"), *(CORE.parent / "plugins").rglob("*.py")]:
        text = p.read_text()
        assert "get_session" not in text and "reset_session" not in text, p


def test_plugin_session_is_explicit(session):
    """Two sessions in one process do not see each other's in-process plugins."""
    other = PluginSession(load_entry_points=False)
    session.add(INPROCESS, name="inprocess")
    assert "inprocess-data" in session.catalog.names("dataset")
    assert "inprocess-data" not in other.catalog.names("dataset")
