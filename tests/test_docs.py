"""Docs pinned to the code, in datasette's manner: what the code declares, the docs name."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from xaibench.builtins import BUILTIN_PLUGINS
from xaibench.capabilities import undeclared
from xaibench.plugins import PluginSession

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

REPO = Path(__file__).parents[1]
DOCS = REPO / "docs"
ENTRY_POINTS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["xaibench"]


def test_builtin_list_is_the_entry_points():
    assert BUILTIN_PLUGINS == ENTRY_POINTS


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_entry_point_is_in_the_directory(name):
    rows = [line for line in (DOCS / "directory.md").read_text().splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/directory.md has no row for the built-in plugin {name!r}"


def test_every_core_module_is_in_the_architecture():
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`(xaibench/[^`]+)`", text))
    expanded = set()
    for entry in named:  # `xaibench/stages/{data,train}.py` names several
        m = re.fullmatch(r"(.*)\{(.+)\}(.*)", entry)
        expanded |= {f"{m.group(1)}{p}{m.group(3)}" for p in m.group(2).split(",")} if m else {entry}
    for path in (REPO / "xaibench").rglob("*.py"):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("xaibench/testing/") or rel.endswith("/__init__.py") and rel != "xaibench/__init__.py":
            continue  # the kit is one row; packages' __init__ only re-export
        assert any(fnmatch.fnmatch(rel, e) for e in expanded), f"docs/architecture.md does not describe {rel}"


def test_every_metadata_key_of_the_table_is_documented(session, toy_registry):
    from xaibench.config import load_registry
    from xaibench.runner import run

    table = run(load_registry(toy_registry, session.catalog), session, quiet=True).table
    keys = sorted(k.decode() for k in table.schema.metadata if k.startswith(b"xaibench."))
    text = (DOCS / "results.md").read_text()
    assert keys and not [k for k in keys if f"`{k}`" not in text], keys


def test_every_capability_a_builtin_uses_is_declared():
    """Requirements and what built-in datasets and models provide are declared constants, not strings."""
    catalog = PluginSession(disabled=set()).catalog
    problems = {}
    for kind, entries in catalog.entries.items():
        for name, entry in entries.items():
            tokens = list(entry.cls.requires)
            try:
                component = catalog.create(kind, name)
                if kind == "dataset":
                    tokens += component.info().provides
                elif kind == "model":
                    from xaibench.testing.data import scenario

                    tokens += component.info(scenario("multimodal").info).provides
            except Exception:  # needs params (a root directory, a checkpoint): its class attributes only
                pass
            if undeclared(tokens):
                problems[f"{kind} {name}"] = undeclared(tokens)
    assert not problems, f"plain strings where a Capability constant belongs: {problems}"
