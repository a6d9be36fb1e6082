"""Robustness and complexity of every method, side by side per dataset (the SAR paper's Table 1).

Rows are attribution methods; column groups are the datasets (one per polarization in the
SAR study) and, when there are several, the post-processors; columns are the metrics'
main statistics.  Mean ± std across seeds; bold marks each column's best value.
"""

from __future__ import annotations

from xaibench.directions import MetricDirections
from xaibench_report import html
from xaibench_report.experiment import Stat, by_seed, stat
from xaibench_report.html import Cell
from xaibench_report.sections import ReportContext, section

COMPONENTS = {"max-sensitivity": ("mean", "Max-Sensitivity"), "xai-entropy": ("kb_mean", "XAI entropy (KB)")}
"""Metric component -> (the statistic shown, its column label)."""


def best_marks(column: list[Stat | None], higher_is_better: bool | None) -> list[bool]:
    """Which entries hold the column's best mean (none when the metric has no direction)."""
    means = [s.mean for s in column if s is not None]
    if not means or higher_is_better is None:
        return [False] * len(column)
    best = max(means) if higher_is_better else min(means)
    return [s is not None and s.mean == best for s in column]


def _directions(ctx: ReportContext) -> MetricDirections:
    import pyarrow.parquet as pq

    from xaibench.ranking import metric_directions

    exp = ctx.experiment
    return metric_directions(pq.read_table(exp.path)) if exp.path.exists() else MetricDirections()


@section("methods-table", "Robustness and complexity per dataset", metrics=tuple(COMPONENTS), order=25)
def methods_table(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    metrics = [(alias, *COMPONENTS[c]) for c in COMPONENTS for alias in exp.aliases("metric", c)]
    wanted = {(alias, statistic) for alias, statistic, _ in metrics}
    rows = [r for r in exp.ok_rows([a for a, _, _ in metrics]) if (r["metric"], r["statistic"]) in wanted
            and not r["sub_key"]]
    if not rows:
        return None
    directions = _directions(ctx)
    values = by_seed(rows, "model", "layer", "dataset", "postprocessor", "attribution", "metric")
    parts = [html.paragraph(
        "Each method's robustness (Max-Sensitivity: the largest change of the explanation under a small input "
        "perturbation; lower is better) and complexity (XAI entropy: compressed size of the 8-bit heatmap; lower is "
        "simpler) per dataset, as in the SAR study's Table 1. Mean ± standard deviation across seeds; bold: the "
        "best value of a column.", note=True)]
    for model in exp.ordered("model", {r["model"] for r in rows}):
        for layer in exp.ordered("layer", {r["layer"] for r in rows if r["model"] == model}):
            sel = [r for r in rows if r["model"] == model and r["layer"] == layer]
            datasets = exp.ordered("dataset", {r["dataset"] for r in sel})
            pps = exp.ordered("postprocessor", {r["postprocessor"] for r in sel})
            groups = [(d, p) for d in datasets for p in pps]
            methods = exp.ordered("attribution", {r["attribution"] for r in sel})
            columns = [[stat(values.get((model, layer, d, p, m, alias), {}).values()) for m in methods]
                       for d, p in groups for alias, _, _ in metrics]
            marks = [best_marks(col, directions.direction(alias, statistic))
                     for col, (alias, statistic, _) in zip(columns, [mt for _ in groups for mt in metrics])]
            label = (lambda d, p: d) if len(pps) == 1 else (lambda d, p: f"{d} · {p}")
            header = [[Cell("method", label=True), *(Cell(label(d, p), colspan=len(metrics)) for d, p in groups)],
                      ["", *(title for _ in groups for _, _, title in metrics)]]
            body = [[m, *(Cell(c[i].format() if c[i] else "–", bold=mk[i]) for c, mk in zip(columns, marks))]
                    for i, m in enumerate(methods)]
            parts.append(html.heading(3, f"{model} at layer {layer}"))
            parts.append(html.table(header, body))
    return "".join(parts)
