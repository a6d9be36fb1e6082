"""What verifying the table's entries costs a resumed run (issue 23).

A resumed run verifies every ``train`` and ``metric`` entry whole before it builds the table
from their metadata (``xaibench.runner._resume``): entry checksum, sealed sidecar.  This
measures that against the plain existence check it replaced, on a cache of ``--metrics`` metric
entries (a few values each, as a grid's) and ``--models`` weight entries of ``--weights-mb`` MB,
and prints both, their ratio and the peak resident memory.

    OMP_NUM_THREADS=1 python benchmarks/resume_integrity.py
    python benchmarks/resume_integrity.py --metrics 20000 --models 10 --weights-mb 100
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

import numpy as np

from xaibench.bundle import Bundle
from xaibench.cache import Cache
from xaibench.hashing import stable_hash


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--metrics", type=int, default=5000)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--weights-mb", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        cache = Cache(root)
        keys = []
        for i in range(args.metrics):
            key = stable_hash({"metric": i})
            values = [{"statistic": "value", "value": float(i), "sub_key": str(c)} for c in range(8)]
            cache.put(key, Bundle(meta={"values": values}))
            keys.append(key)
        n = int(args.weights_mb * 2**20 / 4)
        for i in range(args.models):
            key = stable_hash({"train": i})
            cache.put(key, Bundle({"w": np.random.default_rng(i).random(n, dtype=np.float32)}, {"metrics": {"acc": 0.5}}))
            keys.append(key)

        def timed(fn) -> float:
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - start)
            return best

        plain = timed(lambda: [cache.has(k) for k in keys])
        verified = timed(lambda: [cache.has(k) and cache.verify(k) is None for k in keys])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        total_mb = args.models * args.weights_mb
        print(f"{args.metrics} metric entries + {args.models} x {args.weights_mb:g} MB weights ({total_mb:g} MB)")
        print(f"exists only: {plain:.3f} s   verified: {verified:.3f} s   ratio {verified / plain:.1f}x   "
              f"added {verified - plain:.3f} s   peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
