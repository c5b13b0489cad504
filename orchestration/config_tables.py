"""Program config into the warehouse: the `raw` config tables of docs/data-model.md.

`sync_program_config` validates a programs directory against what the warehouse stored
before (for the post-launch tier lock), replaces the rows of every valid program, leaves an
invalid program's last good rows untouched and records each file's status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.build_parameters import ensure_build_parameters
from orchestration.programs import (
    ProgramConfig,
    ProgramFileResult,
    ProgramsLoadResult,
    find_program_files,
    load_program_files,
    resolve_scenarios,
)

# table -> (column, type); the first columns of each are the contract of docs/data-model.md.
CONFIG_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "programs": (
        ("program_id", "varchar"),
        ("name", "varchar"),
        ("currency", "varchar"),
        ("timezone", "varchar"),
        ("start_date", "date"),
        ("back_date", "date"),
        ("launch_date", "date"),
        ("compare_period_modes", "boolean"),
        ("allow_post_launch_tier_changes", "boolean"),
        ("source_file", "varchar"),
        ("config_hash", "varchar"),
        ("exports_json", "varchar"),
        ("loaded_at", "timestamp"),
    ),
    "program_scenarios": (
        ("program_id", "varchar"),
        ("scenario_id", "varchar"),
        ("is_live", "boolean"),
        ("milestone", "varchar"),
        ("period", "varchar"),
        ("rolling_window", "varchar"),
        ("refunds", "varchar"),
        ("scenario_kind", "varchar"),
        ("scenario_order", "integer"),
        ("description", "varchar"),
    ),
    "program_scenario_tiers": (
        ("program_id", "varchar"),
        ("scenario_id", "varchar"),
        ("tier_code", "varchar"),
        ("tier_name", "varchar"),
        ("tier_rank", "integer"),
        ("threshold", "decimal(18,2)"),
        ("entry_bonus_points", "bigint"),
        ("birthday_points", "bigint"),
        ("points_multiplier", "decimal(9,4)"),
        ("perks", "varchar"),
    ),
    "program_scenario_activities": (
        ("program_id", "varchar"),
        ("scenario_id", "varchar"),
        ("activity", "varchar"),
    ),
    "program_config_status": (
        ("source_file", "varchar"),
        ("program_id", "varchar"),
        ("status", "varchar"),
        ("errors", "varchar"),
        ("checked_at", "timestamp"),
    ),
}
PROGRAM_TABLES = (
    "programs",
    "program_scenarios",
    "program_scenario_tiers",
    "program_scenario_activities",
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class StoredPrograms:
    """What the warehouse holds from earlier config loads."""

    live_tiers: dict[str, dict[str, Decimal]]  # program_id -> {tier_code: threshold}, by rank
    source_files: dict[str, str]  # program_id -> source_file

    @property
    def program_id_by_file(self) -> dict[str, str]:
        return {source_file: program_id for program_id, source_file in self.source_files.items()}


def sync_program_config(
    warehouse: Path, programs_dir: Path, as_of: date | None
) -> ProgramsLoadResult:
    """Validate `programs_dir` and write the config tables of the `raw` schema.

    `as_of` decides whether a program has launched (tier lock); None means today in the
    program's time zone. Raises `ProgramsDirectoryError` for a missing or empty directory;
    invalid files are reported in the result (and in `raw.program_config_status`).
    """
    files = find_program_files(programs_dir)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        create_config_tables(con)
        stored = read_stored_programs(con)
        result = load_program_files(files, stored.live_tiers, as_of, stored.program_id_by_file)
        write_program_config(con, result, stored, utc_now())
    return result


def utc_now() -> datetime:
    """The current UTC instant as the warehouse stores it (TIMESTAMP without time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def create_config_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Schema `raw` and the config tables; columns added since a warehouse was made are added."""
    con.execute("create schema if not exists raw")
    for table, columns in CONFIG_TABLES.items():
        column_list = ", ".join(f"{name} {kind}" for name, kind in columns)
        con.execute(f"create table if not exists raw.{table} ({column_list})")
        for name, kind in columns:
            con.execute(f"alter table raw.{table} add column if not exists {name} {kind}")
    ensure_build_parameters(con)


def read_stored_programs(con: duckdb.DuckDBPyConnection) -> StoredPrograms:
    live_tiers: dict[str, dict[str, Decimal]] = {}
    tier_rows = con.execute(
        """
        select program_id, tier_code, threshold
        from raw.program_scenario_tiers
        where scenario_id = 'live'
        order by program_id, tier_rank
        """
    ).fetchall()
    for program_id, tier_code, threshold in tier_rows:
        live_tiers.setdefault(program_id, {})[tier_code] = threshold
    source_files = dict(con.execute("select program_id, source_file from raw.programs").fetchall())
    return StoredPrograms(live_tiers, source_files)


def write_program_config(
    con: duckdb.DuckDBPyConnection,
    result: ProgramsLoadResult,
    stored: StoredPrograms,
    now: datetime,
) -> None:
    """One transaction: valid programs replaced by program_id, every file's status recorded."""
    con.begin()
    try:
        for file_result in result.files:
            if file_result.config is not None:
                rows = program_rows(file_result.config, str(file_result.file), now)
                _replace_program(con, file_result.config.program_id, rows)
        con.execute("delete from raw.program_config_status")
        _insert(con, "program_config_status", status_rows(result, stored, now))
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _replace_program(
    con: duckdb.DuckDBPyConnection, program_id: str, rows: Mapping[str, list[Row]]
) -> None:
    for table in PROGRAM_TABLES:
        con.execute(f"delete from raw.{table} where program_id = ?", [program_id])
        _insert(con, table, rows[table])


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Row]) -> None:
    if not rows:
        return
    columns = [name for name, _ in CONFIG_TABLES[table]]
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(
        f"insert into raw.{table} ({', '.join(columns)}) values ({placeholders})",
        [list(row) for row in rows],
    )


