"""Kit tests: one torch thread (the CI's two cores are shared), and the kit's pytest fixtures.

The fixtures are imported here because ``xaibench.testing.pytest_plugin`` is loaded through
the ``pytest11`` entry point only once xaibench is installed with it; a conftest definition
takes precedence over the plugin's, so the two never clash.
"""

from __future__ import annotations

import pytest

from xaibench.testing.pytest_plugin import run_registry, xaibench_plugin, xaibench_session  # noqa: F401


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fresh_session(monkeypatch):
    """A new process-wide session (built-ins from their entry points), dropped after the test."""
    from xaibench.plugins import PluginSession, reset_session

    monkeypatch.delenv("XAIBENCH_DISABLE_PLUGINS", raising=False)
    s = PluginSession()
    reset_session(s)
    yield s
    reset_session(None)
