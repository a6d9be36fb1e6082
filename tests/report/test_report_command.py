"""`xaibench report` on a real (tiny) experiment: files, images, HTML, numbers."""

from __future__ import annotations

import base64
import math
import re

from .helpers import parse, png_size

SECTIONS = ["overview", "similarity", "segmentation", "maps", "original-vs-harmonized", "leaderboard", "summary", "problems"]


def test_report_files_and_every_image(built):
    assert "wrote" in built.report_output and built.index.exists()
    page = parse(built.index.read_text())
    assert page.errors == []
    assert sorted(img["src"] for img in page.images) == [
        "figures/maps-lc-uhnet-deep.png", "figures/maps-lc-uhnet-input.png",
        "figures/original-vs-harmonized-ovh-lc-uhnet.png",
        "figures/similarity-pearson-lc-uhnet-deep.png", "figures/similarity-pearson-lc-uhnet-input.png"]
    for img in page.images:
        src = img["src"]
        assert "://" not in src and not src.startswith("/"), src
        assert img.get("alt")
        width, height = png_size((built.report / src).read_bytes())
        assert width > 100 and height > 100


def test_page_is_static_and_self_contained(built):
    text = built.index.read_text()
    page = parse(text)
    assert "script" not in page.tags
    assert not [u for u in page.urls if re.match(r"^[a-z]+://", u)], "no external URL"
    assert [u for u in page.urls if u.startswith("#")] == [f"#{s}" for s in SECTIONS]
    assert page.ids == SECTIONS
    assert "This section failed" not in text


def test_segmentation_table_is_the_mean_across_seeds(built):
    import pyarrow.parquet as pq

    rows = pq.read_table(built.results / "tiny-report.parquet").to_pylist()
    vals = [r["value"] for r in rows if r["metric"] == "seg" and r["statistic"] == "accuracy"
            and r["attribution"] == "gxf" and r["postprocessor"] == "harmonize" and r["layer"] == "deep"]
    assert len(vals) == 2
    mean = sum(vals) / 2
    std = math.sqrt(sum((v - mean) ** 2 for v in vals))  # ddof=1 with two values
    text = built.index.read_text()
    section = text[text.index('id="segmentation"'):text.index('id="maps"')]
    deep = section[section.index("layer deep"):]
    row = deep[deep.index("<td class=\"label\">gxf</td>"):]
    row = row[:row.index("</tr>")]
    assert f"{mean:.3f} ± {std:.3f}" in row


def test_overview_lists_components_by_alias(built):
    page = parse(built.index.read_text())
    text = " ".join(page.text)
    for component in ("synth-landcover", "uh-net", "grad-cam", "gradients-x-features", "harmonize",
                      "pearson-similarity", "segmentation-agreement", "original-vs-harmonized"):
        assert component in text
    assert "Every combination ran" in text


def test_embed_writes_one_self_contained_file(built, report_session, cli, tmp_path):
    code, out, err = cli("report", "tiny-report", "--results-dir", str(built.results), "--out", str(tmp_path / "r"),
                         "--embed", "--samples", "2")
    assert code == 0, out + err
    page = parse((tmp_path / "r" / "index.html").read_text())
    assert page.images and all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    for img in page.images:
        png_size(base64.b64decode(img["src"].split(",", 1)[1]))


def test_unknown_experiment_names_the_known_ones(built, report_session, cli):
    code, out, err = cli("report", "nope", "--results-dir", str(built.results))
    assert code == 1
    assert "no results for experiment 'nope'" in err and "tiny-report" in err


def test_missing_cache_still_reports(built, report_session, cli, tmp_path):
    import shutil

    results = tmp_path / "elsewhere" / "results"
    results.mkdir(parents=True)
    shutil.copy(built.results / "tiny-report.parquet", results)
    cache = built.workdir / ".xaibench" / "cache"
    moved = tmp_path / "moved-cache"
    cache.rename(moved)  # the cache recorded in the table is gone
    try:
        code, out, err = cli("report", "tiny-report", "--results-dir", str(results), "--out", str(tmp_path / "r"))
    finally:
        moved.rename(cache)
    assert code == 0, out + err
    text = (tmp_path / "r" / "index.html").read_text()
    assert "Attribution maps are not shown" in text and "--cache" in text
    assert "figures/maps-" not in text and "figures/similarity-" in text
    # and --cache points at it
    code, out, err = cli("report", "tiny-report", "--results-dir", str(results), "--out", str(tmp_path / "r2"),
                         "--cache", str(built.workdir / ".xaibench" / "cache"))
    assert code == 0 and "figures/maps-" in (tmp_path / "r2" / "index.html").read_text()


def test_leaderboard_ranks_the_methods(built):
    text = built.index.read_text()
    assert "Leaderboard" in text and "Kendall" in text
    # the segmentation agreement (higher is better) is ranked for every model/layer/post-processor
    assert text.count("seg.f1_micro") >= 4 or text.count("f1_micro") >= 4


def test_rank_and_report_pick_the_same_statistic(built):
    """One rule for a metric's default statistic: `xaibench rank` ranks segmentation on its headline,
    f1_micro, as the leaderboard does; pearson (no direction) is shown, not ranked."""
    import json

    from click.testing import CliRunner

    from xaibench.kit import rank

    out = CliRunner().invoke(rank, ["tiny-report", "--results-dir", str(built.results), "--n-boot", "20",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {(r["metric"], r["statistic"]) for r in data["rankings"]} == {("seg", "f1_micro")}
    assert any(n.startswith("pearson.value: not a score") for n in data["notes"])
    text = built.index.read_text()
    assert "seg.f1_micro" in text and "seg.accuracy</td>" not in text


def test_the_report_reads_only_the_test_samples_it_draws(built, report_session, cli, tmp_path, whole_reads):
    """The maps section draws the first 2 test samples: it reads those rows of the inputs, masks and
    maps, never a split whole (a DFC2020-sized test split is 3.4 GB of inputs)."""
    code, out, err = cli("report", "tiny-report", "--results-dir", str(built.results), "--out", str(tmp_path / "r"),
                         "--samples", "2")
    assert code == 0, out + err
    assert "figures/maps-" in (tmp_path / "r" / "index.html").read_text()
    assert whole_reads == []
