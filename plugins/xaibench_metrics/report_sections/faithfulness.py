"""Faithfulness of every method: deletion / insertion curves per model and layer, and a table of
each faithfulness metric's headline statistic (mean ± std across seeds, the best bold)."""

from __future__ import annotations

from typing import Any

from xaibench_report import html
from xaibench_report.experiment import CONTEXT, by_seed, stat
from xaibench_report.html import Cell
from xaibench_report.sections import ReportContext, section

from ..faithfulness import FAITHFULNESS
from ..faithfulness.figure import CURVES, curves_figure

COMPONENTS = {cls.name: cls for cls in FAITHFULNESS}


def mean_curves(rows: list[dict[str, Any]], statistic: str) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
    """``{(method, post-processor): (fractions, mean value across seeds)}`` of a curve statistic's rows."""
    points: dict[tuple[str, str], dict[float, list[float]]] = {}
    for r in rows:
        if r["statistic"] == statistic and r["sub_key"]:
            points.setdefault((r["attribution"], r["postprocessor"]), {}).setdefault(float(r["sub_key"]), []).append(
                r["value"])
    out = {}
    for key, by_x in points.items():
        xs = sorted(by_x)
        means = [stat(by_x[x]) for x in xs]
        out[key] = ([x for x, m in zip(xs, means) if m], [m.mean for m in means if m])
    return out


@section("faithfulness", "Faithfulness", metrics=tuple(COMPONENTS), order=30)
def faithfulness(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    aliases = {alias: COMPONENTS[c] for c in COMPONENTS for alias in exp.aliases("metric", c)}
    rows = exp.ok_rows(aliases)
    if not rows:
        return None
    parts = [html.paragraph(
        "Does removing what a map ranks highest hurt the model's score for the explained class most? Curves: the "
        "class's score as positions are removed from the input (most relevant first) or inserted into the baseline, "
        "mean over samples and seeds. Table: each metric's headline statistic, mean ± std across seeds; bold the "
        "best (deletion and ROAD MoRF: lower is better; the others: higher).", note=True)]
    for context in exp.contexts(rows):
        sel = [r for r in rows if tuple(r[c] for c in CONTEXT) == context]
        dataset, model, layer = context
        title = f"{model} at layer {layer} ({dataset})"
        parts.append(html.heading(3, title))
        for alias in [a for a in aliases if aliases[a].name == "deletion-insertion"]:
            curves = {s: mean_curves([r for r in sel if r["metric"] == alias], s) for s in CURVES}
            if any(curves.values()):
                parts.append(ctx.figure(curves_figure(curves, f"{title}, {alias}"), f"faithfulness-{alias}-{dataset}-"
                                        f"{model}-{layer}", alt=f"deletion and insertion curves of {model} at {layer}",
                                        caption=f"{title}; metric {alias}."))
        heads = [(alias, cls.headline or "value", cls().direction(cls.headline or "value"))
                 for alias, cls in aliases.items()]
        values = by_seed([r for r in sel if not r["sub_key"]], "attribution", "postprocessor", "metric", "statistic")
        present = {(r["attribution"], r["postprocessor"]) for r in sel}
        keys = [(m, p) for m in exp.ordered("attribution", {k[0] for k in present})
                for p in exp.ordered("postprocessor", {k[1] for k in present}) if (m, p) in present]
        columns = [[stat(values.get((m, p, alias, statistic), {}).values()) for m, p in keys]
                   for alias, statistic, _ in heads]
        marks = []
        for col, (_, _, better) in zip(columns, heads):
            means = [s.mean for s in col if s is not None]
            best = None if not means or better is None else (max(means) if better else min(means))
            marks.append([s is not None and s.mean == best for s in col])
        header = [["method", *(f"{alias} ({statistic})" for alias, statistic, _ in heads)]]
        body = [[m if p in ("", "none") else f"{m} · {p}",
                 *(Cell(col[i].format() if col[i] else "–", bold=mk[i]) for col, mk in zip(columns, marks))]
                for i, (m, p) in enumerate(keys)]
        parts.append(html.table(header, body))
    return "".join(parts)
