"""Plugin discovery: entry points, failures, duplicates, disabling, the `plugins` command."""

from __future__ import annotations

import importlib
import logging
import sys

import pytest
from conftest import TESTS, write_dist_info

from xaibench.errors import PluginError
from xaibench.plugins import PluginSession

BUILTINS = {"synth", "zoo", "attributions", "postprocessors", "metrics", "mlflow", "executors"}


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch, plugin_path):
    """Install extra fake distributions whose entry points point at tests/fake_plugins/*."""
    for p in plugin_path:
        monkeypatch.syspath_prepend(p)
    monkeypatch.syspath_prepend(str(TESTS / "fake_plugins"))

    def install(project: str, entry: str, module: str):
        write_dist_info(tmp_path, project, "9.9", {entry: module})
        monkeypatch.syspath_prepend(str(tmp_path))
        importlib.invalidate_caches()

    yield install
    for mod in ("broken_import", "misspelled_hook", "duplicate_name", "raising_register", "commands"):
        sys.modules.pop(mod, None)


def test_builtins_and_third_party_are_loaded_through_entry_points(session):
    names = set(session.plugins)
    assert BUILTINS | {"toy", "example"} <= names
    example = session.plugins["example"]
    assert example.distribution == "xaibench-example" and example.version == "0.2.0"
    assert example.hooks == ["register_attributions", "register_metrics"]
    catalog = session.catalog
    assert catalog.get("attribution", "example-edge").plugin == "example"
    assert catalog.get("executor", "local").plugin == "executors"
    assert catalog.get("tracker", "mlflow").plugin == "mlflow"
    assert session.plugins["example"].components == {"attribution": ["example-edge"], "metric": ["example-gini"]}


def test_core_imports_no_plugin():
    import subprocess

    code = ("import sys, xaibench.cli, xaibench.runner, xaibench.planning, xaibench.stages; "
            "print(sorted(m for m in sys.modules if m.startswith('xaibench_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_failed_import_warns_and_others_load(fake_plugins, caplog):
    fake_plugins("broken-dist", "broken", "broken_import")
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        s = PluginSession()
    assert s.plugins["broken"].error.startswith("ModuleNotFoundError")
    (record,) = [r for r in caplog.records if "broken" in r.getMessage()]
    msg = record.getMessage()
    assert "entry point broken = broken_import" in msg and "broken-dist 9.9" in msg and "\n" not in msg
    assert "toy-data" in s.catalog.names("dataset")


def test_misspelled_hook_is_caught(fake_plugins):
    fake_plugins("typo-dist", "typo", "misspelled_hook")
    s = PluginSession()
    assert "register_metric" in s.plugins["typo"].error
    import misspelled_hook

    with pytest.raises(PluginError, match="register_metric"):
        PluginSession(load_entry_points=False).add(misspelled_hook)


def test_duplicate_component_names_disable_the_later_plugin(fake_plugins, caplog):
    fake_plugins("dup-dist", "dup", "duplicate_name")
    s = PluginSession()
    with caplog.at_level("WARNING", logger="xaibench"):
        catalog = s.catalog  # the CLI still works: the later plugin is disabled, not the session
    # plugins register in name order: 'dup' first, so 'toy' is the later one
    assert catalog.get("metric", "toy-mean").plugin == "dup" and "toy-data" not in catalog.names("dataset")
    assert "'toy-mean' is registered twice" in s.plugins["toy"].error and "'dup'" in s.plugins["toy"].error
    [warning] = [r.getMessage() for r in caplog.records if "disabled" in r.getMessage()]
    assert "'dup'" in warning and "'toy'" in warning and "XAIBENCH_DISABLE_PLUGINS=dup" in warning
    assert s.pm.get_plugin("toy") is None and "\n" not in warning


def test_a_third_party_clashing_with_a_built_in_is_disabled(session):
    from xaibench.components import Metric

    class Impostor(Metric):
        name = "pearson-similarity"

    from xaibench.testing.session import ComponentsPlugin

    session.add(ComponentsPlugin([Impostor]), name="aaa-impostor")
    assert session.catalog.get("metric", "pearson-similarity").plugin == "metrics"
    assert "registered twice" in session.plugins["aaa-impostor"].error


def test_register_hook_that_raises_is_isolated(fake_plugins):
    fake_plugins("raising-dist", "raising", "raising_register")
    s = PluginSession()
    assert "toy-data" in s.catalog.names("dataset")
    assert "cannot reach the data server" in s.plugins["raising"].error


def test_disable_plugins_env(session, monkeypatch):
    monkeypatch.setenv("XAIBENCH_DISABLE_PLUGINS", "example, toy")
    s = PluginSession()
    assert "example" not in s.plugins and "toy" not in s.plugins
    assert "example-edge" not in s.catalog.names("attribution")


def test_plugins_command_lists_builtins_third_party_and_failures(fake_plugins, cli):
    fake_plugins("broken-dist", "broken", "broken_import")
    from xaibench.plugins import PluginSession

    code, out, _ = cli("plugins", plugins=PluginSession())
    assert code == 0
    for name in BUILTINS | {"example", "toy"}:
        assert name in out
    assert "xaibench-example" in out and "example-edge" in out and "example-gini" in out
    assert "failed: ModuleNotFoundError" in out


def test_register_commands_adds_a_subcommand(fake_plugins, cli):
    fake_plugins("cmd-dist", "cmds", "commands")
    from xaibench.plugins import PluginSession

    code, out, _ = cli("hello-plugin", "world", plugins=PluginSession())
    assert code == 0 and "hello world from a plugin" in out


def test_plugins_json_round_trips_and_narrow_output_keeps_names_whole(cli, run_cli):
    """`COLUMNS=80 xaibench plugins | cat`: every component and plugin name appears whole in its cell."""
    import json
    import re

    from xaibench.output import component_rows, plugin_rows
    from xaibench.plugins import PluginSession

    session = PluginSession()
    code, out, _ = cli("plugins", "--format", "json", plugins=session)
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(json.dumps({"plugins": plugin_rows(session), "components": component_rows(session)}))
    names = {(c["kind"], c["name"], c["plugin"]) for c in data["components"]}
    assert ("attribution", "gradients-x-features", "attributions") in names

    narrow = run_cli("plugins", env={"COLUMNS": "80", "XAIBENCH_DISABLE_PLUGINS": ""})
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in narrow.stdout
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    listed = {(row[0], row[1]) for row in cells if len(row) == 4}
    assert {(n, p) for _, n, p in names} <= listed  # name and plugin whole, on one row
    hooks = {h for p in data["plugins"] for h in p["hooks"]}
    shown = {c for row in cells for cell in row for c in re.split(r"\s+", cell)}
    assert hooks <= shown

    csv_out = run_cli("plugins", "--format", "csv", env={"COLUMNS": "40"}).stdout.splitlines()
    assert csv_out[0] == "kind,name,plugin,version,description,unavailable"
    assert any(line.startswith("attribution,gradients-x-features,attributions,") for line in csv_out)
