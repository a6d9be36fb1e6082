"""Every hook is documented with its exact signature and has a test named after it; misspellings are caught."""

from __future__ import annotations

import ast
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
TESTS = Path(__file__).parent
HOOKS = {name for name, fn in vars(specs).items() if callable(fn) and hasattr(fn, "xaibench_spec")}


def signature(name: str) -> str:
    params = ", ".join(inspect.signature(getattr(specs, name)).parameters)
    return f"{name}({params})"


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_is_documented_with_exact_signature(hook):
    assert f"### `{signature(hook)}`" in DOC.read_text(), f"docs/plugin-hooks.md lacks a section for {signature(hook)}"


def test_every_hook_has_a_test_named_after_it():
    """A test function whose name contains the hook's name (``test_register_commands_adds_...``),
    anywhere under tests/: found by reading the test files, not from a list kept by hand."""
    names = set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(), str(path))
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    untested = sorted(h for h in HOOKS if not any(h in n for n in names))
    assert not untested, f"hooks without a test named after them: {untested}"


def registers_a_component(hook: str, kind: str, base: type) -> None:
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


def test_register_datasets_adds_a_dataset():
    registers_a_component("register_datasets", "dataset", Dataset)


def test_register_models_adds_a_model():
    registers_a_component("register_models", "model", Model)


def test_register_attributions_adds_a_method():
    registers_a_component("register_attributions", "attribution", AttributionMethod)


def test_register_postprocessors_adds_a_postprocessor():
    registers_a_component("register_postprocessors", "postprocessor", PostProcessor)


def test_register_metrics_adds_a_metric():
    registers_a_component("register_metrics", "metric", Metric)


def test_register_trackers_adds_a_tracker():
    registers_a_component("register_trackers", "tracker", Tracker)


def test_register_executors_adds_an_executor():
    registers_a_component("register_executors", "executor", Executor)


def test_register_knn_backends_adds_a_backend():
    registers_a_component("register_knn_backends", "knn_backend", KnnBackend)


def test_register_hookspecs_lets_a_plugin_declare_a_hook_others_implement():
    """A plugin declares ``greet(name)``; another implements it with ``optionalhook``: it loads before
    the declaring plugin, after it, and without it, and the hook calls it once declared."""
    import pluggy

    spec = pluggy.HookspecMarker("xaibench")

    class Specs:
        @spec
        def greet(self, name):
            """A plugin's own hook."""

    class Declares:
        @staticmethod
        @hookimpl
        def register_hookspecs(register):
            register(Specs)

    class Implements:
        @staticmethod
        @hookimpl(optionalhook=True)
        def greet(name):
            return f"hello {name}"

    for order in ([Declares, Implements], [Implements, Declares]):
        s = PluginSession(load_entry_points=False)
        for i, plugin in enumerate(order):
            s.add(plugin(), name=f"p{i}")
        assert s.pm.hook.greet(name="you") == ["hello you"]
    alone = PluginSession(load_entry_points=False)
    alone.add(Implements(), name="alone")  # the declaring plugin is not installed: still loads
    assert "alone" in alone.plugins and alone.plugins["alone"].error is None


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
