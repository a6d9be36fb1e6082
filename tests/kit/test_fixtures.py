"""The kit's pytest fixtures: registering plugins for one test, running tiny registries in memory."""

from __future__ import annotations

import textwrap
import types
from pathlib import Path

import pytest

from xaibench import hookimpl
from xaibench.testing import RegistryRunError, registered, rows, tiny_registry

from . import broken
from .helpers import run_pytest

EXAMPLE_SRC = Path(__file__).parents[1] / "third_party_plugin"


def _module_plugin() -> types.ModuleType:
    mod = types.ModuleType("kit_test_plugin")

    @hookimpl
    def register_postprocessors(register):
        register(broken.GoodPost)

    mod.register_postprocessors = register_postprocessors
    return mod


def test_plugin_is_registered_for_the_block_only(fresh_session):
    assert "good-post" not in fresh_session.catalog.names("postprocessor")
    with registered(_module_plugin(), fresh_session) as session:
        assert session is fresh_session
        assert session.catalog.get("postprocessor", "good-post").plugin == "kit_test_plugin"
    assert "good-post" not in fresh_session.catalog.names("postprocessor")
    assert "kit_test_plugin" not in fresh_session.plugins


def test_component_classes_can_be_registered_directly(fresh_session):
    with registered([broken.GoodMethod, broken.GoodMetric], fresh_session) as session:
        assert "good-method" in session.catalog.names("attribution")
        assert "good-metric" in session.catalog.names("metric")
    assert "good-method" not in fresh_session.catalog.names("attribution")


def test_an_installed_plugin_is_left_registered(fresh_session):
    import xaibench_metrics.plugin as builtin

    with registered(builtin, fresh_session):
        pass
    assert "pearson-similarity" in fresh_session.catalog.names("metric")


def test_pytest_plugin_fixtures_register_for_one_test_only(tmp_path):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        from xaibench.components import PostProcessor

        class Doubles(PostProcessor):
            \"\"\"Doubles maps.\"\"\"
            name = "doubles"
            def apply(self, state, test, train):
                return test * 2

        def test_registers(xaibench_plugin, xaibench_session):
            assert xaibench_plugin(Doubles) is xaibench_session
            assert "doubles" in xaibench_session.catalog.names("postprocessor")

        def test_gone_in_the_next_test(xaibench_session):
            assert "doubles" not in xaibench_session.catalog.names("postprocessor")
        """))
    out = run_pytest(tmp_path, "test_inner.py")
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr


def test_run_registry_runs_a_third_party_method_next_to_builtins(fresh_session, xaibench_plugin, run_registry,
                                                                monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    import xaibench_example.plugin as example

    xaibench_plugin(example)
    table = run_registry(tiny_registry({"edges": "example-edge", "gradcam": "grad-cam"}, {"gini": "example-gini"},
                                       epochs=1))
    gini = {r["attribution"]: r["value"] for r in rows(table, metric="gini")}
    assert set(gini) == {"edges", "gradcam"} and all(0 <= v <= 1 for v in gini.values())
    assert rows(table, metric="training", statistic="test_loss")
    from xaibench.testing import MemoryTracker

    assert {r.tags["attribution"] for r in MemoryTracker.records if "attribution" in r.tags} == {"edges", "gradcam"}


def test_run_registry_accepts_yaml_text_and_reuses_the_cache(fresh_session, run_registry, tmp_path):
    text = """
    experiment: yaml-text
    datasets:
      d: {component: synth-landcover, params: {n_train: 8, n_val: 4, n_test: 4, patch_size: 32}}
    models:
      m: {component: uh-net, params: {width: 0.0625, train: {epochs: 1, batch_size: 4}}}
    attributions: {gxf: gradients-x-features}
    metrics: {entropy: xai-entropy}
    """
    first = run_registry(textwrap.dedent(text))
    assert len(rows(first, metric="entropy")) == 1
    assert (tmp_path / "xaibench" / "results" / "yaml-text.parquet").exists()
    from xaibench.testing import MemoryTracker

    assert MemoryTracker.summary.computed > 0 and MemoryTracker.summary.did_something
    again = run_registry(textwrap.dedent(text))
    assert rows(again, metric="entropy")[0]["value"] == rows(first, metric="entropy")[0]["value"]
    # the memory tracker keeps nothing between invocations, so everything is logged again; nothing computed
    assert MemoryTracker.summary.computed == 0 and MemoryTracker.summary.status == "FINISHED"


def test_failures_raise_with_the_stage_and_traceback(fresh_session, xaibench_plugin, run_registry):
    class Crashes(broken.GoodMethod):
        """Always fails."""

        name = "crashes"

        def attribute(self, request):
            raise RuntimeError("boom in my method")

    xaibench_plugin(Crashes)
    registry = tiny_registry({"bad": "crashes"}, {"entropy": "xai-entropy"}, epochs=1)
    with pytest.raises(RegistryRunError) as exc:
        run_registry(registry)
    message = str(exc.value)
    assert "RuntimeError: boom in my method" in message and "first traceback" in message
    assert "test_fixtures.py" in message  # the traceback points at the method's source
    table = run_registry(registry, raise_on_failure=False)
    assert rows(table, status="failed", attribution="bad")


def test_tiny_registry_sections_override():
    reg = tiny_registry({"a": "grad-cam"}, {"m": "xai-entropy"}, layers=["deep"], seeds=[0, 1],
                        exclude=[{"attribution": "a"}])
    assert reg["layers"] == ["deep"] and reg["seeds"] == [0, 1] and reg["exclude"] == [{"attribution": "a"}]
    assert reg["models"]["tiny"]["component"] == "uh-net"
