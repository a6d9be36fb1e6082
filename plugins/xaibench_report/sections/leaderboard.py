"""The leaderboard: methods ranked per metric with bootstrap rank intervals."""

from __future__ import annotations

from .. import html
from ..html import Cell
from .registry import ReportContext, section

N_BOOT = 200


@section("leaderboard", "Leaderboard", order=80)
def leaderboard(ctx: ReportContext) -> str | None:
    import pyarrow as pa

    from xaibench.ranking import metric_directions, rank_methods

    exp = ctx.experiment
    if not any(r["attribution"] and r["status"] == "ok" for r in exp.rows):
        return None
    import pyarrow.parquet as pq

    table = pq.read_table(exp.path) if exp.path.exists() else pa.Table.from_pylist(exp.rows)
    directions = metric_directions(table)
    chosen = []
    for alias in sorted(directions.metrics):
        # the metric's default statistic, by the rule `xaibench rank` uses (xaibench.directions)
        stats = {r["statistic"] for r in exp.rows if r["metric"] == alias and r["status"] == "ok" and r["attribution"]}
        main = directions.default_statistic(alias, stats)
        if main and directions.direction(alias, main) is not None:
            chosen.append(f"{alias}.{main}")
    if not chosen:
        return None
    rankings, _ = rank_methods(table, chosen, directions, n_boot=N_BOOT)
    parts = [html.paragraph(
        f"Methods ranked on each metric's mean within every dataset, model, layer and post-processor; "
        f"rank intervals from a {N_BOOT}-replicate paired bootstrap over seeds and sub-keys "
        "(`xaibench rank` for more replicates). Methods whose intervals overlap are not distinguishable.")]
    body = []
    for r in rankings:
        where = "/".join(v for v in r.context.values() if v)
        groups = " > ".join("{" + ", ".join(g) + "}" if len(g) > 1 else g[0] for g in r.groups())
        tau = "–" if r.kendall_tau is None or r.kendall_tau != r.kendall_tau else f"{r.kendall_tau:.2f}"
        body.append([Cell(where, label=True), f"{r.metric}.{r.statistic}", "higher" if r.higher_is_better else "lower",
                     Cell(groups, label=True), tau])
    if body:
        parts.append(html.table([["where", "metric", "better", "order (ties in braces)", "Kendall τ between seeds"]],
                                body, label_columns=1))
    return "\n".join(parts)
