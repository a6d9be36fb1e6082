"""The report in a real browser (headless Debian Chromium through Playwright): it loads from
disk with no console error, fetches nothing from the network, and every image decodes."""

from __future__ import annotations

import os
import shutil

import pytest

from .conftest import chromium

pytestmark = pytest.mark.skipif(chromium() is None, reason="no Chromium at /usr/bin/chromium (run .ci/browser.sh)")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_report_renders_in_chromium(built, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")

    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(built.index.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({src: e.getAttribute('src'), complete: e.complete, w: e.naturalWidth}))")
            title = page.title()
            headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    assert len(images) == 5 and all(i["complete"] and i["w"] > 0 for i in images), images
    assert title == "xaibench: tiny-report"
    assert headings[:2] == ["Experiment", "Similarity between methods"] and "Attribution maps" in headings
    assert shot.stat().st_size > 10_000
    if os.environ.get("XAIBENCH_SCREENSHOT_DIR"):  # to look at the page: keep the screenshot
        shutil.copy(shot, os.environ["XAIBENCH_SCREENSHOT_DIR"])
