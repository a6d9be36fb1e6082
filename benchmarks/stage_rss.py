"""Peak RSS of a command's process tree, per stage of an ``xaibench run`` (the DFC2020-sized cell's
numbers in docs/streaming.md):

    python benchmarks/stage_rss.py xaibench run benchmarks/dfc2020_cell.yaml

Samples the RSS of the command and all its children (the run's supervisor and its child) every
100 ms; each ``computed <stage>`` log line closes a stage.  Prints one line per stage (seconds, peak
MB), then the part after the last stage (results, MLflow logging) and the whole run's peak.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

try:
    import psutil
except ImportError:
    sys.exit("benchmarks/stage_rss.py needs psutil: pip install psutil")


def main(cmd: list[str]) -> int:
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    peak = {"stage": 0, "run": 0}

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                rss = 0
            peak["stage"], peak["run"] = max(peak["stage"], rss), max(peak["run"], rss)
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    start = t0
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(line)
        if "computed " in line:
            now = time.time()
            print(f"[stage_rss] {line.split('computed ', 1)[1].strip()}: {now - start:.1f} s, "
                  f"peak {peak['stage'] / 2**20:,.0f} MB", flush=True)
            start, peak["stage"] = now, 0
    rc = proc.wait()
    print(f"[stage_rss] after the last stage: {time.time() - start:.1f} s, peak {peak['stage'] / 2**20:,.0f} MB")
    print(f"[stage_rss] whole run: {time.time() - t0:.0f} s, peak {peak['run'] / 2**20:,.0f} MB, exit {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
