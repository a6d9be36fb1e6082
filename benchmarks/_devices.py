"""Shared by ``gpu_knn.py`` and ``gpu_attributions.py``: a device to time on, timings that wait for
it, peak memory, and a plugin package as it was at another git commit (the baseline), imported
under another name so that both versions run in the same process on the same device."""

from __future__ import annotations

import atexit
import importlib.util
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def add_device_args(parser: Any) -> None:
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda when present")
    parser.add_argument("--baseline", default=None, metavar="COMMIT",
                        help="also time this commit's code (e.g. 2c0e776) in the same run")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds; the best is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on CPU (1: timed in CPU time)")


def resolve_device(name: str | None, threads: int) -> Any:
    import torch

    if name is None:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")
    torch.set_num_threads(threads)
    return torch.device(name)


def describe(device: Any) -> str:
    import torch

    what = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return f"{what}; torch {torch.__version__}"


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(fns: dict[str, Callable[[], Any]], device: Any, repeat: int) -> dict[str, tuple[float, float, Any]]:
    """``name -> (best seconds, peak MB, last result)`` of each function.

    Each runs once first (its peak memory above what was in use before, and warm-up), then the
    functions are timed in turn, ``repeat`` rounds, the best kept: interleaving spreads the
    disturbances of a shared machine over all of them.  The device is synchronised around every
    call.  On CPU with one torch thread the clock is the process's CPU time (robust to other
    processes on the cores), otherwise wall time.
    """
    import torch

    clock = time.process_time if device.type == "cpu" and torch.get_num_threads() == 1 else time.perf_counter
    peaks, results, best = {}, {}, dict.fromkeys(fns, float("inf"))
    for name, fn in fns.items():
        before = reset_peak(device)
        results[name] = fn()
        sync(device)
        peaks[name] = peak_mb(device) - before
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            sync(device)
            start = clock()
            results[name] = fn()
            sync(device)
            best[name] = min(best[name], clock() - start)
    return {name: (best[name], peaks[name], results[name]) for name in fns}


def reset_peak(device: Any) -> float:
    """Start a new peak (torch's allocator on CUDA, the resident set's VmHWM on Linux); the MB in use now."""
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return float("nan")
    return peak_mb(device)


def peak_mb(device: Any) -> float:
    """Peak MB since :func:`reset_peak`: allocated device memory, or the peak RSS (NaN if unknown)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def baseline_package(commit: str, path: str, alias: str) -> ModuleType:
    """The package at ``path`` (e.g. ``plugins/xaibench_postprocess/knn``) as of ``commit``, imported
    as the top-level package ``alias``.  Its relative imports stay inside that copy; its absolute
    imports (``xaibench.components``...) resolve to the code checked out here."""
    tmp = Path(tempfile.mkdtemp(prefix="xaibench-baseline-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, path],
                          capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"--baseline {commit}: git archive failed: {done.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    root = tmp / path
    spec = importlib.util.spec_from_file_location(alias, root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def equal_or_error(a: Any, b: Any) -> str:
    """``"equal"`` when the arrays are identical, else their largest relative difference."""
    import numpy as np

    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    if np.array_equal(a, b):
        return "equal"
    if a.dtype.kind in "iu":
        return f"{np.mean(a != b):.2%} differ"
    scale = max(float(np.abs(b).max()), 1e-30)
    return f"max rel diff {float(np.abs(a - b).max()) / scale:.1e}"


NOISE = 0.9
"""A new/baseline ratio at or above this counts as no worse: a shared machine moves ~10 %."""


def print_baseline_verdict(what: str, speedups: dict[str, float]) -> None:
    """One line: each new/baseline ratio of ``what`` and whether all are no worse than the baseline."""
    if not speedups:
        return
    verdict = "met" if min(speedups.values()) >= NOISE else "NOT met (rerun: a shared machine moves ~10 %)"
    print(f"new / baseline {what}: {', '.join(f'{k}: {r:.2f}x' for k, r in speedups.items())} "
          f"(no worse than the baseline, within {1 - NOISE:.0%}: {verdict})")
