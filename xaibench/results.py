"""The long-format results table (Arrow/Parquet) and its summaries.

One row per (experiment, dataset, model, seed, layer, attribution,
post-processor, metric, statistic, sub_key) with ``value`` and ``status``.
Matrices (method x method) are rows with ``sub_key`` = the second method.
Documented in ``docs/results.md``; the schema version is in the file metadata.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contracts import stored_value
from .coords import FIELDS, TABLE_GROUP

if TYPE_CHECKING:
    from .cache import Cache
    from .planning import Plan, Unit
    from .stages.graph import Outcomes, Stage

SCHEMA_VERSION = "1"
COLUMNS = ("experiment", *FIELDS, "metric", "statistic", "sub_key", "status", "value", "message", "run_key")
GROUP = (*TABLE_GROUP, "metric", "statistic", "sub_key")


def schema():
    import pyarrow as pa

    dict_str = pa.dictionary(pa.int32(), pa.string())
    fields = []
    for col in COLUMNS:
        if col == "seed":
            fields.append(pa.field(col, pa.int32(), nullable=True))
        elif col == "value":
            fields.append(pa.field(col, pa.float64()))
        elif col in ("message", "run_key"):
            fields.append(pa.field(col, pa.string()))
        else:
            fields.append(pa.field(col, dict_str))
    return pa.schema(fields, metadata={b"xaibench.results_schema": SCHEMA_VERSION.encode()})


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: dict) -> tuple:
        return tuple("" if r.get(c) is None else str(r.get(c)) for c in COLUMNS[:11])  # every column up to status

    return sorted(rows, key=key)


def to_table(rows: Iterable[dict[str, Any]], metadata: dict[str, Any] | None = None):
    """The table; ``metadata`` (JSON-able) goes into the schema metadata under ``xaibench.*`` keys."""
    import json

    import pyarrow as pa

    rows = sort_rows(list(rows))
    sch = schema()
    if metadata:
        sch = sch.with_metadata({**sch.metadata, **{f"xaibench.{k}".encode(): json.dumps(v, sort_keys=True).encode()
                                                    for k, v in metadata.items()}})
    columns = {}
    for f in sch:
        values = [r.get(f.name) for r in rows]
        if f.name == "value":
            values = [float("nan") if v is None else float(v) for v in values]
        elif pa.types.is_dictionary(f.type):
            values = ["" if v is None else str(v) for v in values]
            columns[f.name] = pa.array(values, pa.string()).dictionary_encode()
            continue
        columns[f.name] = pa.array(values, f.type)
    return pa.table(columns, schema=sch)


def table_metadata(table, name: str) -> Any:
    """A ``xaibench.<name>`` JSON entry of the schema metadata (``None`` when absent)."""
    import json

    raw = (table.schema.metadata or {}).get(f"xaibench.{name}".encode())
    return json.loads(raw) if raw else None


def write_parquet(table, path: Path) -> Path:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # concurrent runs never share it
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_parquet(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def summarize(table) -> list[dict[str, Any]]:
    """Mean ± standard deviation across seeds of every ok value, per GROUP."""
    groups: dict[tuple, list[float]] = {}
    for r in table.to_pylist():
        if r["status"] != "ok" or r["value"] is None or math.isnan(r["value"]):
            continue
        groups.setdefault(tuple(r[c] for c in GROUP), []).append(r["value"])
    out = []
    for key, vals in sorted(groups.items()):
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
        out.append({**dict(zip(GROUP, key)), "mean": mean, "std": std, "n": len(vals)})
    return out


def write_summary_csv(table, path: Path) -> Path:
    import csv

    rows = summarize(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # as write_parquet
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(GROUP) + ["mean", "std", "n"])
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- a plan's table ---------------------------------------------------------------------------
def plan_rows(plan: Plan, outcomes: Outcomes, cache: Cache) -> list[dict[str, Any]]:
    """Every row of the table: skips, each unit's training metrics and each metric's values."""
    exp = plan.config.experiment
    rows: list[dict[str, Any]] = []
    unit_at = {u.coords: u.key for u in plan.units}

    def row(coords, **cells: Any) -> dict[str, Any]:
        return {"experiment": exp, **coords.row(), "statistic": "", "sub_key": "", "value": None, **cells}

    for skip in plan.skipped:
        extra = {"run_key": unit_at[skip.coords]} if skip.metric is not None else {}
        rows.append(row(skip.coords, metric=skip.metric or "", status="skipped", message=skip.reason, **extra))
    for unit in plan.units:
        core = outcomes.get(unit.core.key)
        if unit.kind == "model":
            if core is not None and core.ok:
                rows += [row(unit.coords, run_key=unit.key, metric="training", statistic=k, value=v, status="ok")
                         for k, v in cache.meta(unit.core.key).get("metrics", {}).items()]
            else:
                rows.append(row(unit.coords, run_key=unit.key, metric="training", status="failed",
                                message=outcomes.message(core)))
        for link in unit.metrics:
            o = outcomes.get(link.stage.key)
            if o is None or not o.ok or (core is not None and not core.ok):  # a failed cell has no values
                rows.append(row(unit.coords, run_key=unit.key, metric=link.alias, status="failed",
                                message=outcomes.message(o if o is None or not o.ok else core)))
                continue
            for m in failed_members(link.stage, outcomes):  # the pairs with a member that failed
                rows.append(row(unit.coords, run_key=unit.key, metric=link.alias, sub_key=m.alias, status="failed",
                                message=f"member {m.alias} failed: {outcomes.message(outcomes.get(m.attributions.key))}"))
            for v in unit_values(link.stage, unit, cache, o.stored_as):
                value, error = stored_value(v, link.alias)  # a value that is not a finite number is a failed row
                rows.append(row(unit.coords, run_key=unit.key, metric=link.alias, statistic=str(v.get("statistic", "")),
                                sub_key=str(v.get("sub_key", "")), value=value, status="failed" if error else "ok",
                                **({"message": error} if error else {})))
    return rows


def unit_entry(u: Unit) -> dict[str, Any]:
    """Where a unit's inputs live in the cache (the ``xaibench.units`` metadata), so reports can
    load its maps, data and weights; ``metrics`` maps each metric alias to its ``component``,
    ``scope`` and ``stage`` key (the entry whose meta holds the values)."""
    entry: dict[str, Any] = {"run_key": u.key, "kind": u.kind, "coords": u.coords.given(),
                             "components": {kind: ref.name for kind, ref in u.refs.items()},
                             "stages": {"data": u.data.key, "train": u.train.key},
                             "metrics": {m.alias: {"component": m.component, "scope": m.scope, "stage": m.stage.key}
                                         for m in u.metrics}}
    if u.attribute is not None:
        entry["stages"].update({"attribute": u.attribute.key, "attributions": u.core.key})
    return entry


def failed_members(stage: Stage, outcomes: Outcomes) -> list[Any]:
    """The members of group metric ``stage`` whose maps failed (the metric ran without them)."""
    return [m for m in stage.members if not (outcomes.get(m.attributions.key) and outcomes[m.attributions.key].ok)]


def unit_values(stage: Stage, unit: Unit, cache: Cache, stored_as: str | None = None) -> list[dict]:
    """The values of metric ``stage`` (stored under ``stored_as`` when computed over the members
    that succeeded) that belong to ``unit`` (a group metric's values each name their member)."""
    c = unit.coords
    return [v for v in cache.meta(stored_as or stage.key).get("values", []) if isinstance(v, dict)
            and v.get("attribution") in (None, c.attribution) and v.get("postprocessor") in (None, c.postprocessor)
            and v.get("model") in (None, c.model)]
