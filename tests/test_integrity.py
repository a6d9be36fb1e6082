"""Integrity of the cache: every tampering is detected, reported once naming the stage, and the
table equals an untampered run's."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time

import pytest
from conftest import TOY_REGISTRY, write

from xaibench.cache import Cache
from xaibench.config import load_registry
from xaibench.planning import build_plan
from xaibench.runner import run
from xaibench.testing.session import ComponentsPlugin, MemoryTracker, registered

REGISTRY = TOY_REGISTRY.replace("seeds: [0, 1]", "seeds: [0]") + "tracking: {component: xaibench-testing-memory}\n"


def grid(session, path):
    with registered(ComponentsPlugin([MemoryTracker]), session, "memory") as s:
        config = load_registry(path, s.catalog)
        return run(config, s, quiet=True), build_plan(config, s.catalog)


def rows(table):
    return sorted(repr(sorted((k, "nan" if v != v else v) for k, v in r.items())) for r in table.to_pylist())


@pytest.fixture
def baseline(session, workdir):
    path = write(workdir / "r.yaml", REGISTRY)
    summary, plan = grid(session, path)
    assert summary.ok
    return path, plan, rows(summary.table), Cache(summary.plan.config.cache)


def stage(plan, kind, n=0, **spec):
    found = [s for s in plan.stages() if s.kind == kind and all(s.spec.get(k) == v for k, v in spec.items())]
    return found[n]


def edit_sidecar(cache, key, fn):
    path = cache.path(key, ".json")
    side = json.loads(path.read_text())
    fn(side)
    path.write_text(json.dumps(side))


def flip_digit(cache, plan):
    s = stage(plan, "metric", scope="attribution")
    edit_sidecar(cache, s.key, lambda d: d["meta"]["values"][0].update(value=d["meta"]["values"][0]["value"] + 0.1))
    return s


def drop_values(cache, plan):
    s = stage(plan, "metric", scope="attribution")
    edit_sidecar(cache, s.key, lambda d: d["meta"].pop("values"))
    return s


def swap_sidecar(cache, plan):
    a, b = stage(plan, "metric", 0, scope="attribution"), stage(plan, "metric", 1, scope="attribution")
    shutil.copy(cache.path(b.key, ".json"), cache.path(a.key, ".json"))
    return a


def delete_sidecar(cache, plan):
    s = stage(plan, "train")
    cache.path(s.key, ".json").unlink()
    return s


def flip_payload_byte(cache, plan):
    s = stage(plan, "metric", scope="methods")
    raw = bytearray(cache.path(s.key).read_bytes())
    raw[-5] ^= 0xFF
    cache.path(s.key).write_bytes(bytes(raw))
    return s


def truncate_entry(cache, plan):
    s = stage(plan, "train")
    raw = cache.path(s.key).read_bytes()
    cache.path(s.key).write_bytes(raw[: len(raw) // 2])
    return s


def swap_entry_and_sidecar(cache, plan):
    a, b = stage(plan, "metric", 0, scope="attribution"), stage(plan, "metric", 1, scope="attribution")
    for suffix in (".xbc", ".json"):
        shutil.copy(cache.path(b.key, suffix), cache.path(a.key, suffix))
    return a


def swap_entry_file(cache, plan):
    a, b = stage(plan, "metric", 0, scope="attribution"), stage(plan, "metric", 1, scope="attribution")
    shutil.copy(cache.path(b.key), cache.path(a.key))
    return a


def legacy_sidecar(cache, plan):  # a sidecar written before seals
    s = stage(plan, "metric", scope="model")
    edit_sidecar(cache, s.key, lambda d: d.pop("seal"))
    return s


TAMPERINGS = [flip_digit, drop_values, swap_sidecar, delete_sidecar, flip_payload_byte, truncate_entry,
              swap_entry_and_sidecar, swap_entry_file, legacy_sidecar]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=[t.__name__ for t in TAMPERINGS])
def test_tampering_is_detected_and_the_table_equals_an_untampered_runs(session, baseline, tamper, caplog):
    path, plan, expected, cache = baseline
    victim = tamper(cache, plan)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        summary, _ = grid(session, path)
    assert summary.ok and rows(summary.table) == expected
    reports = [r.getMessage() for r in caplog.records if victim.key in r.getMessage()]
    assert len(reports) == 1 and (victim.label or victim.kind) in reports[0], reports
    assert cache.verify(victim.key) is None  # repaired: the next run trusts it again
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xaibench"):
        again, _ = grid(session, path)
    assert again.computed == 0 and rows(again.table) == expected and not caplog.records


def test_meta_never_returns_a_tampered_sidecar(baseline):
    _, plan, _, cache = baseline
    s = flip_digit(cache, plan)
    meta = cache.meta(s.key)
    assert meta == cache.get(s.key).meta  # the verified entry's, not the edited sidecar's


def test_torn_temp_files_are_collected_and_live_ones_kept(session, baseline):
    path, plan, expected, cache = baseline
    folder = cache.path(stage(plan, "train").key).parent
    old, fresh = folder / ".x.xbc.abc.tmp", folder / ".y.xbc.def.tmp"
    old.write_bytes(b"torn" * 1000)
    fresh.write_bytes(b"being written")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    summary, _ = grid(session, path)
    assert not old.exists() and fresh.exists() and rows(summary.table) == expected


def test_aliases_with_the_same_settings_share_stages_not_runs(session, workdir):
    text = REGISTRY.replace("  g1: toy-gradient\n", "  g1: toy-gradient\n  twin: toy-gradient\n")
    summary, plan = grid(session, write(workdir / "r.yaml", text))
    cells = [u for u in plan.units if u.kind == "cell"]
    assert len({u.key for u in plan.units}) == len(plan.units) == 1 + 3 * 2 * 2  # model + 3 methods x 2 pps x 2 layers
    g1 = {u.coords.given()["postprocessor"] + u.coords.given()["layer"]: u for u in cells if u.coords.attribution == "g1"}
    twin = [u for u in cells if u.coords.attribution == "twin"]
    assert all(u.core.key == g1[u.coords.given()["postprocessor"] + u.coords.given()["layer"]].core.key for u in twin)
    assert len(MemoryTracker.records) == len(plan.units) and len({r.key for r in MemoryTracker.records}) == len(plan.units)
    run_keys = {r["attribution"]: set() for r in summary.table.to_pylist()}
    for r in summary.table.to_pylist():
        run_keys[r["attribution"]].add(r["run_key"])
    assert not run_keys["g1"] & run_keys["twin"]
