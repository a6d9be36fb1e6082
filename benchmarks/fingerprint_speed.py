"""Speed of the real-data loaders' fingerprint() (it runs at every `xaibench run` / `validate`).

Generates a BigEarthNet-v1-like copy (one folder per patch, 12 band GeoTIFFs and a JSON each: 13
empty files) of ``--files`` files in a temporary directory, then times ``bigearthnet``'s
``fingerprint()`` in ``files`` mode (relative path, size and mtime of every file) and ``names``
mode (paths only), warm cache, best of 3, and extrapolates linearly to the 590,326 patches (7.7
million files) of BigEarthNet v1.  Target: well under a minute for a full copy on a local disk.

    python benchmarks/fingerprint_speed.py [--files 20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
FULL_PATCHES = 590_326


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_copy(root: Path, n_files: int) -> int:
    """Patch folders of 13 empty files until ``n_files`` files; returns the number of patches."""
    patches = max(1, n_files // (len(BANDS) + 1))
    for i in range(patches):
        name = f"S2A_MSIL2A_20170613T101031_{i // 1000}_{i % 1000}"
        d = root / name
        d.mkdir(parents=True)
        for b in BANDS:
            (d / f"{name}_{b}.tif").touch()
        (d / f"{name}_labels_metadata.json").touch()
    return patches


def main() -> None:
    from xaibench_eodata.bigearthnet import BigEarthNet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="files in the generated copy")
    parser.add_argument("--keep", type=Path, help="generate the copy here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.keep or Path(tmp)) / "BigEarthNet-v1.0"
        patches = make_copy(root, args.files)
        files = patches * (len(BANDS) + 1)
        print(f"copy: {patches} patch folders, {files} files")
        for mode in ("files", "names"):
            ds = BigEarthNet(BigEarthNet.Params(root=str(root), fingerprint=mode))
            ds.fingerprint()  # warm the directory cache
            t = best_of(ds.fingerprint)
            full = t / patches * FULL_PATCHES
            print(f"{mode:6s}: {t * 1000:7.1f} ms  ({t / files * 1e6:.2f} us/file)  "
                  f"-> {full:5.1f} s for the {FULL_PATCHES} patches of BigEarthNet v1")


if __name__ == "__main__":
    main()
