"""The build summary printed by `vip-tiers run`: rows per table, rejected rows, problems, time.

Read from the warehouse after the run, in one short connection (never while dbt runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestration.resources import WarehouseLockedError, WarehouseResource

# Schemas in the order the data flows (dbt's target schema `main` holds the marts).
SCHEMA_ORDER = ("raw", "reference", "staging", "intermediate", "main")


@dataclass(frozen=True)
class TableRows:
    schema: str
    name: str
    rows: int


@dataclass(frozen=True)
class Rejections:
    """Rejected rows per source table and reason, from `rejected_rows` (else the loader's)."""

    relation: str | None = None
    counts: tuple[tuple[str, str, int], ...] = ()

    @property
    def total(self) -> int:
        return sum(count for _, _, count in self.counts)


@dataclass
class BuildSummary:
    warehouse: Path
    elapsed_s: float
    tables: list[TableRows] = field(default_factory=list)
    rejections: Rejections = field(default_factory=Rejections)
    invalid_programs: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    note: str | None = None


def _schema_rank(schema: str) -> int:
    return SCHEMA_ORDER.index(schema) if schema in SCHEMA_ORDER else len(SCHEMA_ORDER)


def read_tables(con: duckdb.DuckDBPyConnection) -> list[TableRows]:
    """Every base table of the warehouse with its row count (views are not counted)."""
    names = con.execute(
        """
        select table_schema, table_name
        from information_schema.tables
        where table_type = 'BASE TABLE' and table_catalog = current_database()
        """
    ).fetchall()
    tables = []
    for schema, name in names:
        (rows,) = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone() or (0,)
        tables.append(TableRows(schema, name, int(rows)))
    return sorted(tables, key=lambda t: (_schema_rank(t.schema), t.schema, t.name))


def read_rejections(con: duckdb.DuckDBPyConnection, tables: list[TableRows]) -> Rejections:
    """Counts per (source_table, reason) from the `rejected_rows` model, else `load_rejections`."""
    candidates = [t for t in tables if t.name == "rejected_rows"]
    candidates.sort(key=lambda t: t.schema != "main")
    if not candidates:
        candidates = [t for t in tables if t.schema == "raw" and t.name == "load_rejections"]
    if not candidates:
        return Rejections()
    relation = f'"{candidates[0].schema}"."{candidates[0].name}"'
    rows = con.execute(
        f"""
        select coalesce(source_table, '?'), coalesce(reason, '?'), count(*)
        from {relation}
        group by all
        order by 3 desc, 1, 2
        """
    ).fetchall()
    label = f"{candidates[0].schema}.{candidates[0].name}"
    return Rejections(label, tuple((str(t), str(r), int(n)) for t, r, n in rows))


def collect_summary(warehouse: WarehouseResource, elapsed_s: float) -> BuildSummary:
    """Tables and rejections of the warehouse; a note instead when it cannot be read."""
    path = warehouse.resolved_path()
    summary = BuildSummary(warehouse=path, elapsed_s=elapsed_s)
    if not path.exists():
        summary.note = f"No warehouse at {path}: nothing was built."
        return summary
    try:
        with warehouse.connect(read_only=True) as con:
            summary.tables = read_tables(con)
            summary.rejections = read_rejections(con, summary.tables)
    except (WarehouseLockedError, duckdb.Error) as exc:
        summary.note = f"Could not read the warehouse for the summary: {exc}"
    return summary


def render_summary(summary: BuildSummary, console: Console) -> None:
    if summary.tables:
        table = Table(title="Rows per table", title_justify="left")
        table.add_column("schema")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for row in summary.tables:
            table.add_row(row.schema, row.name, f"{row.rows:,}")
        console.print(table)
    if summary.rejections.relation:
        if summary.rejections.counts:
            rejected = Table(
                title=f"Rejected rows per reason ({summary.rejections.relation})",
                title_justify="left",
            )
            rejected.add_column("source table")
            rejected.add_column("reason")
            rejected.add_column("rows", justify="right")
            for source_table, reason, count in summary.rejections.counts:
                rejected.add_row(source_table, reason, f"{count:,}")
            console.print(rejected)
        else:
            console.print(f"Rejected rows: none ({summary.rejections.relation}).")
    if summary.note:
        console.print(f"[yellow]{escape(summary.note)}[/yellow]", soft_wrap=True)
    if summary.invalid_programs:
        console.print(
            f"[bold red]Invalid program files ({len(summary.invalid_programs)}):[/bold red] "
            "these programs keep their last good outputs; the others were built.",
            soft_wrap=True,
        )
        for message in summary.invalid_programs:
            console.print(f"  [red]✗[/red] {escape(message)}", soft_wrap=True)
    if summary.failed_checks:
        console.print(f"[bold red]Failed data tests ({len(summary.failed_checks)}):[/bold red]")
        for name in summary.failed_checks:
            console.print(f"  [red]✗[/red] {escape(name)}", soft_wrap=True)
    for failure in summary.failures:
        console.print(f"[bold red]Failed:[/bold red] {escape(failure)}", soft_wrap=True)
    console.print(f"Warehouse: {summary.warehouse}", soft_wrap=True, markup=False)
    console.print(f"Total time: {summary.elapsed_s:.1f} s")
