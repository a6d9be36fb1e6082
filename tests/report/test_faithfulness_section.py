"""The faithfulness report section on a hand-made results table: curves figure and headline table."""

from __future__ import annotations

from xaibench.results import to_table, write_parquet
from xaibench_metrics.report_sections.faithfulness import mean_curves
from xaibench_report.build import build_report
from xaibench_report.experiment import Experiment

from .helpers import parse
from .test_report_parts import _row


def _results(tmp_path):
    rows = []
    for seed in (0, 1):
        for method, deletion in (("good", 0.2), ("bad", 0.6)):
            rows.append(_row(seed=seed, attribution=method, postprocessor="none", metric="del",
                             statistic="deletion", value=deletion + 0.1 * seed))
            rows.append(_row(seed=seed, attribution=method, postprocessor="none", metric="del",
                             statistic="insertion", value=1 - deletion))
            for x, y in ((0.0, 1.0), (0.5, deletion), (1.0, 0.0)):
                rows.append(_row(seed=seed, attribution=method, postprocessor="none", metric="del",
                                 statistic="deletion_curve", sub_key=f"{x:.4f}", value=y))
                rows.append(_row(seed=seed, attribution=method, postprocessor="none", metric="del",
                                 statistic="insertion_curve", sub_key=f"{x:.4f}", value=1 - y))
    components = {"dataset": {"d": "toy-data"}, "model": {"m": "toy"}, "attribution": {"good": "g", "bad": "b"},
                  "postprocessor": {"none": "none"}, "metric": {"del": "deletion-insertion"}}
    table = to_table(rows, {"cache": str(tmp_path / "no-cache"), "units": [], "components": components})
    return write_parquet(table, tmp_path / "results" / "fake.parquet")


def test_mean_curves_average_seeds_per_step(tmp_path):
    exp = Experiment.load(_results(tmp_path).parent, "fake")
    curves = mean_curves(exp.ok_rows(["del"]), "deletion_curve")
    assert curves["good", "none"] == ([0.0, 0.5, 1.0], [1.0, 0.2, 0.0])


def test_faithfulness_section_draws_curves_and_bolds_the_lowest_deletion(tmp_path, report_sections):
    exp = Experiment.load(_results(tmp_path).parent, "fake")
    text = build_report(exp, tmp_path / "out", report_sections).read_text()
    page = parse(text)
    assert page.errors == [] and "faithfulness" in page.ids
    part = text[text.index('id="faithfulness"'):]
    assert len(parse(part).images) == 1 and "del (deletion)" in part
    assert "<strong>0.250 ± 0.071</strong>" in part or "<b>0.250 ± 0.071</b>" in part  # good: 0.2, 0.3
    assert "0.650 ± 0.071" in part
