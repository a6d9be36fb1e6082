"""The long-format results table (Arrow/Parquet) and its summaries.

One row per (experiment, dataset, model, seed, layer, attribution,
post-processor, metric, statistic, sub_key) with ``value`` and ``status``.
Matrices (method x method) are rows with ``sub_key`` = the second method.
Documented in ``docs/results.md``; the schema version is in the file metadata.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
STRING_COLUMNS = ("experiment", "dataset", "model", "layer", "attribution", "postprocessor", "metric", "statistic",
                  "sub_key", "status")
COLUMNS = STRING_COLUMNS[:3] + ("seed",) + STRING_COLUMNS[3:] + ("value", "message", "run_key")
GROUP = ("dataset", "model", "layer", "attribution", "postprocessor", "metric", "statistic", "sub_key")


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
        return tuple("" if r.get(c) is None else str(r.get(c)) for c in COLUMNS[:11])

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
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
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
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(GROUP) + ["mean", "std", "n"])
        writer.writeheader()
        writer.writerows(rows)
    return path
