"""Agreement of the maps' predominant class with the ground truth (the harmonization paper's Table 4)."""

from __future__ import annotations

from xaibench_report import html
from xaibench_report.experiment import CONTEXT, Stat, by_seed, paired_difference, stat
from xaibench_report.html import Cell
from xaibench_report.sections import ReportContext, section

COMPONENT = "segmentation-agreement"
STATISTICS = (("accuracy", "accuracy"), ("f1_micro", "F1 micro"), ("f1_macro", "F1 macro"))
NEAR_BEST = 0.02
"""Values within this fraction of a column's best (``v >= best - 0.02 |best|``) are bold too."""


def bold_marks(column: list[Stat | None]) -> list[bool]:
    """Which entries of a higher-is-better column are the best or within :data:`NEAR_BEST` of it."""
    means = [s.mean for s in column if s is not None]
    if not means:
        return [False] * len(column)
    best = max(means)
    return [s is not None and s.mean >= best - NEAR_BEST * abs(best) for s in column]


def agreement_table(ctx: ReportContext, rows: list[dict], methods: list[str]) -> str:
    """Methods x (statistic x [original, each post-processor, Δ each post-processor]) of one model and layer."""
    exp = ctx.experiment
    ref, variants = exp.postprocessor_roles()
    present = {r["postprocessor"] for r in rows}
    others = [v for v in variants if v in present]
    # (post-processor, is a difference to the reference, header)
    sub = [(p, False, "original" if p == ref else p) for p in [ref, *others] if p in present]
    if ref in present:
        sub += [(v, True, f"Δ {v}") for v in others]
    values = by_seed(rows, "statistic", "attribution", "postprocessor")
    columns: list[list[Stat | None]] = []
    for statistic, _ in STATISTICS:
        for pp, diff, _ in sub:
            if diff:
                columns.append([paired_difference(values.get((statistic, m, ref), {}), values.get((statistic, m, pp), {}))
                                for m in methods])
            else:
                columns.append([stat(values.get((statistic, m, pp), {}).values()) for m in methods])
    marks = [bold_marks(c) for c in columns]
    header = [[Cell("method", label=True), *(Cell(label, colspan=len(sub)) for _, label in STATISTICS)],
              ["", *(label for _ in STATISTICS for _, _, label in sub)]]
    body = [[m, *(Cell(c[i].format() if c[i] else "–", bold=mk[i]) for c, mk in zip(columns, marks))]
            for i, m in enumerate(methods)]
    return html.table(header, body)


@section("segmentation", "Agreement with the land-cover mask", metrics=(COMPONENT,), order=20)
def segmentation(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    parts = [html.paragraph(
        "Each position's predominant class (argmax of its attribution vector, upsampled to the mask) compared "
        "with the ground truth; mean ± standard deviation across seeds; Δ columns: the per-seed difference "
        f"post-processed − original. Bold: the best value of a column and those within {NEAR_BEST:.0%} of it.",
        note=True)]
    wanted = {s for s, _ in STATISTICS}
    for alias in exp.aliases("metric", COMPONENT):
        rows = [r for r in exp.ok_rows([alias]) if r["statistic"] in wanted and not r["sub_key"]]
        for context in exp.contexts(rows):
            sel = [r for r in rows if tuple(r[c] for c in CONTEXT) == context]
            methods = exp.ordered("attribution", {r["attribution"] for r in sel})
            dataset, model, layer = context
            seeds = sorted({r["seed"] for r in sel})
            parts.append(html.heading(3, f"{model} at layer {layer} ({dataset})"))
            parts.append(agreement_table(ctx, sel, methods))
            parts.append(html.paragraph(f"metric {alias}; seeds {', '.join(map(str, seeds))}", note=True))
    return "".join(parts)
