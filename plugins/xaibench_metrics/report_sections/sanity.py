"""Methods that fail a sanity check (model randomization, random logit), for the report."""

from __future__ import annotations

from xaibench_report import html
from xaibench_report.html import Cell
from xaibench_report.sections import ReportContext, section

SANITY = ("model-randomization", "random-logit")


@section("sanity", "Sanity checks", metrics=SANITY, order=81)
def sanity(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    flagged = sorted({(r["model"], r["layer"], r["attribution"], r["postprocessor"], r["metric"])
                      for alias in (a for c in SANITY for a in exp.aliases("metric", c))
                      for r in exp.rows if r["metric"] == alias and r["statistic"] == "passed"
                      and r["status"] == "ok" and r["value"] == 0})
    if not flagged:
        return html.paragraph("Every method passes the sanity checks it was given.")
    return (html.paragraph("Methods that fail a sanity check (their explanation does not depend on the model's "
                           "weights or on the class):", note=True)
            + html.table([["model", "layer", "method", "post-processor", "check"]],
                         [[Cell(str(v), bold=i == 2) for i, v in enumerate(f)] for f in flagged]))
