"""Running pytest in a subprocess with xaibench's pytest plugin loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path


def plugin_args() -> list[str]:
    """``-p xaibench.testing.pytest_plugin`` unless the ``pytest11`` entry point already loads it
    (loading it twice would be an error)."""
    installed = any(ep.value == "xaibench.testing.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "xaibench.testing.pytest_plugin"]


def run_pytest(cwd: Path, *args: str, pythonpath: list[str] | None = None, python: str = sys.executable,
               timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*pythonpath, env.get("PYTHONPATH", "")])
    return subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
