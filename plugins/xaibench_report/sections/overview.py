"""What was run: the components behind each alias, seeds, and how many values are ok."""

from __future__ import annotations

from collections import Counter

from .. import html
from .registry import ReportContext, section

KINDS = ("dataset", "model", "attribution", "postprocessor", "metric")


@section("overview", "Experiment", order=0)
def overview(ctx: ReportContext) -> str:
    exp = ctx.experiment
    units = Counter(u["kind"] for u in exp.units)
    status = Counter(r["status"] for r in exp.rows)
    ref, variants = exp.postprocessor_roles()
    facts = [
        ("results", str(exp.path)),
        ("seeds", ", ".join(map(str, exp.seeds())) or "–"),
        ("layers", ", ".join(exp.order("layer")) or "–"),
        ("combinations", f"{units.get('cell', 0)} attribution cells, {units.get('model', 0)} trained models"),
        ("values", ", ".join(f"{n} {s}" for s, n in sorted(status.items())) or "none"),
        ("original maps", f"post-processor {ref!r}" if ref else "–"),
    ]
    if variants:
        facts.append(("compared with", ", ".join(variants)))
    body = html.table([], [[k, v] for k, v in facts], label_columns=2)
    rows = [[kind, alias, exp.component(kind, alias) or ""] for kind in KINDS for alias in exp.order(kind)]
    body += html.heading(3, "Components") + html.table([["kind", "alias", "component"]], rows, label_columns=3)
    return body
