"""Raw directory → warehouse `raw` schema (interfaces §1, docs/data-model.md, docs/raw-data.md).

`load_raw_dir` reads every raw table with DuckDB's own CSV/Parquet readers, types each
column in SQL, puts rows with a missing required value or an unparseable value into
`raw.load_rejections`, and publishes every raw table in one transaction. Row rules that
compare rows (duplicates, refunds against orders, …) are dbt's job.

Files already loaded are not read again: `raw.loaded_files` remembers each file's content
hash (and the loader's typing rules), so a load replaces only the rows of files that are
new, changed or gone, and keeps the rows of the others (a landing zone's old parts).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.build_parameters import ensure_build_parameters
from orchestration.raw_tables import (
    LINEAGE_COLUMNS,
    LOAD_REJECTIONS_COLUMNS,
    LOAD_REJECTIONS_TABLE,
    RAW_TABLES,
    Kind,
    RawTable,
)

RAW_SCHEMA = "raw"
LOADED_FILES_TABLE = "loaded_files"
_LOADED_FILES_COLUMNS = (
    ("table_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("content_hash", "VARCHAR"),
    ("rules_hash", "VARCHAR"),
)
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
_CSV_OPTIONS = (
    "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "strict_mode = true"
)
_DATE_LIKE_SOURCE_TYPES = ("TIMESTAMP", "DATE")


class LoaderError(Exception):
    """The raw directory cannot be loaded; the message says what, where and what to do."""


@dataclass(frozen=True)
class TableSource:
    """Where one raw table comes from: its files (none when absent) and how it was found."""

    table: RawTable
    files: tuple[Path, ...]
    origin: str

    @property
    def is_present(self) -> bool:
        return self.origin != "absent"


@dataclass
class LoadSummary:
    """What a load did: rows kept per table, load rejections per (table, reason), and per
    table the files read and the files kept from the previous load (unchanged)."""

    raw_dir: Path
    warehouse: Path
    origins: dict[str, str] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rejections: dict[tuple[str, str], int] = field(default_factory=dict)
    files_read: dict[str, int] = field(default_factory=dict)
    files_kept: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejections.values())

    def rejected_in(self, table: str) -> int:
        return sum(n for (name, _), n in self.rejections.items() if name == table)

    def as_text(self) -> str:
        lines = [f"Loaded {self.raw_dir} into {self.warehouse}:"]
        for table, rows in self.rows_loaded.items():
            rejected = self.rejected_in(table)
            note = f", {rejected} rejected" if rejected else ""
            origin = self.origins.get(table, "")
            if self.files_kept.get(table):
                origin += f"; {self.files_kept[table]} unchanged, {self.files_read[table]} read"
            lines.append(f"  {table:<24} {rows:>9} rows{note}  ({origin})")
        for (table, reason), count in sorted(self.rejections.items()):
            lines.append(f"  rejected {table}: {reason} × {count}")
        return "\n".join(lines)


def load_raw_dir(
    raw_dir: Path, warehouse: Path, reload: bool = False, memory_limit: str | None = None
) -> LoadSummary:
    """Load every raw table found in `raw_dir` into the `raw` schema of `warehouse`.

    Files loaded before with the same content (and the same typing rules) keep their rows;
    `reload` reads every file again. `memory_limit` caps DuckDB's memory (it spills to
    `<warehouse>.tmp` beyond it); None leaves DuckDB's default, 80 % of RAM.
    Raises LoaderError when the directory, `customers` or `orders` is missing, a file
    cannot be read or lacks a required column, or the warehouse is locked.
    """
    raw_dir = _checked_raw_dir(Path(raw_dir))
    warehouse = Path(warehouse).resolve()
    sources = [find_source(raw_dir, table) for table in RAW_TABLES]
    summary = LoadSummary(raw_dir=raw_dir, warehouse=warehouse)
    with connect_warehouse(warehouse, memory_limit) as con:
        plans = [_plan(con, source, raw_dir, reload) for source in sources]
        for plan in plans:
            _stage_table(con, plan.source, plan.to_read, raw_dir)
        _publish(con, plans)
        summary.origins = {source.table.name: source.origin for source in sources}
        summary.files_read = {plan.source.table.name: len(plan.to_read) for plan in plans}
        summary.files_kept = {plan.source.table.name: plan.kept for plan in plans}
        summary.rows_loaded = _rows_loaded(con)
        summary.rejections = _rejection_counts(con)
    return summary


# --- which files to read ----------------------------------------------------------------


@dataclass(frozen=True)
class TablePlan:
    """What a load does to one table: the files it reads, the files it keeps from the
    previous load, the previously loaded files whose rows it deletes (changed or gone), and
    every current file with its content hash. `replace` rebuilds the table whole."""

    source: TableSource
    to_read: tuple[Path, ...]
    kept: int
    dropped: tuple[str, ...]
    hashes: dict[str, str]
    replace: bool


def _content_hash(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()


def rules_hash(table: RawTable) -> str:
    """A hash of how the loader reads and types `table`: a file typed under other rules is
    read again."""
    text = "|".join([_CSV_OPTIONS, _typed_select(table), repr(table.columns)])
    return hashlib.sha1(text.encode()).hexdigest()


def _previous_files(con: duckdb.DuckDBPyConnection, table: RawTable) -> dict[str, tuple[str, str]]:
    """Files of the previous load of `table` (file → content hash, rules hash), or nothing
    when the table or the file list is missing or the table's columns are not the loader's."""
    tables = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = ?", [RAW_SCHEMA]
        ).fetchall()
    }
    if not {table.name, LOADED_FILES_TABLE} <= tables:
        return {}
    columns = [
        (name, str(sql_type).upper())
        for name, sql_type in con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [RAW_SCHEMA, table.name],
        ).fetchall()
    ]
    expected = [(c.name, c.sql_type) for c in table.columns] + list(LINEAGE_COLUMNS)
    if columns != expected:
        return {}
    rows = con.execute(
        f"select source_file, content_hash, rules_hash from {RAW_SCHEMA}.{LOADED_FILES_TABLE} "
        "where table_name = ?",
        [table.name],
    ).fetchall()
    return {str(file): (str(content), str(rules)) for file, content, rules in rows}


def _plan(
    con: duckdb.DuckDBPyConnection, source: TableSource, raw_dir: Path, reload: bool
) -> TablePlan:
    table = source.table
    hashes = {_relative(path, raw_dir): _content_hash(path) for path in source.files}
    previous = {} if reload else _previous_files(con, table)
    rules = rules_hash(table)
    unchanged = {name for name, digest in hashes.items() if previous.get(name) == (digest, rules)}
    to_read = tuple(path for path in source.files if _relative(path, raw_dir) not in unchanged)
    dropped = tuple(sorted(name for name in previous if name not in unchanged))
    return TablePlan(
        source=source,
        to_read=to_read,
        kept=len(unchanged),
        dropped=dropped,
        hashes=hashes,
        replace=not unchanged,
    )


# --- finding the inputs ---------------------------------------------------------------


def _checked_raw_dir(raw_dir: Path) -> Path:
    if not raw_dir.exists():
        raise LoaderError(f"raw directory {raw_dir} does not exist: check --raw-dir/VIP_RAW_DIR")
    if not raw_dir.is_dir():
        raise LoaderError(f"raw directory {raw_dir} is not a directory")
    return raw_dir.resolve()


def _has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


def _part_files(folder: Path) -> tuple[Path, ...]:
    """CSV/Parquet parts under a table folder (any depth, e.g. hive partitions), skipping
    hidden and marker files such as `.crc` or `_SUCCESS`."""
    parts = [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not any(p.startswith((".", "_")) for p in path.relative_to(folder).parts)
        and _has_suffix(path, CSV_SUFFIXES + PARQUET_SUFFIXES)
    ]
    return tuple(parts)


def find_source(raw_dir: Path, table: RawTable) -> TableSource:
    """The one entry of `raw_dir` holding `table`: `TABLE.csv[.gz]`, `TABLE.parquet` or a
    folder `TABLE/` of parts. Several entries for one table is an error."""
    candidates = [
        raw_dir / f"{table.name}{suffix}" for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES)
    ]
    found = [path for path in candidates if path.is_file()]
    folder = raw_dir / table.name
    if folder.is_dir():
        found.append(folder)
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise LoaderError(
            f"table {table.name} is given more than once in {raw_dir} ({names}): keep one"
        )
    if not found:
        if table.must_exist:
            raise LoaderError(
                f"table {table.name} is missing from {raw_dir}: expected {table.name}.csv, "
                f"{table.name}.parquet or a folder {table.name}/ of CSV/Parquet parts"
            )
        return TableSource(table, (), "absent")
    entry = found[0]
    if entry.is_dir():
        parts = _part_files(entry)
        return TableSource(table, parts, f"{entry.name}/ ({len(parts)} parts)")
    return TableSource(table, (entry,), entry.name)


# --- reading into typed temp tables ---------------------------------------------------


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _short_error(exc: Exception) -> str:
    lines = []
    for line in str(exc).splitlines():
        if line.startswith(("Possible", "LINE ")) or (not line.strip() and lines):
            break
        lines.append(line.strip())
    return " ".join(line for line in lines[:4] if line)


def _csv_header(path: Path) -> list[str] | None:
    """The header fields of a CSV file, None for an empty (0 byte) file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LoaderError(f"cannot read {path}: {exc}") from exc


