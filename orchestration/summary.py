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


@dataclass(frozen=True)
class ProgramRecompute:
    """What an incremental build recomputed for one program (int_rebuild_scope)."""

    program_id: str
    as_of: str
    members: int
    recomputed: tuple[tuple[str, int], ...]  # (reason, members)
    daily_days: tuple[str, str] | None  # fct_customer_tier_daily days filled (first, last)

    @property
    def recomputed_total(self) -> int:
        return sum(count for _, count in self.recomputed)


@dataclass
class BuildSummary:
    warehouse: Path
    elapsed_s: float
    tables: list[TableRows] = field(default_factory=list)
    rejections: Rejections = field(default_factory=Rejections)
    recompute: list[ProgramRecompute] = field(default_factory=list)
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


RECOMPUTE_SQL = """
    with scope as (
        select program_id, reason, count(*) as members
        from intermediate.int_rebuild_scope
        group by all
    ),
    -- every accepted customer, as in the scope (not only the eligible ones)
    members as (
        select program_id, count(*) as members
        from intermediate.int_customers__eligibility
        group by all
    ),
    params as (select max(daily_from) as daily_from, max(daily_to) as daily_to
               from raw.build_parameters)
    select
        programs.program_id,
        cast(programs.as_of_date as varchar),
        coalesce(members.members, 0),
        list(struct_pack(reason := scope.reason, members := scope.members)
             order by scope.reason) filter (where scope.reason is not null),
        cast(greatest(coalesce(params.daily_from, programs.as_of_date), programs.launch_date)
             as varchar),
        cast(least(coalesce(params.daily_to, programs.as_of_date), programs.as_of_date)
             as varchar)
    from staging.stg_programs as programs
    cross join params
    left join members on members.program_id = programs.program_id
    left join scope on scope.program_id = programs.program_id
    where programs.is_buildable
    group by all
    order by 1
"""


def read_recompute(con: duckdb.DuckDBPyConnection) -> list[ProgramRecompute]:
    """Per built program: members recomputed by reason, of all members, and days filled."""
    try:
        rows = con.execute(RECOMPUTE_SQL).fetchall()
    except duckdb.Error:
        return []  # not built yet (the build failed before the scope)
    result = []
    for program_id, as_of, members, reasons, day_from, day_to in rows:
        recomputed = tuple((item["reason"], int(item["members"])) for item in reasons or [])
        days = (day_from, day_to) if day_from and day_to and day_from <= day_to else None
        result.append(ProgramRecompute(program_id, as_of, int(members), recomputed, days))
    return result


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
            summary.recompute = read_recompute(con)
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
    if summary.recompute:
        recompute = Table(title="Recomputed by this build", title_justify="left")
        recompute.add_column("program")
        recompute.add_column("as of")
        recompute.add_column("members recomputed", justify="right")
        recompute.add_column("why")
        recompute.add_column("daily days filled")
        for item in summary.recompute:
            why = ", ".join(f"{reason} {count:,}" for reason, count in item.recomputed)
            days = (
                "none"
                if item.daily_days is None
                else item.daily_days[0]
                if item.daily_days[0] == item.daily_days[1]
                else f"{item.daily_days[0]} .. {item.daily_days[1]}"
            )
            recompute.add_row(
                item.program_id,
                item.as_of,
                f"{item.recomputed_total:,} of {item.members:,}",
                why or "nothing changed",
                days,
            )
        console.print(recompute)
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
