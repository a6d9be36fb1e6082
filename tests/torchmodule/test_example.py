"""The five-minute path of docs/own-model.md: examples/own-model runs in one command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "own-model"
COMMAND = Path(sys.executable).with_name("xaibench")


@pytest.mark.skipif(not COMMAND.exists(), reason="the xaibench command is not installed beside this python")
def test_own_model_example_runs_in_one_command(tmp_path):
    work = tmp_path / "own-model"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", "*.db", "results", "mlartifacts"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env.update(XAIBENCH_DISABLE_PLUGINS="report", OMP_NUM_THREADS="1")
    # the console script, not `python -m`: mynet.py is found in the working directory all the same
    done = subprocess.run([str(COMMAND), "run", "registry.yaml", "--quiet"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pq.read_table(work / "results" / "own-model.parquet").to_pylist()
    ok = {(r["layer"], r["attribution"]) for r in table if r["status"] == "ok" and r["attribution"]}
    assert ok == {(layer, m) for layer in ("input", "deep") for m in ("gradcam", "ig", "deeplift", "gbp")}
