"""Overhead of the ``ray`` executor per grid cell, against the ``local`` executor in the same run.

The grid is made of the numpy-only toy components of ``tests/toy_plugin`` (each stage
takes about a millisecond): 1 dataset, 1 model, ``seeds`` x 2 layers x 25 methods x 2
post-processors (``toy-identity`` and ``toy-mean-shift``, which needs features, a prepare
stage and train attributions) with one metric per cell, so 1,000 cells are ~3,060 stages.
Runs are tracked in memory and the ``report`` plugin's per-cell figures are off (this
measures the executor, not tracking), and start from an empty cache.  Ray is started first (its start-up time is printed apart) and warmed up on
a small grid so that worker start-up is not counted per cell either.

Prints wall-clock seconds, ms per cell and per stage, and the ratio ray / local.  The
overhead per cell is (ray - local) / cells: negative when Ray's parallelism on ``--cpus``
CPUs more than pays for its scheduling.  ``overhead x cpus`` charges Ray's CPUs as if the
work were serial (an upper bound of the per-task cost).

    python benchmarks/ray_overhead.py                    # 1,000 cells on 2 CPUs
    python benchmarks/ray_overhead.py --cells 200 --cpus 2
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METHODS = 25


def registry(cells: int, executor: str, cache: Path) -> str:
    seeds = max(1, cells // (2 * METHODS * 2))
    methods = "\n".join(f"  m{i}: {{component: toy-gradient, params: {{scale: {1 + i / 10}}}}}" for i in range(METHODS))
    return f"""\
experiment: overhead
seeds: {list(range(seeds))}
layers: [input, deep]
datasets: {{d: toy-data}}
models: {{lin: toy-linear}}
attributions:
{methods}
postprocessors: {{none: toy-identity, shift: toy-mean-shift}}
metrics: {{mean: toy-mean}}
cache: {cache}
results: {cache.parent / "results"}
tracking: {{component: xaibench-testing-memory}}
executor: {executor}
"""


def setup_plugins(tmp: Path):
    """A plugin session with the toy plugin (found by workers through a dist-info on PYTHONPATH)."""
    sys.path[:0] = [str(REPO / "tests"), str(REPO / "plugins")]
    from conftest import TOY_SRC, write_dist_info

    write_dist_info(tmp / "dists", "xaibench-toy", "0.1.0", {"toy": "xaibench_toy.plugin"})
    sys.path[:0] = [str(tmp / "dists"), str(TOY_SRC)]
    importlib.invalidate_caches()
    import xaibench_ray.plugin
    from xaibench.plugins import PluginSession, disabled_from_env
    from xaibench.testing.session import ComponentsPlugin, MemoryTracker

    # The report plugin draws a figure per cell in the driver (~0.15 s each): a cost of tracking that
    # both executors pay alike, which would hide the executor's own.
    session = PluginSession(disabled={"report"} | disabled_from_env())
    if "ray" not in session.plugins:
        session.add(xaibench_ray.plugin, name="ray")
    session.add(ComponentsPlugin([MemoryTracker]), name="memory-tracker")
    return session


def timed_run(session, text: str, path: Path):
    from xaibench.config import load_registry
    from xaibench.runner import run

    path.write_text(text)
    config = load_registry(path, session.catalog)
    start = time.perf_counter()
    summary = run(config, session, quiet=True)
    elapsed = time.perf_counter() - start
    assert summary.ok, summary.failed[:3]
    return elapsed, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=1000, help="grid cells (multiple of 100)")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    try:
        session = setup_plugins(tmp)
        import ray

        from xaibench_ray.cluster import connect

        start = time.perf_counter()
        connect(None, num_cpus=args.cpus, verbose=False)
        print(f"ray start-up: {time.perf_counter() - start:.1f} s (ray {ray.__version__}, {args.cpus} CPUs)")
        warm, _ = timed_run(session, registry(100, "{component: ray}", tmp / "warm" / "cache"), tmp / "warm.yaml")
        print(f"warm-up (100 cells, workers starting): {warm:.1f} s")
        t_local, s_local = timed_run(session, registry(args.cells, "{component: local}", tmp / "local" / "cache"),
                                     tmp / "local.yaml")
        t_ray, s_ray = timed_run(session, registry(args.cells, "{component: ray}", tmp / "ray" / "cache"),
                                 tmp / "ray.yaml")
        ray.shutdown()
        report(s_local, t_local, s_ray, t_ray, args.cpus)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # thousands of cache files: slow on some filesystems


def report(s_local, t_local: float, s_ray, t_ray: float, cpus: int) -> None:
    cells = sum(u.kind == "cell" for u in s_local.plan.units)
    stages = s_local.stages
    assert s_ray.computed == stages == s_local.computed
    print(f"grid: {cells} cells, {stages} stages")
    print(f"{'executor':<10}{'seconds':>10}{'ms/cell':>10}{'ms/stage':>10}{'ratio':>8}")
    for name, t in (("local", t_local), ("ray", t_ray)):
        print(f"{name:<10}{t:>10.2f}{1000 * t / cells:>10.2f}{1000 * t / stages:>10.2f}{t / t_local:>8.2f}")
    print(f"ray overhead: {1000 * (t_ray - t_local) / cells:+.2f} ms per cell (target < 50), "
          f"{1000 * (t_ray - t_local) / stages:+.2f} ms per stage; "
          f"counting all {cpus} CPUs busy: {1000 * (t_ray * cpus - t_local) / cells:+.2f} ms per cell")


if __name__ == "__main__":
    main()
