"""Reading the CSV and JSON side files of the datasets (metadata tables, label files), errors naming the file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .errors import LabelError


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file with a header line; a file that does not parse is a :class:`LabelError`."""
    from .base import require_file

    p = require_file(path, "metadata CSV")
    try:
        with open(p, newline="") as f:
            lines = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelError(p, f"cannot parse CSV: {exc}") from None
    if not lines:
        raise LabelError(p, "CSV has no header line")
    header = [h.strip() for h in lines[0][1]]
    rows = []
    for n, row in lines[1:]:
        if len(row) != len(header):
            raise LabelError(p, f"row {n} has {len(row)} fields, the header {len(header)}")
        rows.append(dict(zip(header, row)))
    return header, rows


def find_column(header: list[str], wanted: str | None, candidates: tuple[str, ...], path: str | Path, what: str) -> str:
    """The column named ``wanted`` or, when ``None``, the first of ``candidates`` present (case-insensitive)."""
    lower = {h.lower(): h for h in header}
    if wanted is not None:
        if wanted in header:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise LabelError(path, f"has no {what} column {wanted!r} (columns: {', '.join(header)})")
    for c in candidates:
        if c in lower:
            return lower[c]
    raise LabelError(path, f"has no {what} column (looked for {', '.join(candidates)}; columns: {', '.join(header)})")


def read_json(path: str | Path) -> Any:
    """A JSON file; missing or unparsable is a :class:`LabelError` naming it."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise LabelError(p, "label file does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelError(p, f"cannot parse JSON: {str(exc).splitlines()[0]}") from None


def read_parquet_columns(path: str | Path, columns: tuple[str, ...], what: str) -> Any:
    """A :class:`pyarrow.Table` with ``columns`` of a Parquet file; a missing, unreadable or
    column-less file is a :class:`LabelError` naming it and the columns it has."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .base import require_file

    p = require_file(path, what)
    try:
        schema = pq.read_schema(p)
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise LabelError(p, f"has no column {', '.join(missing)} (columns: {', '.join(schema.names)})")
        return pq.read_table(p, columns=list(columns))
    except LabelError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise LabelError(p, f"cannot read Parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
