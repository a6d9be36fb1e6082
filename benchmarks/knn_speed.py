"""Speed of the kNN backends used by harmonization, relative to exact faiss in the same run.

For N train vectors, k neighbours and each dimension D, every available backend
builds its index on the same data and answers the same queries; the script prints
queries/s, the time ratio to exact faiss (``IndexFlatIP``; lower is better, the
target for ``torch`` on CPU is <= 1.5), and for every backend the recall@k against
exact faiss and the error of the neighbour-averaged attributions that
harmonization would output.  Attributions are 10-class vectors per train vector:
``smooth`` (default) makes them a random linear function of the unit feature
vector, as real attributions vary with the features, so a missed neighbour is
replaced by a similar one; ``--values random`` draws them independently, an
upper bound where any swapped neighbour counts fully.

Data: a mixture of 256 Gaussian clusters (centres N(0, 1), spread 0.5), a rough
stand-in for a CNN layer's features; ``--data gaussian`` gives structureless
N(0, 1) vectors, the hardest case for IVF/HNSW.  Cosine metric.

    python benchmarks/knn_speed.py                       # N=100000, k=100, D=16,128,512, 2048 queries
    python benchmarks/knn_speed.py --queries 512 --backends faiss torch
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xaibench.plugins import PluginSession
from xaibench_postprocess.knn import l2_normalise
from xaibench_postprocess.quality import averaged_error, recall_at_k

REFERENCE = "faiss"
CATALOG = PluginSession().catalog  # every registered backend, third parties' included


def get_backend(name: str):
    return CATALOG.create("knn_backend", name)


def make_data(kind: str, n: int, q: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, d), dtype=np.float32), rng.standard_normal((q, d), dtype=np.float32)
    centres = rng.standard_normal((256, d), dtype=np.float32)

    def draw(m: int) -> np.ndarray:
        return centres[rng.integers(0, 256, m)] + 0.5 * rng.standard_normal((m, d), dtype=np.float32)

    return draw(n), draw(q)


def make_values(kind: str, train: np.ndarray, seed: int) -> np.ndarray:
    """``(N, 10)`` attribution vectors of the train vectors."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal((train.shape[0], 10)).astype(np.float32)
    unit = l2_normalise(train)
    return unit @ rng.standard_normal((train.shape[1], 10)).astype(np.float32)


def time_backend(name: str, train: np.ndarray, queries: np.ndarray, k: int, repeat: int):
    """(build seconds, best query seconds, neighbours) for one backend."""
    backend = get_backend(name)
    start = time.perf_counter()
    backend.fit(train, "cosine")
    build = time.perf_counter() - start
    backend.query(queries[:64], k)  # warm-up: thread pools, first-call allocations
    best, idx = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        idx = backend.query(queries, k)
        best = min(best, time.perf_counter() - start)
    backend.release()
    return build, best, idx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="train vectors")
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 128, 512])
    parser.add_argument("--queries", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3, help="query timings kept: the best of this many")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch and faiss (OpenMP)")
    parser.add_argument("--backends", nargs="+", default=None, help="default: every available one")
    parser.add_argument("--data", choices=["clustered", "gaussian"], default="clustered")
    parser.add_argument("--values", choices=["smooth", "random"], default="smooth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    names = args.backends or CATALOG.names("knn_backend")
    skipped = {n: get_backend(n).available() for n in names}
    names = [REFERENCE] + [n for n in names if n != REFERENCE and skipped[n] is None]
    for n, reason in skipped.items():
        if reason is not None:
            print(f"skipping {n}: {reason}")
    print(
        f"N={args.n} k={args.k} queries={args.queries} threads={args.threads} data={args.data} values={args.values} "
        f"torch {torch.__version__} faiss {faiss.__version__}"
    )

    torch_ratios = {}
    for d in args.dims:
        train, queries = make_data(args.data, args.n, args.queries, d, args.seed)
        values = make_values(args.values, train, args.seed + 1)
        print(f"\nD={d}")
        print(
            f"{'backend':<11} {'build s':>8} {'queries/s':>10} {'time/faiss':>10} {'recall@k':>9} {'attr max|err|':>13} {'attr rel L2':>11}"
        )
        ref_time, ref_idx = None, None
        for name in names:
            build, seconds, idx = time_backend(name, train, queries, args.k, args.repeat)
            if name == REFERENCE:
                ref_time, ref_idx = seconds, idx
            err = averaged_error(values, ref_idx, idx)
            ratio = seconds / ref_time
            if name == "torch":
                torch_ratios[d] = ratio
            print(
                f"{name:<11} {build:8.2f} {args.queries / seconds:10.0f} {ratio:10.2f} "
                f"{recall_at_k(ref_idx, idx):9.4f} {err['max_abs']:13.2e} {err['rel_l2']:11.2e}"
            )
    if torch_ratios:
        verdict = "met" if max(torch_ratios.values()) <= 1.5 else "NOT met"
        shown = ", ".join(f"D={d}: {r:.2f}" for d, r in torch_ratios.items())
        print(f"\ntorch / faiss exact query time: {shown} (target <= 1.5: {verdict})")


if __name__ == "__main__":
    main()