def program_rows(
    config: ProgramConfig, source_file: str, loaded_at: datetime
) -> dict[str, list[Row]]:
    """The rows of one valid program in each config table, columns in CONFIG_TABLES order."""
    exports_json = config.exports.model_dump_json() if config.exports else None
    rows: dict[str, list[Row]] = {
        "programs": [
            (
                config.program_id,
                config.name,
                config.currency,
                config.timezone,
                config.start_date,
                config.back_date,
                config.launch_date,
                config.compare_period_modes,
                config.allow_post_launch_tier_changes,
                source_file,
                config.config_hash(),
                exports_json,
                loaded_at,
            )
        ],
        "program_scenarios": [],
        "program_scenario_tiers": [],
        "program_scenario_activities": [],
    }
    for order, scenario in enumerate(resolve_scenarios(config)):
        key = (config.program_id, scenario.scenario_id)
        rows["program_scenarios"].append(
            (
                *key,
                scenario.is_live,
                scenario.milestone,
                scenario.period,
                scenario.rolling_window,
                scenario.refunds,
                scenario.kind,
                order,
                scenario.description,
            )
        )
        rows["program_scenario_tiers"] += [
            (
                *key,
                tier.code,
                tier.name,
                rank,
                tier.threshold,
                tier.entry_bonus_points,
                tier.birthday_points,
                tier.points_multiplier,
                json.dumps(tier.perks),
            )
            for rank, tier in enumerate(scenario.tiers)
        ]
        rows["program_scenario_activities"] += [
            (*key, activity) for activity in scenario.qualifying_activities
        ]
    return rows


def status_rows(result: ProgramsLoadResult, stored: StoredPrograms, now: datetime) -> list[Row]:
    """One row per file (`ok` / `invalid`), and `removed` for stored programs with no file."""
    rows = [_file_status_row(file_result, now) for file_result in result.files]
    claimed = {file_result.program_id for file_result in result.files}
    rows += [
        (source_file, program_id, "removed", "[]", now)
        for program_id, source_file in sorted(stored.source_files.items())
        if program_id not in claimed
    ]
    return rows


def _file_status_row(file_result: ProgramFileResult, now: datetime) -> Row:
    errors = [error.as_dict() for error in file_result.errors]
    status = "ok" if file_result.is_valid else "invalid"
    return (str(file_result.file), file_result.program_id, status, json.dumps(errors), now)


def stored_status(warehouse: Path) -> list[dict[str, Any]]:
    """`raw.program_config_status` as dicts (for the CLI and tests)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute("select * from raw.program_config_status order by source_file")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