def _column_map(names: list[str], path: Path, table: RawTable) -> dict[str, int]:
    """Position of each known column in the file (names matched trimmed, case-insensitive).
    Unknown columns are ignored; a missing required column is an error."""
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        key = name.strip().lower()
        if key in table.column_names:
            if key in positions:
                raise LoaderError(f"{path}: column {key} appears twice in the header")
            positions[key] = position
    missing = [name for name in table.required_names if name not in positions]
    if missing:
        found = ", ".join(names) if names else "no columns"
        raise LoaderError(
            f"{path}: missing required column {', '.join(missing)} for table {table.name} "
            f"(found: {found})"
        )
    return positions


def _text_value(expr: str) -> str:
    return f"nullif(trim(cast({expr} as VARCHAR)), '')"


def _csv_select(path: Path, table: RawTable) -> str | None:
    header = _csv_header(path)
    if header is None:
        return None
    positions = _column_map(header, path, table)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    select = ", ".join(
        f"{_text_value(f'c{positions[name]}') if name in positions else 'NULL'} as {name}"
        for name in table.column_names
    )
    reader = f"read_csv({_sql_str(str(path))}, columns = {{{columns}}}, {_CSV_OPTIONS})"
    return f"select {select} from {reader}"


def _parquet_select(con: duckdb.DuckDBPyConnection, path: Path, table: RawTable) -> str:
    file = _sql_str(str(path))
    reader = f"read_parquet({file})"
    described = con.execute(f"describe select * from {reader}").fetchall()
    names = [row[0] for row in described]
    types = {row[0]: str(row[1]).upper() for row in described}
    positions = _column_map(names, path, table)
    parts = []
    for column in table.columns:
        if column.name not in positions:
            parts.append(f"NULL as {column.name}")
            continue
        source = names[positions[column.name]]
        expr = _ident(source)
        if column.kind is Kind.DATE and types[source].startswith(_DATE_LIKE_SOURCE_TYPES):
            expr = f"cast({expr} as DATE)"
        parts.append(f"{_text_value(expr)} as {column.name}")
    # the row's 0-based position in the file, named so that no file column can clash
    numbered = f"read_parquet({file}, file_row_number = true)"
    return f"select {', '.join(parts)}, file_row_number as _file_row from {numbered}"


