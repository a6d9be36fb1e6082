"""Combinations that failed or were skipped, grouped by reason."""

from __future__ import annotations

from .. import html
from ..html import Cell
from .registry import ReportContext, section

EXAMPLES = 3
COORDS = ("dataset", "model", "seed", "layer", "attribution", "postprocessor")


@section("problems", "Failed and skipped", order=95)
def problems(ctx: ReportContext) -> str:
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in ctx.experiment.rows:
        if r["status"] in ("failed", "skipped"):
            where = "/".join(str(r[c]) for c in COORDS if r[c] not in (None, ""))
            reason = (r["message"] or "").strip().splitlines()[0][:300] if r["message"] else "(no message)"
            groups.setdefault((r["status"], r["metric"] or "–", reason), []).append(where)
    if not groups:
        return html.paragraph("Every combination ran and every metric has its values.")
    body = []
    for (status, metric, reason), where in sorted(groups.items()):
        more = f" and {len(where) - EXAMPLES} more" if len(where) > EXAMPLES else ""
        body.append([status, metric, reason, str(len(where)), Cell("; ".join(where[:EXAMPLES]) + more, label=True)])
    return html.table([["status", "metric", "reason", "count", "combinations"]], body, label_columns=3)
