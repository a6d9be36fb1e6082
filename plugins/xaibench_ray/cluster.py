"""Joining or starting Ray, and the environment its workers need to find the plugins."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("xaibench")


def driver_pythonpath() -> str:
    """The driver's own ``sys.path`` additions (outside the interpreter's prefix), as a PYTHONPATH.

    Workers of a local Ray run the same interpreter, so they already see the
    installed packages; what they miss are paths the driver added at run time
    (tests, notebooks).  Plugins are found through entry points on the path, so
    passing these makes every plugin the driver sees visible to the workers.
    """
    prefixes = [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    extra = [p for p in sys.path
             if p and os.path.isabs(p) and not any(Path(p).is_relative_to(pre) for pre in prefixes)]
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(dict.fromkeys(extra + ([inherited] if inherited else [])))


def merge_env(runtime_env: dict[str, Any] | None, env_vars: dict[str, str]) -> dict[str, Any]:
    """``runtime_env`` with ``env_vars`` added (the user's own values win)."""
    env = dict(runtime_env or {})
    env["env_vars"] = {**env_vars, **(env.get("env_vars") or {})}
    return env


def connect(address: str | None, num_cpus: int | None, verbose: bool,
            runtime_env: dict[str, Any] | None = None, num_gpus: int | None = None) -> bool:
    """Make this process a Ray driver; return True if this call started (so must stop) it.

    An already initialised Ray (a test fixture, a notebook) is used as it is.
    ``address`` (or ``$RAY_ADDRESS``) joins that cluster; otherwise a new local
    Ray is started with ``num_cpus`` CPUs and ``num_gpus`` GPUs (default: what
    Ray detects), and its workers get this process's PYTHONPATH additions.
    """
    import ray

    if ray.is_initialized():
        log.info("using the Ray this process already joined (address, num_cpus and runtime_env are not applied)")
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.ERROR,
        "configure_logging": True,
    }
    if address:
        # A cluster's nodes must have the plugins installed (or ship them with runtime_env).
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, runtime_env=runtime_env, **quiet)
    else:
        path = driver_pythonpath()
        env = merge_env(runtime_env, {"PYTHONPATH": path} if path else {})
        # "local": never join a cluster that happens to run on this machine unasked.
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=verbose, runtime_env=env,
                 **quiet)
    return True
