"""Malformed registries: one line per problem with its path, exit code 2, no traceback."""

from __future__ import annotations

import pytest
from conftest import TOY_REGISTRY, write

from xaibench.config import load_registry
from xaibench.errors import ConfigError


def problems(session, path, **kw) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_registry(path, session.catalog, **kw)
    return exc.value.problems


def test_valid_registry_fills_defaults(session, toy_registry):
    cfg = load_registry(toy_registry, session.catalog)
    assert cfg.experiment == "toy" and cfg.seeds == [0, 1] and cfg.layers == ["input", "deep"]
    g2 = cfg.of("attribution")["g2"]
    assert g2.name == "toy-gradient" and g2.params["scale"] == 2.0 and g2.params["sleep"] == 0.0
    assert cfg.of("attribution")["g1"].params["scale"] == 1.0
    assert cfg.tracking.name == "mlflow" and cfg.executor.name == "local"


def test_missing_file(session, workdir):
    assert problems(session, workdir / "nope.yaml") == [f"{workdir / 'nope.yaml'}: file not found"]


def test_yaml_syntax_error_names_line(session, workdir):
    p = write(workdir / "r.yaml", "datasets:\n  d: [unclosed\nmodels: {}\n")
    (msg,) = problems(session, p)
    assert msg.startswith(f"{p}:") and "YAML syntax error" in msg


def test_unknown_top_level_key_suggests(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY + "metrix: {}\n")
    (msg,) = problems(session, p)
    assert "metrix: unknown top-level key. Did you mean 'metrics'?" in msg


def test_unknown_component_suggests(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY.replace("g1: toy-gradient", "g1: toy-gradiant"))
    (msg,) = problems(session, p)
    assert "attributions.g1.component: unknown attribution 'toy-gradiant'. Did you mean 'toy-gradient'?" in msg


def test_unknown_parameter_lists_known(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY.replace("{scale: 2.0}", "{scal: 2.0}"))
    (msg,) = problems(session, p)
    assert msg.endswith("attributions.g2.params.scal: unknown parameter (known: scale, fail_on_seed, fail_while_file_exists, sleep)")
    assert msg.startswith(f"{p}:10: ")


def test_mistyped_parameter(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY.replace("{scale: 2.0}", "{scale: big}"))
    (msg,) = problems(session, p)
    assert "attributions.g2.params.scale:" in msg and "'big'" in msg


def test_empty_grid(session, workdir):
    p = write(workdir / "r.yaml", "experiment: x\n")
    msgs = problems(session, p)
    assert any("datasets: the grid is empty" in m for m in msgs)
    assert any("models: the grid is empty" in m for m in msgs)


def test_duplicate_alias(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY.replace("  g1: toy-gradient\n", "  g1: toy-gradient\n  g1: toy-gradient\n"))
    (msg,) = problems(session, p)
    assert "attributions.g1: duplicate key 'g1'" in msg


def test_all_problems_reported_at_once(session, workdir):
    text = TOY_REGISTRY.replace("g1: toy-gradient", "g1: nope").replace("{scale: 2.0}", "{scal: 2}") + "bogus: 1\n"
    msgs = problems(session, write(workdir / "r.yaml", text))
    assert len(msgs) == 3


def test_filters_must_name_declared_aliases(session, workdir):
    p = write(workdir / "r.yaml", TOY_REGISTRY + "exclude: [{model: lni}]\n")
    (msg,) = problems(session, p)
    assert "exclude.0.model: unknown model 'lni'. Did you mean 'lin'?" in msg


def test_only_from_command_line(session, toy_registry):
    cfg = load_registry(toy_registry, session.catalog, only=["seed=1", "attribution=g2"])
    assert cfg.only == [{"seed": {"1"}, "attribution": {"g2"}}]
    msgs = problems(session, toy_registry, only=["colour=red"])
    assert "KEY=VALUE" in msgs[0]


def test_cli_exit_code_2_one_line_no_traceback(run_cli, workdir):
    write(workdir / "r.yaml", TOY_REGISTRY.replace("{scale: 2.0}", "{n_step: 2}"))
    proc = run_cli("validate", "r.yaml")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: r.yaml:10: attributions.g2.params.n_step: unknown parameter (known: scale, fail_on_seed, fail_while_file_exists, sleep)"]


def test_cli_missing_file_exit_code_2(run_cli):
    proc = run_cli("run", "missing.yaml")
    assert proc.returncode == 2 and "missing.yaml: file not found" in proc.stderr and "Traceback" not in proc.stderr
