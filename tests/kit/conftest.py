"""Kit tests: one torch thread (the CI's two cores are shared), and the kit's pytest fixtures.

The fixtures are imported here because ``xaibench.testing.pytest_plugin`` is loaded through
the ``pytest11`` entry point only once xaibench is installed with it; a conftest definition
takes precedence over the plugin's, so the two never clash.
"""

from __future__ import annotations

import pytest

from xaibench.testing.pytest_plugin import run_registry, xaibench_plugin  # noqa: F401


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every kit test on one torch thread."""


@pytest.fixture
def xaibench_session(monkeypatch):
    """A new session of every installed plugin (the kit fixtures' session), for this test only."""
    from xaibench.plugins import PluginSession

    monkeypatch.delenv("XAIBENCH_DISABLE_PLUGINS", raising=False)
    return PluginSession()


@pytest.fixture
def fresh_session(xaibench_session):
    return xaibench_session