def _typed_table(table: RawTable) -> str:
    return f"_typed_{table.name}"


def _relative(path: Path, raw_dir: Path) -> str:
    try:
        return path.relative_to(raw_dir).as_posix()
    except ValueError:
        return str(path)


def _typed_select(table: RawTable, source: str = "_file", row_number: str = "rowid") -> str:
    """Typed columns, lineage, the row's program and key, and `_reason` (NULL when the row
    is loaded, else every problem found, `; `-separated), over `source` (text columns, and
    `row_number`: the row's 0-based position in its file). Each value is parsed once: the
    inner query parses, the outer one reads the parsed value for the rejection reasons."""
    parsed = ", ".join(
        f"{column.parse_sql(column.name)} as _parsed_{column.name}" for column in table.columns
    )
    typed = ", ".join(f"_parsed_{column.name} as {column.name}" for column in table.columns)
    problems = ", ".join(
        column.problem_sql(column.name, f"_parsed_{column.name}") for column in table.columns
    )
    program = "program_id" if table.has_program else "NULL"
    return f"""
        select
            {typed},
            ? as _source_file,
            _row_number + 1 as _source_row,
            {program} as _program_id,
            {table.row_key_sql()} as _row_key,
            nullif(concat_ws('; ', {problems}), '') as _reason
        from (
            select *, {parsed}, {row_number} as _row_number from {source}
        ) as _parsing
    """


