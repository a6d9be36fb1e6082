"""Every hook is documented with its exact signature and exercised here; misspellings are caught."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

import xaibench.hookspecs as specs
from xaibench import hookimpl
from xaibench.components import (
    AttributionMethod,
    Dataset,
    Executor,
    KnnBackend,
    Metric,
    Model,
    PostProcessor,
    Tracker,
)
from xaibench.plugins import PluginSession

DOC = Path(__file__).parents[1] / "docs" / "plugin-hooks.md"
HOOKS = {name for name, fn in vars(specs).items() if callable(fn) and hasattr(fn, "xaibench_spec")}


def signature(name: str) -> str:
    params = ", ".join(inspect.signature(getattr(specs, name)).parameters)
    return f"{name}({params})"


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_is_documented_with_exact_signature(hook):
    assert f"### `{signature(hook)}`" in DOC.read_text(), f"docs/plugin-hooks.md lacks a section for {signature(hook)}"


BASES = {
    "register_datasets": ("dataset", Dataset),
    "register_models": ("model", Model),
    "register_attributions": ("attribution", AttributionMethod),
    "register_postprocessors": ("postprocessor", PostProcessor),
    "register_metrics": ("metric", Metric),
    "register_trackers": ("tracker", Tracker),
    "register_executors": ("executor", Executor),
    "register_knn_backends": ("knn_backend", KnnBackend),
}


def test_every_hook_has_a_test():
    # register_commands: test_plugins.test_register_commands_adds_a_subcommand;
    # unit_artifacts: test_run.test_unit_artifacts_hook_attaches_files
    tested = set(BASES) | {"register_commands", "unit_artifacts"}
    assert HOOKS == tested, f"untested hooks: {HOOKS - tested}"


@pytest.mark.parametrize("hook", sorted(BASES))
def test_collecting_hook_registers_a_component(hook):
    kind, base = BASES[hook]
    cls = type("Thing", (base,), {"name": f"my-{kind}"})

    class Plugin:
        pass

    setattr(Plugin, hook, staticmethod(hookimpl(lambda register: register(cls, name=f"alias-{kind}"))))
    # pluggy inspects the argument names of the implementation
    impl = getattr(Plugin, hook)
    assert inspect.signature(impl).parameters.keys() == {"register"}
    s = PluginSession(load_entry_points=False)
    s.add(Plugin(), name="p")
    assert s.catalog.get(kind, "alias-" + kind).cls is cls
    assert s.plugins["p"].components == {kind: [f"alias-{kind}"]}


def test_register_rejects_a_class_of_the_wrong_kind():
    from xaibench.errors import PluginError

    class Plugin:
        @staticmethod
        @hookimpl
        def register_metrics(register):
            register(np.ndarray)

    s = PluginSession(load_entry_points=False)
    s.add(Plugin(), name="wrong")
    with pytest.raises(PluginError, match="expected a subclass of Metric"):
        _ = s.catalog
