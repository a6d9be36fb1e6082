"""xaibench's pytest plugin: fixtures for testing plugins (loaded through the ``pytest11`` entry point).

- ``xaibench_session``: this test's :class:`~xaibench.plugins.PluginSession` (the installed
  plugins, loaded through their entry points);
- ``xaibench_plugin(plugin, name=None)``: register a plugin module, hook object or
  component class(es) in that session;
- ``run_registry(yaml_text_or_dict, raise_on_failure=True)``: run a registry with that session
  in this test's temporary directory and return the results table (pyarrow).

The conformance checks are plain functions: ``from xaibench.testing import check_attribution``.
Kept import-light: it is loaded in every pytest session of an environment with xaibench.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def xaibench_session():
    """A plugin session of the installed plugins (entry points), for this test only."""
    from xaibench.plugins import PluginSession

    return PluginSession()


@pytest.fixture
def xaibench_plugin(xaibench_session) -> Iterator[Callable[..., Any]]:
    """``xaibench_plugin(module_or_obj, name=None)`` registers a plugin until the test ends.

    Accepts a plugin module, an object with ``@hookimpl`` methods, a component class or a
    list of component classes; returns the session.  Plugins already installed (found
    through their entry point) are left registered.
    """
    from xaibench.testing.session import registered

    with contextlib.ExitStack() as stack:

        def register(plugin: Any, name: str | None = None):
            return stack.enter_context(registered(plugin, xaibench_session, name))

        yield register


@pytest.fixture
def run_registry(tmp_path, monkeypatch, xaibench_session) -> Callable[..., Any]:
    """``run_registry(yaml_text_or_dict, raise_on_failure=True)`` -> results table (pyarrow).

    Runs in ``tmp_path/xaibench`` (the working directory during the run): cache, results
    and, unless the registry names a tracker, an in-memory tracker instead of MLflow.
    Calls within one test share the cache, so a second run only computes what changed.
    See :func:`xaibench.testing.tiny_registry` for a registry that runs in seconds.
    """
    from xaibench.testing.session import run_registry as run

    workdir = tmp_path / "xaibench"
    workdir.mkdir(exist_ok=True)
    monkeypatch.chdir(workdir)

    def invoke(spec: str | dict, raise_on_failure: bool = True):
        return run(spec, workdir, raise_on_failure=raise_on_failure, session=xaibench_session)

    return invoke
