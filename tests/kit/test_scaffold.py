"""``xaibench new-plugin``: the generated package is valid, is discovered once installed, and passes its tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from xaibench.errors import XaibenchError
from xaibench.scaffold import KINDS, create_plugin, names_for, new_plugin, render_plugin

from .helpers import run_pytest

NAMES = {"attribution": "edge-aware", "metric": "top-share", "dataset": "squares", "model": "small-cnn",
         "postprocessor": "box-blur"}


@pytest.mark.parametrize("bad", ["MyMethod", "my_method", "1st", "my--method", "-x", "my-method-"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(XaibenchError, match="invalid plugin name"):
        names_for(bad, "attribution")


def test_names_follow_python_and_packaging_conventions():
    n = names_for("edge-aware", "attribution")
    assert (n["package"], n["dist"], n["cls"]) == ("xaibench_edge_aware", "xaibench-edge-aware", "EdgeAwareMethod")
    assert names_for("my-metric", "metric")["cls"] == "MyMetric"  # no doubled suffix


@pytest.mark.parametrize("kind", list(KINDS))
def test_generated_files_are_valid(kind):
    tomllib = pytest.importorskip("tomllib")
    files = render_plugin(NAMES[kind], kind)
    pkg = names_for(NAMES[kind], kind)["package"]
    assert {"pyproject.toml", "README.md", f"{pkg}/plugin.py", f"{pkg}/components.py"} <= set(files)
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["entry-points"]["xaibench"] == {NAMES[kind]: f"{pkg}.plugin"}
    assert project["project"]["name"] == f"xaibench-{NAMES[kind]}"
    description = project["project"]["description"]  # names the generated plugin, whatever the kind
    assert description.startswith(f"{NAMES[kind]}: the {kind} component '{NAMES[kind]}'")
    assert description != tomllib.loads(render_plugin("other-name", kind)["pyproject.toml"])["project"]["description"]
    for path, text in files.items():
        assert "$" not in text, f"unfilled placeholder in {path}"
        if path.endswith(".py"):
            compile(text, path, "exec")
    assert f"def {KINDS[kind].hook}(register)" in files[f"{pkg}/plugin.py"]
    assert "import torch" not in files[f"{pkg}/plugin.py"]


def test_cli_creates_the_package_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    out = runner.invoke(new_plugin, ["edge-aware", "--kind", "attribution", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "xaibench_edge_aware.components.EdgeAwareMethod" in out.output and "pip install -e" in out.output
    assert (tmp_path / "xaibench-edge-aware" / "tests" / "test_edge_aware.py").exists()
    again = runner.invoke(new_plugin, ["edge-aware", "--kind", "attribution", "--dir", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    bad_kind = runner.invoke(new_plugin, ["x", "--kind", "tracker"])
    assert bad_kind.exit_code == 2


def test_installed_package_is_listed_by_xaibench_plugins(tmp_path, monkeypatch):
    import importlib
    import io

    from conftest import write_dist_info
    from rich.console import Console

    import xaibench.cli
    from xaibench.plugins import PluginSession

    root = create_plugin("edge-aware", "attribution", tmp_path)
    dists = tmp_path / "site"  # what pip writes when it installs the package
    write_dist_info(dists, "xaibench-edge-aware", "0.1.0", {"edge-aware": "xaibench_edge_aware.plugin"})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(dists))
    importlib.invalidate_caches()
    buffer = io.StringIO()
    monkeypatch.setattr(xaibench.cli, "out", Console(file=buffer, width=250))
    xaibench.cli.cli.main(["plugins"], standalone_mode=False, obj=PluginSession())
    line = next(line for line in buffer.getvalue().splitlines() if "xaibench-edge-aware" in line)
    assert "edge-aware" in line and "0.1.0" in line and "register_attributions" in line and "1 attribution" in line
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in buffer.getvalue().splitlines()]
    assert ["edge-aware", "edge-aware", "1"] in [r[:3] for r in rows]  # the component (name, plugin, version)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_generated_package_passes_its_own_tests(kind, tmp_path):
    root = create_plugin(NAMES[kind], kind, tmp_path)
    out = run_pytest(root, pythonpath=[str(root)])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout


@pytest.mark.slow
def test_pip_install_editable_makes_it_a_plugin(tmp_path):
    """A real ``pip install -e`` into a virtual environment that sees this one's packages."""
    root = create_plugin("box-blur", "postprocessor", tmp_path)
    import site
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # the new environment sees this one's packages (xaibench, pip, setuptools, torch) through a .pth file;
    # addsitedir also runs their .pth files, which is how an editable xaibench is found
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parents = list(dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]]))
    (Path(purelib) / "_parent_env.pth").write_text(f"import site; list(map(site.addsitedir, {parents!r}))\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                              "-q", "-e", str(root)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    listing = subprocess.run([str(python), "-m", "xaibench", "plugins"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path, env={**os.environ, "COLUMNS": "250"})
    assert listing.returncode == 0, listing.stderr
    assert any("box-blur" in line and "xaibench-box-blur" in line for line in listing.stdout.splitlines())
    tests = run_pytest(root, python=str(python))
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]


def test_new_method_runs_next_to_builtins_and_is_ranked(tmp_path, monkeypatch, cli, workdir):
    """Done-when of the kit: new-plugin -> installed -> in a grid with built-ins -> ranked."""
    import importlib
    import json

    from conftest import write_dist_info

    from xaibench.plugins import PluginSession

    root = create_plugin("my-method", "attribution", tmp_path)
    dists = tmp_path / "site"
    write_dist_info(dists, "xaibench-my-method", "0.1.0", {"my-method": "xaibench_my_method.plugin"})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(dists))
    importlib.invalidate_caches()
    plugins = PluginSession()
    (workdir / "r.yaml").write_text(
        "experiment: kit\nseeds: [0, 1]\nlayers: [input]\n"
        "datasets: {lc: {component: synth-landcover, params: {n_train: 24, n_val: 8, n_test: 8, patch_size: 32}}}\n"
        "models: {uhnet: {component: uh-net, params: {width: 0.0625, train: {epochs: 1}}}}\n"
        "attributions: {gxf: gradients-x-features, saliency: saliency, mine: my-method}\n"
        "postprocessors: {none: none}\n"
        "metrics: {entropy: xai-entropy}\n"
    )
    code, out, err = cli("run", "r.yaml", "--quiet", plugins=plugins)
    assert code == 0, out + err
    code, out, err = cli("rank", "kit", "--metric", "entropy.kb_mean", "--format", "json", "--n-boot", "50",
                         plugins=plugins)
    assert code == 0, out + err
    ranking = json.loads(out)["rankings"][0]
    assert "mine" in json.dumps(ranking) and "gxf" in json.dumps(ranking)
