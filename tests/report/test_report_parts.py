"""The report's pieces on known inputs: colours, pictures, statistics, sections, the per-run figure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from xaibench.bundle import Bundle
from xaibench.cache import Cache
from xaibench.results import to_table, write_parquet
from xaibench_metrics.report_sections.segmentation import bold_marks
from xaibench_metrics.report_sections.similarity import similarity_matrix
from xaibench_report import colors, imagery
from xaibench_report.build import build_report
from xaibench_report.experiment import Experiment, Stat, is_count, paired_difference, stat
from xaibench_report.sections import section

from .helpers import parse, png_size

DFC = ["Forest", "Shrubland", "Grassland", "Wetland", "Cropland", "Urban/Built-up", "Barren", "Water"]


# -- colours ------------------------------------------------------------------
def test_dfc2020_colours_by_name():
    assert colors.class_color("Forest") == "#009900"
    assert colors.class_color("Water") == "#1c0dff"
    assert colors.class_color("Wetlands") == colors.class_color("wetland") == "#27ff87"
    assert colors.class_color("Urban/Built-up") == colors.class_color("urban built-up") == "#a5a5a5"
    assert len(set(colors.class_colors(DFC))) == 8


def test_other_names_get_stable_distinct_colours():
    names = ["road", "roof", "tree", "car", "clutter"]
    first = colors.class_colors(names)
    assert first == colors.class_colors(names) and len(set(first)) == len(names)
    assert colors.class_color("roof") == first[1]  # by name, not by position
    lut = colors.palette_rgb(["Forest", "Water"])
    assert lut.tolist() == [[0, 153, 0], [28, 13, 255], [255, 255, 255]]


# -- pictures -----------------------------------------------------------------
def test_rgb_composite_uses_b4_b3_b2_and_stretches():
    bands = ["B1", "B2", "B3", "B4"]
    x = np.zeros((1, 4, 2, 2), np.float32)
    x[0, 3] = 0.3  # red
    x[0, 2] = 0.2  # green
    x[0, 1] = 0.1  # blue
    rgb = imagery.rgb_composite(x, bands, percentiles=(0, 100))
    assert rgb.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(rgb[0, 0, 0], [1.0, 0.5, 0.0], atol=1e-6)  # one range for all three: hues kept
    grey = imagery.rgb_composite(x, ["VV", "VH", "a", "b"])
    assert np.all(grey[..., 0] == grey[..., 1])


def test_class_map_argmax_ties_and_resizing():
    a = np.zeros((1, 3, 2, 2), np.float32)
    a[0, 2, 0, 0] = 1.0
    a[0, 1, 1, 1] = 0.5
    labels = imagery.class_map(a)
    assert labels.tolist() == [[[2, -1], [-1, 1]]]
    # a coarse map is resized bilinearly first, exactly like the segmentation metric
    import torch

    rng = np.random.default_rng(0)
    coarse = rng.normal(size=(2, 4, 3, 3)).astype(np.float32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(12, 12), mode="bilinear",
                                          align_corners=False).numpy().argmax(1)
    assert np.array_equal(imagery.class_map(coarse, (12, 12)), ref)
    assert imagery.class_map(rng.normal(size=(2, 4, 5, 3, 3))).shape == (2, 3, 3)  # per-band maps summed


def test_colorize_marks_nodata():
    lut = colors.palette_rgb(["Forest", "Water"])
    out = imagery.colorize(np.array([[0, 1, -1, 255]]), lut)
    assert out.tolist() == [[[0, 153, 0], [28, 13, 255], [255, 255, 255], [255, 255, 255]]]


def test_bar_tile_lengths_are_relative_to_the_largest():
    rgb = np.array([[255, 0, 0], [0, 255, 0]], np.uint8)
    tile = imagery.bar_tile(np.array([1.0, 0.5]), rgb, height=20, width=40)
    filled = (tile != 255).any(axis=2)
    assert filled[5].sum() == 40 and filled[15].sum() == 20
    assert tuple(tile[5, 10]) == (255, 0, 0) and tuple(tile[15, 10]) == (0, 255, 0)
    assert (imagery.bar_tile(np.zeros(2), rgb, 20, 40) == 255).all()  # nothing to draw, no division by zero


# -- statistics -----------------------------------------------------------------
def test_stat_and_paired_difference():
    s = stat([1.0, 3.0, float("nan"), None])
    assert s == Stat(2.0, math.sqrt(2.0), 2) and s.format() == "2.000 ± 1.414"
    assert Stat(75768.0, 0.0, 2).format(integer=True) == "75768 ± 0"
    assert is_count([75768.0, 75768.0]) and not is_count([0.0, 1.0]) and not is_count([2.5])
    assert stat([0.25]).format() == "0.250" and stat([]) is None
    d = paired_difference({0: 0.5, 1: 0.7, 2: 0.1}, {0: 0.6, 1: 0.9})
    assert d.n == 2 and d.mean == pytest.approx(0.15) and d.std == pytest.approx(math.sqrt(0.005))


def test_bold_marks_best_and_within_two_percent():
    col = [Stat(0.80, 0, 1), Stat(0.79, 0, 1), Stat(0.70, 0, 1), None]
    assert bold_marks(col) == [True, True, False, False]
    assert bold_marks([Stat(-0.10, 0, 1), Stat(-0.101, 0, 1), Stat(-0.2, 0, 1)]) == [True, True, False]
    assert bold_marks([None, None]) == [False, False]


def test_similarity_matrix_is_the_seed_mean():
    rows = [{"attribution": "a", "sub_key": "b", "value": v, "seed": s} for s, v in ((0, 0.2), (1, 0.4))]
    rows += [{"attribution": "b", "sub_key": "a", "value": 0.3, "seed": 0}]
    m = similarity_matrix(rows, ["a", "b", "c"])
    assert m[0, 1] == pytest.approx(0.3) and m[1, 0] == pytest.approx(0.3)
    assert np.all(np.diag(m) == 1.0) and np.isnan(m[0, 2])


# -- a hand-made results table ---------------------------------------------------
def _row(**kw):
    base = {"experiment": "fake", "dataset": "d", "model": "m", "seed": 0, "layer": "deep", "attribution": "",
            "postprocessor": "", "metric": "", "statistic": "", "sub_key": "", "value": None, "status": "ok",
            "message": None, "run_key": ""}
    return {**base, **kw}


def fake_results(tmp_path: Path) -> Path:
    rows = []
    for seed in (0, 1):
        for method in ("g1", "g2"):
            for pp, v in (("raw", 0.5), ("smooth", 0.6)):
                rows.append(_row(seed=seed, attribution=method, postprocessor=pp, metric="ent", statistic="kb_mean",
                                 value=v + seed))
                rows.append(_row(seed=seed, attribution=method, postprocessor=pp, metric="curve", statistic="auc",
                                 value=0.1))
    rows.append(_row(attribution="g1", postprocessor="raw", metric="ent", status="failed",
                     message="RuntimeError: out of memory\ntraceback..."))
    rows.append(_row(attribution="g2", postprocessor="raw", metric="aux-metric", status="skipped",
                     message="requires aux; dataset d does not provide it"))
    components = {"dataset": {"d": "toy-data"}, "model": {"m": "toy-linear"},
                  "attribution": {"g1": "toy-gradient", "g2": "toy-gradient"},
                  "postprocessor": {"raw": "none", "smooth": "toy-smooth"},
                  "metric": {"ent": "xai-entropy", "curve": "my-curve", "aux-metric": "toy-needs-aux"}}
    table = to_table(rows, {"cache": str(tmp_path / "no-cache"), "units": [], "components": components})
    return write_parquet(table, tmp_path / "results" / "fake.parquet")


@section("curve", "Curves", metrics=("my-curve",), order=50)
def curve(ctx):
    rows = ctx.experiment.ok_rows(ctx.experiment.aliases("metric", "my-curve"))
    return f"<p>curve rows: {len(rows)}</p>"


def test_sections_on_a_table_without_the_paper_metrics(tmp_path, report_sections):
    exp = Experiment.load(fake_results(tmp_path).parent, "fake")
    assert exp.postprocessor_roles() == ("raw", ["smooth"])
    index = build_report(exp, tmp_path / "out", [*report_sections, curve])
    text = index.read_text()
    page = parse(text)
    assert page.errors == [] and page.images == []
    # pearson / segmentation / ovh sections are left out; maps have no cells; the custom one is in
    # every metric is claimed by a section and there is no training: no "other results" section
    assert page.ids == ["overview", "methods-table", "curve", "problems"]
    assert "curve rows: 8" in text
    table = text[text.index('id="methods-table"'):text.index('id="curve"')]
    assert "d · raw" in table and "d · smooth" in table and "XAI entropy (KB)" in table
    assert "1.000 ± 0.707" in table and "1.100 ± 0.707" in table  # kb_mean 0.5 and 1.5 across the seeds (raw)
    problems = text[text.index('id="problems"'):]
    assert "RuntimeError: out of memory" in problems and "traceback" not in problems
    assert "requires aux; dataset d does not provide it" in problems and "d/m/0/deep/g2/raw" in problems


def test_a_raising_section_becomes_a_note(tmp_path, report_sections):
    @section("broken", "Broken", order=60)
    def broken(ctx):
        raise ValueError("cannot draw this")

    exp = Experiment.load(fake_results(tmp_path).parent, "fake")
    text = build_report(exp, tmp_path / "out", [*report_sections, broken]).read_text()
    assert "This section failed: ValueError: cannot draw this" in text and 'id="problems"' in text


# -- the per-run figure ----------------------------------------------------------------
def _tiny_cache(tmp_path: Path) -> tuple[Cache, dict]:
    rng = np.random.default_rng(0)
    cache = Cache(tmp_path / "cache")
    x = rng.uniform(0, 0.3, size=(5, 13, 16, 16)).astype(np.float32)
    mask = rng.integers(0, 8, size=(5, 16, 16))
    info = {"classes": DFC, "bands": [{"name": n} for n in
                                      "B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12".split()]}
    cache.put("d" * 24, Bundle({"test/x": x, "test/mask": mask}, {"info": info}))
    cache.put("a" * 24, Bundle({"attributions": rng.normal(size=(5, 8, 4, 4)).astype(np.float32)}))
    unit = {"run_key": "a" * 24, "kind": "cell", "status": "FINISHED",
            "coords": {"dataset": "d", "model": "m", "seed": 0, "layer": "deep", "attribution": "g",
                       "postprocessor": "none"},
            "stages": {"data": "d" * 24, "train": "t" * 24, "attribute": "a" * 24, "attributions": "a" * 24}}
    return cache, unit


def test_unit_artifacts_draws_a_cell(tmp_path):
    from xaibench_report import plugin

    cache, unit = _tiny_cache(tmp_path)
    out = plugin.unit_artifacts(unit=unit, cache=cache, workdir=tmp_path / "w")
    assert list(out) == ["figures/attribution_maps.png"]
    width, height = png_size(out["figures/attribution_maps.png"].read_bytes())
    assert width > 300 and height > 3 * 96  # three samples of at least 96 px


def test_unit_artifacts_returns_none_without_data(tmp_path):
    from xaibench_report import plugin

    cache, unit = _tiny_cache(tmp_path)
    assert plugin.unit_artifacts(unit={**unit, "kind": "model"}, cache=cache, workdir=tmp_path) is None
    gone = {**unit, "stages": {**unit["stages"], "attributions": "f" * 24}}
    assert plugin.unit_artifacts(unit=gone, cache=cache, workdir=tmp_path) is None
    no_data = {**unit, "stages": {**unit["stages"], "data": "e" * 24}}
    assert plugin.unit_artifacts(unit=no_data, cache=cache, workdir=tmp_path) is None
    assert plugin.unit_artifacts(unit={"kind": "cell", "status": "FAILED"}, cache=cache, workdir=tmp_path) is None


def test_plugin_import_stays_light():
    import subprocess
    import sys

    plugins = str(Path(__file__).resolve().parents[2] / "plugins")
    code = (f"import sys; sys.path.insert(0, {plugins!r}); import xaibench_report.plugin; "
            "print(','.join(m for m in ('torch', 'matplotlib', 'numpy', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_best_marks_follow_the_metric_direction():
    from xaibench_metrics.report_sections.methods_table import best_marks
    from xaibench_report.experiment import Stat

    col = [Stat(0.2, 0.0, 1), None, Stat(0.5, 0.0, 1)]
    assert best_marks(col, False) == [True, False, False]
    assert best_marks(col, True) == [False, False, True]
    assert best_marks(col, None) == [False, False, False]


def test_class_heatmap_picks_each_samples_class_and_resizes():
    from xaibench_report.imagery import class_heatmap

    a = np.zeros((2, 3, 2, 2), np.float32)
    a[0, 1] = 1.0
    a[1, 2] = -2.0
    out = class_heatmap(a, np.array([1, 2]), (4, 4))
    assert out.shape == (2, 4, 4) and np.allclose(out[0], 1.0) and np.allclose(out[1], -2.0)
    assert np.allclose(class_heatmap(a, np.array([0, 0])), 0.0)


def test_true_classes_from_label_labels_or_mask():
    from xaibench.bundle import Bundle
    from xaibench_metrics.report_sections.heatmaps import true_classes

    assert true_classes(Bundle({"test/label": np.array([2, 0, 1])}), 2).tolist() == [2, 0]
    assert true_classes(Bundle({"test/labels": np.array([[0, 1], [1, 0]])}), 2).tolist() == [1, 0]
    mask = np.zeros((1, 4, 4), np.int64)
    mask[0, :3] = 3
    assert true_classes(Bundle({"test/mask": mask}), 1).tolist() == [3]
    assert true_classes(Bundle({}), 1) is None


def test_true_classes_reads_only_the_first_rows_of_a_cached_split(tmp_path, monkeypatch):
    from xaibench.arrays import LazyArray, RowStream
    from xaibench.bundle import Bundle
    from xaibench.cache import Cache
    from xaibench_metrics.report_sections.heatmaps import true_classes

    mask = np.random.default_rng(0).integers(0, 5, (30, 8, 8))
    labels = np.eye(5)[np.arange(30) % 5]
    stream = RowStream.of({"mask": mask, "labels": labels}, rows=7, prefix="test")
    data = Cache(tmp_path / "c").put("ef" + "0" * 22, Bundle(streams=[stream]))
    monkeypatch.setattr(LazyArray, "__array__", lambda self, *a, **k: pytest.fail(f"{self.name} read whole"))
    assert true_classes(data, 3).tolist() == [0, 1, 2]
    only_masks = Cache(tmp_path / "c").put("ef" + "1" * 22, Bundle(streams=[RowStream.of({"mask": mask}, 7, "test")]))
    assert true_classes(only_masks, 2).tolist() == [np.bincount(m.ravel()).argmax() for m in mask[:2]]


def test_composite_title_names_what_is_shown():
    from xaibench_report.imagery import composite_title

    assert composite_title(["B2", "B3", "B4", "B8"]) == "RGB (B4, B3, B2)"
    assert composite_title(["VV", "VH"]) == "VV (grey)"
