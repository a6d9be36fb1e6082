"""Shared fixtures: a toy plugin visible in-process and to subprocesses, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
TOY_SRC = TESTS / "toy_plugin"
EXAMPLE_SRC = TESTS / "third_party_plugin"


def write_dist_info(dest: Path, project: str, version: str, entry_points: dict[str, str]) -> Path:
    """Make ``project`` discoverable by importlib.metadata from ``dest`` (as pip would after installing it)."""
    info = dest / f"{project.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[xaibench]\n{eps}\n")
    return info


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory) -> list[str]:
    """sys.path entries that make the toy and the example third-party plugin installed."""
    dists = tmp_path_factory.mktemp("dists")
    write_dist_info(dists, "xaibench-toy", "0.1.0", {"toy": "xaibench_toy.plugin"})
    write_dist_info(dists, "xaibench-example", "0.2.0", {"example": "xaibench_example.plugin"})
    return [str(dists), str(TOY_SRC), str(EXAMPLE_SRC)]


@pytest.fixture
def session(plugin_path, monkeypatch):
    """A fresh plugin session that sees built-ins, the toy and the example plugin."""
    from xaibench.plugins import PluginSession

    for p in reversed(plugin_path):
        monkeypatch.syspath_prepend(p)
    import importlib

    importlib.invalidate_caches()
    # The report plugin draws a figure for every cell: the core tests check artifacts exactly
    # and do not need it (tests/report enables it).
    monkeypatch.setenv("XAIBENCH_DISABLE_PLUGINS", "report")
    return PluginSession()


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture
def cli(session, workdir):
    """Run the CLI in-process: ``code, out, err = cli("run", "r.yaml")``."""

    def invoke(*args: str, plugins=None):
        """``plugins``: the session to run with (default: the ``session`` fixture's)."""
        import io
        from contextlib import redirect_stderr, redirect_stdout

        from rich.console import Console

        import xaibench.cli as mod

        out, err = io.StringIO(), io.StringIO()
        mod.out = Console(file=out, width=200)
        mod.console = Console(file=err, width=200)
        code = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                mod.main(list(args), session=plugins or session)
            except SystemExit as exc:
                code = exc.code or 0
        return code, out.getvalue(), err.getvalue()

    return invoke


@pytest.fixture
def run_cli(plugin_path, workdir):
    """Run ``xaibench`` in a subprocess (for exit codes, tracebacks and kill -9)."""

    def invoke(*args: str, timeout: float = 300, env: dict | None = None, **kw):
        e = {**os.environ, "PYTHONPATH": os.pathsep.join(plugin_path + [os.environ.get("PYTHONPATH", "")])}
        e.pop("MLFLOW_TRACKING_URI", None)
        e.setdefault("XAIBENCH_DISABLE_PLUGINS", "report")
        e.update(env or {})
        return subprocess.run([sys.executable, "-m", "xaibench", *args], capture_output=True, text=True,
                              timeout=timeout, env=e, cwd=workdir, **kw)

    return invoke


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


TOY_REGISTRY = """\
experiment: toy
seeds: [0, 1]
layers: [input, deep]
datasets:
  d: toy-data
models:
  lin: toy-linear
attributions:
  g1: toy-gradient
  g2: {component: toy-gradient, params: {scale: 2.0}}
postprocessors:
  none: toy-identity
  shift: toy-mean-shift
metrics:
  mean: toy-mean
  pair: toy-pair-diff
  aux: toy-needs-aux
  norm: toy-weight-norm
"""


@pytest.fixture
def toy_registry(workdir) -> Path:
    return write(workdir / "registry.yaml", TOY_REGISTRY)


@pytest.fixture
def one_thread():
    """torch on one thread for the test (tiny models: OpenMP contention on the CI's two cores costs more)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def whole_reads(monkeypatch) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, shape)`` of each lazy array read whole (``numpy.asarray(lazy)``) while the test runs."""
    from xaibench.arrays import LazyArray

    reads: list[tuple[str, tuple[int, ...]]] = []
    read_whole = LazyArray.__array__

    def recording(self, *args, **kwargs):
        reads.append((self.name, self.shape))
        return read_whole(self, *args, **kwargs)

    monkeypatch.setattr(LazyArray, "__array__", recording)
    return reads
