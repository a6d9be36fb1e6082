"""Generation speed of the synthetic datasets, on one core.

Prints patches (or cubes) per second for each dataset and the ratio of its time per
patch to a reference measured in the same run: drawing the patch's 13 x S x S values
of Gaussian noise with ``numpy.random.Generator.standard_normal`` (the least any
generator with sensor noise must do).  Target: a few hundred 13x64x64 patches/s.

    python benchmarks/synth_speed.py [--n 512] [--size 64]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, set before numpy loads
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    """Smallest wall time of ``repeats`` calls (seconds): the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from xaibench_synth.bioclim import SynthBioclim
    from xaibench_synth.forecast import SynthWeatherForecast
    from xaibench_synth.landcover import SynthLandcover
    from xaibench_synth.sar_optical import SynthSarOptical

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="patches per dataset")
    parser.add_argument("--size", type=int, default=64, help="patch side")
    args = parser.parse_args()
    n, size = args.n, args.size

    rng = np.random.default_rng(0)
    ref = best_of(lambda: [rng.standard_normal((13, size, size), dtype=np.float32) for _ in range(n)]) / n
    print(f"reference: Gaussian noise for one 13x{size}x{size} patch: {ref * 1e3:.3f} ms")

    split = {"n_train": n, "n_val": 0, "n_test": 0, "patch_size": size}
    cases = {
        "synth-landcover": SynthLandcover(SynthLandcover.Params(**split)),
        "synth-sar-optical (s2+s1, clouds 0-50 %)": SynthSarOptical(
            SynthSarOptical.Params(**split, train_cloud_fraction=[0.0, 0.5])
        ),
        "synth-bioclim": SynthBioclim(SynthBioclim.Params(**split)),
    }
    print(f"{'dataset':44s} {'patches/s':>10s} {'ms/patch':>9s} {'x reference':>12s}")
    for name, ds in cases.items():
        per = best_of(lambda ds=ds: ds.load(0)) / n
        print(f"{name:44s} {1 / per:10.0f} {per * 1e3:9.2f} {per / ref:12.1f}")

    cubes = max(n // 8, 8)
    fc = SynthWeatherForecast(SynthWeatherForecast.Params(n_train=cubes, n_val=0, n_test=0))
    fc.info()  # sensitivities are computed once and cached
    per = best_of(lambda: fc.load(0)) / cubes
    frames = fc.params.frames
    print(
        f"{'synth-weather-forecast (30 x 6 x 32 x 32 cube)':44s} {1 / per:10.0f} {per * 1e3:9.2f} {'':>12s}"
        f"  ({frames / per:.0f} frames/s)"
    )


if __name__ == "__main__":
    main()
