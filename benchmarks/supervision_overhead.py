"""What the supervised ``xaibench run`` costs (``xaibench/supervisor.py``): the command against the
same command in one process (``XAIBENCH_NO_REEXEC=1``, with the same allocator settings), and the
crash journal's cost per stage.

The grid: ``synth-landcover`` (64 train, 32 test patches of 32 px), ResNet-18 at width 0.25 trained
one epoch, Gradients x Features at ``deep``, no post-processor, ``segmentation-agreement``; MLflow in
SQLite.  Each mode runs ``--repeats`` times from an empty cache, then once fully cached; printed:
the median wall time of each and their ratio (supervised / one process), and the journal's
microseconds per stage (``crash`` lookup + ``in_flight`` write and removal) against a stage's.

    OMP_NUM_THREADS=1 python benchmarks/supervision_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xaibench.cli import MALLOC_TUNABLES
from xaibench.supervisor import CrashJournal

REGISTRY = """\
experiment: supervision
seeds: [0]
layers: [deep]
datasets:
  lc: {component: synth-landcover, params: {n_train: 64, n_val: 16, n_test: 32, patch_size: 32}}
models:
  resnet18: {component: resnet-18, params: {width: 0.25, train: {epochs: 1}}}
attributions:
  gxf: gradients-x-features
postprocessors:
  none: none
metrics:
  seg: segmentation-agreement
tracking: {component: mlflow, uri: "sqlite:///mlflow.db"}
"""


def timed_run(workdir: Path, supervised: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("XAIBENCH_NO_REEXEC", "MLFLOW_TRACKING_URI")}
    env.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)
    if not supervised:
        env["XAIBENCH_NO_REEXEC"] = "1"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "xaibench", "run", "registry.yaml", "-q"], cwd=workdir, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"xaibench run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return time.perf_counter() - start


def journal_us(n: int = 2000) -> float:
    with tempfile.TemporaryDirectory() as d:
        journal = CrashJournal(d)
        start = time.perf_counter()
        for i in range(n):
            key = f"{i:064x}"
            if journal.crash(key) is None:
                with journal.in_flight(key, "label"):
                    pass
        return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="supervision-"))
    times: dict[tuple[bool, str], list[float]] = {}
    for i in range(args.repeats):
        for supervised in (False, True):  # alternated, so that machine load drifts over both
            work = root / f"{supervised}-{i}"
            work.mkdir()
            (work / "registry.yaml").write_text(REGISTRY)
            times.setdefault((supervised, "fresh"), []).append(timed_run(work, supervised))
            times.setdefault((supervised, "cached"), []).append(timed_run(work, supervised))
    for what in ("fresh", "cached"):
        one, sup = statistics.median(times[False, what]), statistics.median(times[True, what])
        print(f"{what:>6} run: one process {one:6.2f} s, supervised {sup:6.2f} s, ratio {sup / one:.3f} "
              f"(medians of {args.repeats})")
    print(f"crash journal: {journal_us():.0f} us per stage")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
