"""Peak memory and time of one harmonization cell as the train split grows, and streamed = whole.

The cell: ``synth-landcover`` patches of 64 px (13 bands), ResNet-18 at width 0.25 trained one
epoch, Gradients x Features and Grad-CAM at layer ``deep``, post-processors ``none`` and
``harmonize`` (100,000 train vectors at most), metrics ``pearson-similarity`` and
``segmentation-agreement``, 128 test patches, one seed.  For each ``N`` (train patches) a fresh
``xaibench run`` goes from an empty cache in its own process; printed: its peak resident set size
(the largest ``ru_maxrss`` of the run, ``xaibench run``'s own allocator settings included), the
wall time and the time per 1,000 train patches, and their ratios to the smallest ``N``.  Then the
smallest ``N`` runs again with ``memory_budget_mb: 16``, so that every stage streams small chunks,
and the largest difference between the two results tables is printed (the property: equal within
1e-6).

    python benchmarks/bounded_memory.py                       # N = 1k, 2k, 4k, 8k, 16k (about an hour on 2 cores)
    python benchmarks/bounded_memory.py --n 1024 4096
    python benchmarks/bounded_memory.py --source /path/to/old/checkout --n 1024 2048   # "before"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REGISTRY = """\
experiment: bounded
seeds: [0]
layers: [deep]
memory_budget_mb: {budget}
datasets:
  lc: {{component: synth-landcover, params: {{n_train: {n}, n_val: 64, n_test: 128, patch_size: 64}}}}
models:
  resnet18: {{component: resnet-18, params: {{width: 0.25, train: {{epochs: 1}}}}}}
attributions:
  gxf: gradients-x-features
  gradcam: grad-cam
postprocessors:
  none: none
  harmonize: {{component: harmonize, params: {{k: 100, k_fraction: 0.001, k_min: 10, max_train_vectors: 100000}}}}
metrics:
  pearson: pearson-similarity
  seg: segmentation-agreement
tracking: {{component: mlflow, uri: "sqlite:///mlflow.db"}}
"""

# Runs `xaibench run` as a child and prints the child's peak RSS (KB), so each measurement is its own process.
MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:]).returncode; "
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def run_cell(workdir: Path, n: int, budget: int, source: str | None) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "registry.yaml").write_text(REGISTRY.format(n=n, budget=budget))
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "XAIBENCH_NO_REEXEC", "MLFLOW_TRACKING_URI")}
    if source:
        env["PYTHONPATH"] = os.pathsep.join([source, str(Path(source) / "plugins"), env.get("PYTHONPATH", "")])
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "xaibench", "run", "registry.yaml",
                          "--quiet"], cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("MAXRSS")), "")
    if not line or line.split()[2] != "0":
        raise SystemExit(f"N={n}: xaibench run failed\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return {"n": n, "peak_mb": int(line.split()[1]) / 1024, "seconds": seconds, "workdir": str(workdir)}


def table_values(workdir: str) -> dict:
    import pyarrow.parquet as pq

    rows = pq.read_table(Path(workdir) / "results" / "bounded.parquet").to_pylist()
    return {(r["model"], r["layer"], r["attribution"], r["postprocessor"], r["metric"], r["statistic"], r["sub_key"]):
            r["value"] for r in rows if r["status"] == "ok" and "seconds" not in r["statistic"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384], help="train patches")
    ap.add_argument("--budget", type=int, default=512, help="memory_budget_mb of the runs")
    ap.add_argument("--source", help="run the code of another checkout (PYTHONPATH), e.g. for a 'before' table")
    ap.add_argument("--no-equality", action="store_true", help="skip the streamed-vs-whole comparison")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bounded-memory-"))
    results = []
    print(f"{'N train':>8} {'peak RSS MB':>12} {'x first':>8} {'wall s':>8} {'s per 1k':>9} {'x first':>8}", flush=True)
    for n in sorted(args.n):
        r = run_cell(root / f"n{n}", n, args.budget, args.source)
        results.append(r)
        first = results[0]
        per_k = r["seconds"] / n * 1000
        print(f"{n:>8} {r['peak_mb']:>12.0f} {r['peak_mb'] / first['peak_mb']:>8.2f} {r['seconds']:>8.0f} "
              f"{per_k:>9.1f} {per_k / (first['seconds'] / first['n'] * 1000):>8.2f}", flush=True)
    report: dict = {"runs": results}
    if not args.no_equality:
        n = min(args.n)
        whole = table_values(results[0]["workdir"])
        streamed = run_cell(root / f"n{n}-streamed", n, 16, args.source)
        small = table_values(streamed["workdir"])
        diff = max(abs(whole[k] - small[k]) for k in whole) if whole.keys() == small.keys() else float("inf")
        report["equality"] = {"n": n, "values": len(whole), "max_abs_difference": diff, "same_keys": whole.keys() == small.keys()}
        print(f"streamed in 16 MB chunks vs budget {args.budget} MB at N={n}: {len(whole)} values, "
              f"max |difference| {diff:.2e} (peak RSS {streamed['peak_mb']:.0f} MB)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
