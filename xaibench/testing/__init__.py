"""The plugin authors' kit: conformance checks, in-process plugin registration, tiny grids.

In a plugin's tests (the pytest fixtures ``xaibench_plugin`` and ``run_registry`` come
from :mod:`xaibench.testing.pytest_plugin`, loaded automatically)::

    from xaibench.testing import check_attribution, tiny_registry, rows

    def test_conforms():
        check_attribution(MyMethod, params={"steps": 4})

    def test_in_a_grid(xaibench_plugin, run_registry):
        xaibench_plugin(my_plugin_module)
        table = run_registry(tiny_registry(attributions={"mine": "my-method"}, metrics={"gini": "example-gini"}))
        assert rows(table, metric="gini", attribution="mine")

This package imports no plugin; torch loads only when a check runs.
"""

from .conformance import (
    ConformanceError,
    ConformanceReport,
    Failure,
    check_attribution,
    check_dataset,
    check_metric,
    check_model,
    check_postprocessor,
)
from .data import SCENARIOS, Scenario, make_bundle, scenario
from .session import MemoryTracker, RegistryRunError, registered, rows, run_registry, tiny_registry

__all__ = [
    "SCENARIOS",
    "ConformanceError",
    "ConformanceReport",
    "Failure",
    "MemoryTracker",
    "RegistryRunError",
    "Scenario",
    "check_attribution",
    "check_dataset",
    "check_metric",
    "check_model",
    "check_postprocessor",
    "make_bundle",
    "registered",
    "rows",
    "run_registry",
    "scenario",
    "tiny_registry",
]
