"""Write small raw directories for tests: a dict of table → rows as CSV, Parquet or a
folder of parts (interfaces §1).

    from helpers.raw_builder import make_row, write_raw_dir

    write_raw_dir(tmp_path / "raw", {
        "customers": [make_row("customers", customer_id="c1")],
        "orders": [make_row("orders", order_id="o1", customer_id="c1", total_amount="25.00")],
    })

Rows are mappings of column → value. CSV writes values with `str()` (None = empty field);
Parquet keeps Python types (str, int, float, Decimal, date, datetime) as pyarrow infers
them. Columns are the union of the rows' keys in first-seen order, or `columns=`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

Form = Literal["csv", "parquet", "csv_folder", "parquet_folder"]
Row = Mapping[str, Any]

DEFAULT_PROGRAM = "acme"

# A valid row per table; make_row() overrides what a test cares about.
DEFAULTS: dict[str, dict[str, Any]] = {
    "customers": {
        "program_id": DEFAULT_PROGRAM,
        "customer_id": "c1",
        "email": "c1@example.test",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birthday": "1990-05-01",
        "enrolled_at": "2024-01-01T00:00:00Z",
        "unenrolled_at": None,
    },
    "orders": {
        "program_id": DEFAULT_PROGRAM,
        "order_id": "o1",
        "customer_id": "c1",
        "ordered_at": "2024-02-01T12:00:00Z",
        "currency": "USD",
        "total_amount": "100.00",
        "cancelled_at": None,
    },
    "refunds": {
        "program_id": DEFAULT_PROGRAM,
        "refund_id": "r1",
        "order_id": "o1",
        "refunded_at": "2024-02-05T12:00:00Z",
        "amount": "10.00",
    },
    "points_ledger": {
        "program_id": DEFAULT_PROGRAM,
        "entry_id": "e1",
        "customer_id": "c1",
        "occurred_at": "2024-02-01T12:00:00Z",
        "activity": "purchase",
        "points": "100",
        "order_id": None,
    },
    "manual_tier_assignments": {
        "program_id": DEFAULT_PROGRAM,
        "assignment_id": "a1",
        "customer_id": "c1",
        "tier_code": "gold",
        "assigned_at": "2024-02-10T12:00:00Z",
        "reason": "VIP guest",
        "assigned_by": "ops@example.test",
    },
    "fx_rates": {
        "currency": "EUR",
        "quote_currency": "USD",
        "rate_date": "2024-01-01",
        "rate": "1.10",
    },
}


def make_row(table: str, **values: Any) -> dict[str, Any]:
    """A valid row of `table` with `values` overriding the defaults."""
    return {**DEFAULTS[table], **values}


def _columns(rows: Sequence[Row], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def write_csv(path: Path, rows: Sequence[Row], columns: Sequence[str] | None = None) -> Path:
    names = _columns(rows, columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in names])
    return path


def write_parquet(path: Path, rows: Sequence[Row], columns: Sequence[str] | None = None) -> Path:
    names = _columns(rows, columns)
    data = {name: [row.get(name) for row in rows] for name in names}
    arrays = {
        name: pa.array(values) if any(v is not None for v in values) else pa.nulls(len(values))
        for name, values in data.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), path)
    return path


def _chunks(rows: Sequence[Row], parts: int) -> list[Sequence[Row]]:
    parts = max(1, parts)
    size = max(1, -(-len(rows) // parts))
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    return chunks or [rows]


def write_table(
    raw_dir: Path,
    table: str,
    rows: Sequence[Row],
    form: Form = "csv",
    columns: Sequence[str] | None = None,
    parts: int = 2,
) -> Path:
    """Write one table as `TABLE.csv`, `TABLE.parquet` or a folder `TABLE/` of `parts`
    parts; returns the file or folder written. Every part carries all columns; a table
    without rows gets the default columns of a known table."""
    names = _columns(rows, columns) or list(DEFAULTS.get(table, {}))
    if form == "csv":
        return write_csv(raw_dir / f"{table}.csv", rows, names)
    if form == "parquet":
        return write_parquet(raw_dir / f"{table}.parquet", rows, names)
    folder = raw_dir / table
    writer = write_csv if form == "csv_folder" else write_parquet
    suffix = "csv" if form == "csv_folder" else "parquet"
    for number, chunk in enumerate(_chunks(rows, parts)):
        writer(folder / f"part-{number:04d}.{suffix}", chunk, names)
    return folder


def write_raw_dir(
    raw_dir: Path,
    tables: Mapping[str, Sequence[Row]],
    form: Form | Mapping[str, Form] = "csv",
    parts: int = 2,
) -> Path:
    """Write every table of `tables` into `raw_dir` (created); `form` is one form for all
    tables or a per-table mapping (default csv)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        table_form = form if isinstance(form, str) else form.get(table, "csv")
        write_table(raw_dir, table, rows, table_form, parts=parts)
    return raw_dir
