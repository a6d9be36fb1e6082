"""What the commands print: tables that fold long names instead of cutting them, JSON and CSV.

Rich cuts a cell that does not fit with "…" by default; a component name cut that way
(``gradients-x-f…``) cannot be typed back into a registry, so every column here folds
(wraps inside the cell).  ``--format json`` prints exactly the rows the table shows (NaN
as ``null``, so that any JSON reader takes it); ``--format csv`` the same rows as CSV.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

from .coords import TABLE_GROUP
from .directions import MetricDirections
from .errors import XaibenchError

if TYPE_CHECKING:
    from rich.table import Table

    from .plugins import PluginSession

FORMATS = ("table", "json", "csv")


def names_table(columns: list[str], rows: list[list[str]], whole: set[str], title: str | None = None) -> Table:
    """A folding table whose ``whole`` columns (names a user types back) are as wide as their longest
    line and never wrap; the other columns share what is left of the terminal."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for i, col in enumerate(columns):
        if col in whole:
            width = max(len(line) for cell in [col, *(r[i] for r in rows)] for line in Text.from_markup(cell).plain
                        .splitlines() or [""])
            table.add_column(col, no_wrap=True, min_width=width)
        else:
            table.add_column(col, overflow="fold", ratio=1)
    for r in rows:
        table.add_row(*r)
    return table


def _plain(value: Any) -> Any:
    """``value`` with every NaN or infinity (nested in dicts, lists, tuples) as ``None``: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(data: Any) -> str:
    """``data`` as strict JSON (NaN as ``null``)."""
    return json.dumps(_plain(data), indent=2, allow_nan=False, default=str)


def to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    buf = io.StringIO()
    fields = columns or (list(rows[0]) if rows else [])
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _plain(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


# -- plugins ------------------------------------------------------------------------------------
def plugin_rows(session: PluginSession) -> list[dict[str, Any]]:
    """One row per loaded (or failed) plugin."""
    session.catalog  # noqa: B018 -- building the catalog is what fills each plugin's components
    return [{"plugin": i.name, "distribution": i.distribution or "", "version": i.version or "",
             "hooks": list(i.hooks), "components": {k: sorted(v) for k, v in sorted(i.components.items())},
             "error": i.error or None}
            for i in sorted(session.plugins.values(), key=lambda i: i.name)]


def component_rows(session: PluginSession) -> list[dict[str, Any]]:
    """One row per registered component; ``unavailable`` says why one cannot run here."""
    rows = []
    for kind, entries in session.catalog.entries.items():
        for name in sorted(entries):
            e = entries[name]
            rows.append({"kind": kind, "name": name, "plugin": e.plugin, "version": e.cls.version,
                         "description": e.cls.describe(), "unavailable": unavailable(e.cls)})
    return rows


def unavailable(cls: Any) -> str | None:
    """Why a component that can tell (``available()``, e.g. a GPU-only kNN backend) cannot run here."""
    check = getattr(cls, "available", None)
    if check is None:
        return None
    try:
        return cls().available()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


# -- results ------------------------------------------------------------------------------------
def filter_results(table: Any, where: list[str], metrics: list[str]) -> Any:
    """Rows of a results table with ``COLUMN=VALUE`` for every ``where`` and, when ``metrics`` are
    given, of one of them (``alias`` or ``alias.statistic``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pa.array([True] * table.num_rows)
    for item in where:
        col, sep, value = item.partition("=")
        if not sep or col not in table.column_names:
            raise XaibenchError(f"--where {item!r}: expected COLUMN=VALUE with COLUMN one of "
                                f"{', '.join(table.column_names)}")
        mask = pc.and_(mask, pc.equal(pc.cast(table.column(col), pa.string()), value))
    if metrics:
        metric = pc.cast(table.column("metric"), pa.string())
        named = pc.binary_join_element_wise(metric, pc.cast(table.column("statistic"), pa.string()), ".")
        known = set(metric.to_pylist())
        for m in metrics:
            if m.partition(".")[0] not in known:
                raise XaibenchError(f"--metric {m!r}: no such metric in the results (metrics: "
                                    f"{', '.join(sorted(str(k) for k in known if k))})")
        mask = pc.and_(mask, pc.or_(pc.is_in(metric, pa.array(metrics)), pc.is_in(named, pa.array(metrics))))
    return table.filter(mask)


def headline_summary(table: Any, summary_rows: list[dict[str, Any]]) -> tuple[list[str], dict[tuple, dict]]:
    """The end-of-run table: each metric's default statistic (:mod:`xaibench.directions`), its
    mean ± std across seeds per (dataset, model, layer, method, post-processor).

    Returns the ``metric.statistic`` columns and ``{group key: {column: summary row}}``."""
    from .results import table_metadata

    directions = MetricDirections.from_json(table_metadata(table, "metric_directions"))
    rows = [r for r in summary_rows if not r["sub_key"] and r["metric"] != "training"]
    stats: dict[str, set[str]] = {}
    for r in rows:
        stats.setdefault(r["metric"], set()).add(r["statistic"])
    columns = {}
    for alias in sorted(stats):
        stat = directions.default_statistic(alias, stats[alias])
        if stat:
            columns[alias] = f"{alias}.{stat}"
    cells: dict[tuple, dict] = {}
    for r in rows:
        name = f"{r['metric']}.{r['statistic']}"
        if columns.get(r["metric"]) == name:
            cells.setdefault(tuple(r[c] for c in TABLE_GROUP), {})[name] = r
    return list(columns.values()), cells