def _read_file(con: duckdb.DuckDBPyConnection, path: Path, table: RawTable, raw_dir: Path) -> None:
    """Append one file to `_typed_<table>`. A Parquet file is typed as it is read, with the
    reader's `file_row_number`; a CSV file is first copied as text into a temp table, whose
    rowid is the row's position in the file (insertion order is preserved)."""
    try:
        if _has_suffix(path, PARQUET_SUFFIXES):
            source, row_number = f"({_parquet_select(con, path, table)})", "_file_row"
        else:
            select = _csv_select(path, table)
            if select is None:
                return
            # rowid is the row's position in the file only when the copy keeps the order
            con.execute("set preserve_insertion_order = true")
            con.execute(f"create or replace temp table _file as {select}")
            con.execute("set preserve_insertion_order = false")
            source, row_number = "_file", "rowid"
        con.execute(
            f"insert into {_typed_table(table)} {_typed_select(table, source, row_number)}",
            [_relative(path, raw_dir)],
        )
    except duckdb.Error as exc:
        raise LoaderError(f"cannot read {path} (table {table.name}): {_short_error(exc)}") from exc


def _stage_table(
    con: duckdb.DuckDBPyConnection, source: TableSource, files: tuple[Path, ...], raw_dir: Path
) -> None:
    """Read and type `files` of the table into the temp table `_typed_<table>`."""
    table = source.table
    columns = [(column.name, column.sql_type) for column in table.columns]
    extra = [*LINEAGE_COLUMNS, ("_program_id", "VARCHAR"), ("_row_key", "VARCHAR")]
    body = ", ".join(f"{name} {sql_type}" for name, sql_type in [*columns, *extra])
    con.execute(f"create or replace temp table {_typed_table(table)} ({body}, _reason VARCHAR)")
    for path in files:
        _read_file(con, path, table, raw_dir)
    con.execute("drop table if exists _file")


# --- publishing -----------------------------------------------------------------------


def _create_sql(name: str, columns: list[tuple[str, str]]) -> str:
    body = ", ".join(f"{column} {sql_type}" for column, sql_type in columns)
    return f"create or replace table {RAW_SCHEMA}.{name} ({body})"


def _publish(con: duckdb.DuckDBPyConnection, plans: list[TablePlan]) -> None:
    """Write every raw table, `load_rejections` and `loaded_files` in one transaction: dbt
    sees either the previous load or this one, never a mix."""
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        _ensure_table(con, LOAD_REJECTIONS_TABLE, list(LOAD_REJECTIONS_COLUMNS))
        _ensure_table(con, LOADED_FILES_TABLE, list(_LOADED_FILES_COLUMNS))
        for plan in plans:
            _publish_table(con, plan)
        ensure_build_parameters(con)
        con.execute("commit")
    except duckdb.Error as exc:
        con.execute("rollback")
        raise LoaderError(f"writing the raw tables failed: {_short_error(exc)}") from exc
    for plan in plans:
        con.execute(f"drop table if exists {_typed_table(plan.source.table)}")


