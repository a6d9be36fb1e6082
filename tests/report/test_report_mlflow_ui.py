"""The tracked runs as a person sees them: an MLflow server on the run's SQLite store lists the
combinations as flat runs, serves each attribution cell's ``figures/attribution_maps.png``, and its
UI (headless Chromium) opens the experiment on the runs table, where a cell's metric shows."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import pytest

from .conftest import chromium
from .helpers import png_size

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

STARTUP_TIMEOUT = 120  # seconds; MLflow's server imports take ~10 s idle, ~30 s on a busy 2-core CI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("mlflow-server") / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{built.db.resolve()}",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, cwd=built.workdir, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {STARTUP_TIMEOUT} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        # the server and its workers are alone in the session (process group) started for them
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _json(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.mark.slow  # starting MLflow's server takes 10-30 s
def test_server_lists_child_runs_and_serves_their_figures(server):
    exp = _json(f"{server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny-report")["experiment"]
    runs = _json(f"{server}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})
    runs = runs["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    invocations = [r for r, t in zip(runs, tags) if t.get("xaibench.kind") == "invocation"]
    children = [(r, t) for r, t in zip(runs, tags) if t.get("xaibench.kind") == "unit"]
    assert len(invocations) == 1 and len(children) == 18  # 2 seeds x (1 model + 2 layers x 2 methods x 2 pps)
    assert not any("mlflow.parentRunId" in t for t in tags)  # flat: one row per combination in the UI
    invocation = tags[runs.index(invocations[0])]["xaibench.invocation"]
    assert {t["xaibench.invocation"] for _, t in children} == {invocation}
    assert {t["key"]: t["value"] for t in exp["tags"]}["mlflow.experimentKind"] == "custom_model_development"
    cells = [r for r, t in children if "attribution" in t]
    assert len(cells) == 16 and all(r["info"]["status"] == "FINISHED" for r, _ in children)
    for run in cells[:3]:
        run_id = run["info"]["run_id"]
        listing = _json(f"{server}/api/2.0/mlflow/artifacts/list?" + urlencode({"run_id": run_id, "path": "figures"}))
        assert [f["path"] for f in listing["files"]] == ["figures/attribution_maps.png"]
        query = urlencode({"path": "figures/attribution_maps.png", "run_uuid": run_id})
        with urllib.request.urlopen(f"{server}/get-artifact?{query}", timeout=30) as r:
            width, height = png_size(r.read())
        assert width > 300 and height > 300
    model_run = next(r for r, t in children if "attribution" not in t)
    listing = _json(f"{server}/api/2.0/mlflow/artifacts/list?" + urlencode({"run_id": model_run["info"]["run_id"]}))
    assert "figures" not in [f["path"] for f in listing.get("files", [])]


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no Chromium at /usr/bin/chromium (run .ci/browser.sh)")
def test_ui_opens_on_the_runs_table_with_a_cells_metric(server, built, tmp_path):
    """The link `xaibench run` prints opens the runs table (not the GenAI traces view); ticking a
    metric column shows a known cell's value."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")

    link = next(line.strip() for line in built.run_output.splitlines() if "workflowType=machine_learning" in line)
    url = link.replace("http://127.0.0.1:5000", server)
    exp = _json(f"{server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=tiny-report")["experiment"]
    assert f"/#/experiments/{exp['experiment_id']}/runs?" in url
    name = "lc/uhnet/seed1/deep/gxf/harmonize"
    runs = _json(f"{server}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]],
                                                           "filter": f"attributes.run_name = '{name}'"})["runs"]
    (expected,) = [m["value"] for m in runs[0]["data"]["metrics"] if m["key"] == "seg.f1_micro"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url, wait_until="load")
            page.get_by_text(name, exact=True).wait_for(timeout=90_000)
            body = page.inner_text("body")
            page.get_by_role("button", name="Columns").click()
            page.get_by_text("seg.f1_micro", exact=True).click()
            page.keyboard.press("Escape")
            page.get_by_role("columnheader", name="seg.f1_micro").first.wait_for(timeout=30_000)
            rows: dict[str, list[str]] = {}
            for index, text in page.eval_on_selector_all(
                    "[role=row][row-index]", "els => els.map(e => [e.getAttribute('row-index'), e.innerText])"):
                rows.setdefault(index, []).append(text)
            shot = tmp_path / "mlflow-ui.png"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert "Runs" in body and "No data available" not in body and "matching runs" in body
    cells = [name in "\n".join(texts) for texts in rows.values()]
    assert sum(cells) == 1 and len(rows) == 19  # 18 combinations and the invocation's run, flat
    (row,) = ["\n".join(texts) for texts in rows.values() if name in "\n".join(texts)]
    numbers = [float(x) for x in row.split() if x.replace(".", "", 1).replace("e-", "", 1).isdigit()]
    assert any(abs(v - expected) <= 1e-6 * max(1.0, abs(expected)) for v in numbers), (row, expected)
    assert shot.stat().st_size > 10_000
    if os.environ.get("XAIBENCH_SCREENSHOT_DIR"):
        import shutil

        shutil.copy(shot, os.environ["XAIBENCH_SCREENSHOT_DIR"])
