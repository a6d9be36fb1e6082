"""Every value no other section presents: training metrics and any other metric, mean ± std across seeds."""

from __future__ import annotations

from .. import html
from ..experiment import is_count, stat
from .registry import ReportContext, section

MAX_COLUMNS = 12
TRAINING_FIRST = ("test_accuracy", "test_f1_micro", "test_f1_macro", "test_loss")
COORDS = ("dataset", "model", "layer", "attribution", "postprocessor")


def value_table(ctx: ReportContext, rows: list[dict], coords: tuple[str, ...], first: tuple[str, ...] = ()) -> str:
    """Rows = distinct ``coords``; columns = ``statistic`` (``statistic[sub_key]``), mean ± std across seeds."""
    exp = ctx.experiment
    names = {r["statistic"] + (f"[{r['sub_key']}]" if r["sub_key"] else "") for r in rows}
    columns = [s for s in first if s in names] + sorted(names - set(first), key=lambda s: ("[" in s, s))
    dropped = columns[MAX_COLUMNS:]
    columns = columns[:MAX_COLUMNS]
    cells: dict[tuple, dict[str, list[float]]] = {}
    for r in rows:
        name = r["statistic"] + (f"[{r['sub_key']}]" if r["sub_key"] else "")
        cells.setdefault(tuple(r[c] for c in coords), {}).setdefault(name, []).append(r["value"])
    ranks = {c: {a: i for i, a in enumerate(exp.order(c))} for c in coords}
    keys = sorted(cells, key=lambda k: tuple((ranks[c].get(v, len(ranks[c])), v) for c, v in zip(coords, k)))
    counts = [is_count(v for cell in cells.values() for v in cell.get(col, [])) for col in columns]
    body = []
    for key in keys:
        stats = [stat(cells[key].get(col, [])) for col in columns]
        body.append([*key, *(s.format(integer=c) if s else "–" for s, c in zip(stats, counts))])
    out = html.table([[*coords, *columns]], body, label_columns=len(coords))
    if dropped:
        out += html.paragraph(f"{len(dropped)} more statistics in the results table: {', '.join(dropped)}.", note=True)
    return out


@section("summary", "Other results", order=90)
def summary(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    parts = []
    training = exp.ok_rows(["training"])
    if training:
        parts.append(html.heading(3, "Training"))
        parts.append(value_table(ctx, training, ("dataset", "model"), TRAINING_FIRST))
    for alias in exp.order("metric"):
        component = exp.component("metric", alias)
        if component in ctx.claimed:
            continue
        rows = exp.ok_rows([alias])
        if not rows:
            continue
        coords = tuple(c for c in COORDS if any(r[c] for r in rows))
        parts.append(html.heading(3, f"{alias} ({component})"))
        parts.append(value_table(ctx, rows, coords))
    return "".join(parts) or None
