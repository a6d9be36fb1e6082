"""A corpus of malformed registries: each is rejected by ``validate`` in one line (exit 2, no
traceback, within 5 s) naming the file, the line and the key."""

from __future__ import annotations

import re
import time

import pytest
from conftest import TOY_REGISTRY

BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BOMB = 'description: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BOMB


def sub(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return edit


def add(extra: str):
    return lambda text: text + extra


def whole(new: str | bytes):
    return lambda text: new


# (id, edit of the toy registry, what the line must contain)
CORPUS = [
    ("tab-indent", sub("datasets:\n  d: toy-data", "datasets:\n\td: toy-data"), "YAML syntax error"),
    ("unclosed-list", sub("seeds: [0, 1]", "seeds: [0, 1"), "YAML syntax error"),
    ("duplicate-key", add("seeds: [2]\n"), "seeds: duplicate key"),
    ("unknown-top-level", add("seed: [3]\n"), "seed: unknown top-level key. Did you mean 'seeds'?"),
    ("experiment-dotdot", sub("experiment: toy", "experiment: ../../x"), "experiment: '../../x' contains a path separator"),
    ("experiment-absolute", sub("experiment: toy", "experiment: /etc/x"), "experiment: '/etc/x' contains a path separator"),
    ("experiment-dots", sub("experiment: toy", "experiment: a..b"), "contains '..'"),
    ("experiment-nul", sub("experiment: toy", 'experiment: "a\\0b"'), "experiment: 'a\\x00b' contains a NUL character"),
    ("experiment-long", sub("experiment: toy", "experiment: " + "x" * 300), "is 300 characters long; at most 100"),
    ("experiment-space", sub("experiment: toy", "experiment: my run"), "contains ' '; use letters"),
    ("experiment-empty", sub("experiment: toy", 'experiment: ""'), "experiment: must be a non-empty string"),
    ("experiment-int", sub("experiment: toy", "experiment: [1]"), "experiment: must be a non-empty string"),
    ("alias-slash", sub("g1: toy-gradient", "g/1: toy-gradient"), "attributions.g/1: alias 'g/1' contains a path separator"),
    ("alias-dotdot", sub("g1: toy-gradient", "'..': toy-gradient"), "alias '..' contains '..'"),
    ("alias-hidden", sub("g1: toy-gradient", ".g1: toy-gradient"), "alias '.g1' contains '.'"),
    ("seed-int32", sub("seeds: [0, 1]", "seeds: [0, 2147483648]"), "seeds: seed 2147483648 is out of range"),
    ("seed-negative", sub("seeds: [0, 1]", "seeds: [-1]"), "seeds: seed -1 is out of range"),
    ("seeds-string", sub("seeds: [0, 1]", "seeds: abc"), "seeds: expected a non-empty list of integers"),
    ("seeds-bool", sub("seeds: [0, 1]", "seeds: [true]"), "seeds: expected a non-empty list of integers"),
    ("seeds-empty", sub("seeds: [0, 1]", "seeds: []"), "seeds: expected a non-empty list of integers"),
    ("seeds-duplicate", sub("seeds: [0, 1]", "seeds: [1, 1]"), "seeds: duplicate values"),
    ("layer-typo", sub("layers: [input, deep]", "layers: [input, dep]"), "layers: no model has a layer 'dep'; did you mean 'deep'?"),
    ("layers-int", sub("layers: [input, deep]", "layers: 5"), "layers: expected a non-empty list of names"),
    ("exclude-everything", add("exclude: [{dataset: d}]\n"), "exclude: the filters select nothing"),
    ("exclude-every-method", add("exclude: [{attribution: [g1, g2]}]\n"), "exclude: the filters select no attribution"),
    ("exclude-unknown-key", add("exclude: [{method: g1}]\n"), "exclude.0.method: unknown filter key"),
    ("exclude-unknown-alias", add("exclude: [{attribution: g3}]\n"), "exclude.0.attribution: "),
    ("only-scalar", add("only: 5\n"), "only: expected a list of mappings"),
    ("results-is-a-file", add("results: afile\n"), "results: 'afile' is an existing file; expected a directory"),
    ("cache-is-a-file", add("cache: afile\n"), "cache: 'afile' is an existing file; expected a directory"),
    ("cache-under-a-file", add("cache: afile/cache\n"), "cache: 'afile/cache' cannot be created: afile is a file"),
    ("results-not-a-string", add("results: 5\n"), "results: must be a path string"),
    ("pool-zero-workers", add("executor: {component: process-pool, workers: 0}\n"), "executor.workers: "),
    ("pool-negative-threads", add("executor: {component: process-pool, threads_per_worker: -2}\n"), "executor.threads_per_worker"),
    ("executor-unknown", add("executor: {component: warp-drive}\n"), "executor: unknown executor 'warp-drive'"),
    ("executor-list", add("executor: [1, 2]\n"), "executor: expected a mapping"),
    ("tracker-unknown", add("tracking: {component: mlflw}\n"), "tracking: unknown tracker 'mlflw'"),
    ("memory-zero", add("memory_budget_mb: 0\n"), "memory_budget_mb: must be a positive integer"),
    ("memory-string", add("memory_budget_mb: lots\n"), "memory_budget_mb: must be a positive integer"),
    ("limits-negative", add("limits: {stage_seconds: -1}\n"), "limits.stage_seconds: must be a positive number"),
    ("limits-unknown", add("limits: {seconds: 1}\n"), "limits.seconds: unknown key"),
    ("limits-scalar", add("limits: 5\n"), "limits: expected a mapping"),
    ("datasets-empty", sub("datasets:\n  d: toy-data", "datasets: {}"), "datasets: the grid is empty"),
    ("datasets-list", sub("datasets:\n  d: toy-data", "datasets: [d]"), "datasets: expected a mapping of alias"),
    ("component-typo", sub("g1: toy-gradient", "g1: toy-gradiant"), "attributions.g1.component: unknown attribution 'toy-gradiant'"),
    ("param-type", sub("params: {scale: 2.0}", "params: {scale: big}"), "attributions.g2.params.scale"),
    ("param-unknown", sub("params: {scale: 2.0}", "params: {scael: 2.0}"), "attributions.g2.params.scael"),
    ("spec-unknown-key", sub("{component: toy-gradient, params: {scale: 2.0}}", "{component: toy-gradient, parms: {}}"),
     "attributions.g2.parms: unknown key"),
    ("params-list", sub("params: {scale: 2.0}", "params: [2.0]"), "attributions.g2.params: expected a mapping"),
    ("no-metrics", sub("metrics:\n  mean: toy-mean\n  pair: toy-pair-diff\n  aux: toy-needs-aux\n  norm: toy-weight-norm\n",
                       ""), "attributions: no metrics declared"),
    ("python-tag", sub("experiment: toy", "experiment: !!python/object/apply:os.system [echo hi]"), "YAML syntax error"),
    ("alias-bomb", add(BOMB), "alias bomb"),
    ("alias-cycle", add("loop: &x [*x]\n"), "a cycle"),
    ("deep-nesting", add("description: " + "[" * 200 + "]" * 200 + "\n"), "nested deeper than 64 levels"),
    ("not-utf8", lambda t: t.encode() + b"description: caf\xe9\n", "not UTF-8 text: byte 0xe9 at offset"),
    ("nul-byte", lambda t: t.encode() + b"description: a\x00b\n", "NUL character at offset"),
    ("top-level-list", whole("- a\n- b\n"), "expected a mapping at the top level"),
    ("too-large", add("# padding\n" * 120_000), "a registry may have at most 1048576"),
]
NO_LINE = {"too-large", "top-level-list"}  # problems of the whole file


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40 and len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("edit, expected", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malformed_registry_is_one_line(cli, workdir, edit, expected, request):
    (workdir / "afile").write_text("a file, not a directory")
    content = edit(TOY_REGISTRY)
    path = workdir / "r.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    start = time.perf_counter()
    code, out, err = cli("validate", "r.yaml")
    took = time.perf_counter() - start
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: r.yaml"), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err + out and took < 5
    if request.node.callspec.id not in NO_LINE:
        assert re.match(r"error: r\.yaml:\d+", lines[0]), lines[0]


def test_alias_bomb_is_refused_within_a_second_and_100_mb(session, workdir):
    import tracemalloc

    from xaibench.config import load_registry
    from xaibench.errors import ConfigError

    path = workdir / "bomb.yaml"
    path.write_text(TOY_REGISTRY + BOMB)  # 9**9 strings once expanded, from under 1 KB
    assert len(BOMB) < 1024
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="alias bomb"):
        load_registry(path, session.catalog)
    took = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 1.0 and peak < 100 * 2**20, (took, peak)
