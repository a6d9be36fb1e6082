"""One small real experiment (synthetic land cover, a tiny UH-Net, two methods, harmonize)
run once through the in-process CLI with the report plugin, then reported on; shared by
the tests of this directory."""

from __future__ import annotations

import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
try:  # installed (entry point `report`) or, before the package is reinstalled, from the source tree
    import xaibench_report  # noqa: F401
except ImportError:
    sys.path.insert(0, str(PLUGINS))

REGISTRY = """\
experiment: tiny-report
seeds: [0, 1]
layers: [input, deep]
datasets:
  lc: {component: synth-landcover, params: {n_train: 24, n_val: 8, n_test: 8, patch_size: 32}}
models:
  uhnet: {component: uh-net, params: {width: 0.0625, train: {epochs: 1}}}
attributions:
  gradcam: grad-cam
  gxf: gradients-x-features
postprocessors:
  none: none
  harmonize: {component: harmonize, params: {k: 5}}
metrics:
  pearson: pearson-similarity
  seg: segmentation-agreement
  ovh: original-vs-harmonized
"""


@dataclass
class Built:
    workdir: Path
    results: Path
    report: Path
    db: Path
    run_output: str
    report_output: str

    @property
    def index(self) -> Path:
        return self.report / "index.html"


def add_report_plugin(session) -> None:
    """Register the plugin in ``session`` unless its entry point already did (even where the
    session disables it, as the core's tests may do to keep figures out of their runs)."""
    from xaibench_report import plugin

    session.disabled.discard("report")
    if "report" not in session.plugins:
        session.add(plugin, name="report")


def invoke_cli(*args: str, session=None) -> tuple[int, str, str]:
    """``xaibench ARGS`` in-process with ``session``, as ``tests/conftest.py``'s ``cli`` fixture does."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from rich.console import Console

    import xaibench.cli as mod

    out, err = io.StringIO(), io.StringIO()
    saved = mod.out, mod.console
    mod.out, mod.console = Console(file=out, width=200), Console(file=err, width=200)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                mod.main(list(args), session=session)
            except SystemExit as exc:
                code = exc.code or 0
    finally:
        mod.out, mod.console = saved
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def built(tmp_path_factory, plugin_path) -> Built:
    """Run the tiny experiment and ``xaibench report`` on it once (about a minute on two cores)."""
    import torch

    from xaibench.plugins import PluginSession, disabled_from_env

    workdir = tmp_path_factory.mktemp("report-experiment")
    (workdir / "registry.yaml").write_text(textwrap.dedent(REGISTRY))
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for p in reversed(plugin_path):
            mp.syspath_prepend(p)
        mp.chdir(workdir)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        torch.set_num_threads(1)
        session = PluginSession(disabled=disabled_from_env() - {"report"})
        add_report_plugin(session)
        try:
            code, out, err = invoke_cli("run", "registry.yaml", "--quiet", session=session)
            assert code == 0, out + err
            rcode, rout, rerr = invoke_cli("report", "tiny-report", "--out", "report", session=session)
            assert rcode == 0, rout + rerr
        finally:
            torch.set_num_threads(threads)
    return Built(workdir, workdir / "results", workdir / "report", workdir / "mlflow.db", out + err, rout + rerr)


@pytest.fixture
def report_session(session):
    """The ``session`` fixture with the report plugin registered."""
    add_report_plugin(session)
    return session


def chromium() -> str | None:
    path = os.environ.get("XAIBENCH_CHROMIUM", "/usr/bin/chromium")
    return path if os.path.exists(path) else None


@pytest.fixture(scope="session")
def report_sections() -> list:
    """Every section the installed plugins ship (the report plugin's and the metrics plugin's...)."""
    from xaibench.plugins import PluginSession
    from xaibench_report.sections import collect_sections

    session = PluginSession(disabled=set())
    add_report_plugin(session)
    return collect_sections(session)