def _ensure_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]]
) -> None:
    """Create `raw.<name>`, or recreate it when its columns are not `columns`."""
    found = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index",
        [RAW_SCHEMA, name],
    ).fetchall()
    if [(column, str(sql_type).upper()) for column, sql_type in found] != columns:
        con.execute(_create_sql(name, columns))


def _publish_table(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    table = plan.source.table
    name = _sql_str(table.name)
    if plan.replace:
        columns = [(column.name, column.sql_type) for column in table.columns]
        con.execute(_create_sql(table.name, columns + list(LINEAGE_COLUMNS)))
        con.execute(f"delete from {RAW_SCHEMA}.{LOAD_REJECTIONS_TABLE} where source_table = {name}")
    elif plan.dropped:
        dropped = ", ".join(_sql_str(file) for file in plan.dropped)
        con.execute(f"delete from {RAW_SCHEMA}.{table.name} where _source_file in ({dropped})")
        con.execute(
            f"delete from {RAW_SCHEMA}.{LOAD_REJECTIONS_TABLE} "
            f"where source_table = {name} and _source_file in ({dropped})"
        )
    names = ", ".join([*table.column_names, "_source_file", "_source_row"])
    typed = _typed_table(table)
    con.execute(
        f"insert into {RAW_SCHEMA}.{table.name} select {names} from {typed} where _reason is null"
    )
    con.execute(
        f"insert into {RAW_SCHEMA}.{LOAD_REJECTIONS_TABLE} "
        f"select {name}, _program_id, _row_key, _reason, _source_file, "
        f"_source_row from {typed} where _reason is not null"
    )
    con.execute(f"delete from {RAW_SCHEMA}.{LOADED_FILES_TABLE} where table_name = {name}")
    rules = rules_hash(table)
    if plan.hashes:
        con.executemany(
            f"insert into {RAW_SCHEMA}.{LOADED_FILES_TABLE} values (?, ?, ?, ?)",
            [[table.name, file, digest, rules] for file, digest in plan.hashes.items()],
        )


def _rows_loaded(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in RAW_TABLES:
        row = con.execute(f"select count(*) from {RAW_SCHEMA}.{table.name}").fetchone()
        counts[table.name] = int(row[0]) if row else 0
    return counts


def _rejection_counts(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """Rejections per table and kind of first problem (`unparseable ordered_at`, …)."""
    rows = con.execute(
        f"""
        select source_table, regexp_extract(reason, '^[^:;]*') as kind, count(*)
        from {RAW_SCHEMA}.{LOAD_REJECTIONS_TABLE}
        group by all
        order by all
        """
    ).fetchall()
    return {(table, kind): int(count) for table, kind, count in rows}


# --- the warehouse --------------------------------------------------------------------

_PID_RE = re.compile(r"PID (\d+)")


def _open_error(warehouse: Path, exc: duckdb.Error) -> LoaderError:
    message = str(exc)
    if "could not set lock" in message.lower():
        match = _PID_RE.search(message)
        pid = f" (pid {match.group(1)})" if match else ""
        return LoaderError(
            f"warehouse {warehouse} is in use by another process{pid}: close it and retry"
        )
    return LoaderError(f"warehouse {warehouse} cannot be opened: {_short_error(exc)}")


@contextmanager
def connect_warehouse(
    warehouse: Path, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-write connection with the session time zone set to UTC (and DuckDB's
    memory limit set, when given). Inserts need not keep their input's order (every row
    carries its file and row number), which lets DuckDB write them faster."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(warehouse))
    except duckdb.Error as exc:
        raise _open_error(warehouse, exc) from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        con.execute("set preserve_insertion_order = false")
        if memory_limit is not None:
            con.execute(f"set memory_limit = {_sql_str(memory_limit)}")
        yield con
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestration.loader RAW_DIR WAREHOUSE`: load and print the summary."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m orchestration.loader RAW_DIR WAREHOUSE.duckdb", file=sys.stderr)
        return 2
    try:
        summary = load_raw_dir(Path(args[0]), Path(args[1]))
    except LoaderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary.as_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
