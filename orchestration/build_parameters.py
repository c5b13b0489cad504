"""What one build is asked to do, written to `raw.build_parameters` before dbt runs.

dbt reads the build date and the daily partitions from this one-row table rather than from
`--vars`: vars that change every day would make dbt re-parse the whole project on every run
(partial parsing is dropped whenever vars change). `dbt build --vars '{as_of: …}'` still
overrides the table for someone running dbt by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

TABLE = "raw.build_parameters"


@dataclass(frozen=True)
class BuildParameters:
    """as_of None: yesterday in each program's time zone. daily_from/daily_to None: the
    as_of day. programs None: every program; else only these are built (the others keep
    their rows)."""

    as_of: dt.date | None = None
    daily_from: dt.date | None = None
    daily_to: dt.date | None = None
    programs: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.daily_from and self.daily_to and self.daily_from > self.daily_to:
            raise ValueError(
                f"daily partitions: {self.daily_from} is after {self.daily_to} (from > to)"
            )


COLUMNS = "as_of date, daily_from date, daily_to date, programs varchar, written_at timestamp"


def ensure_build_parameters(con: duckdb.DuckDBPyConnection) -> None:
    """Create `raw.build_parameters` with its defaults (all null) when it is missing, so a
    warehouse filled by the loader can be built with `dbt build` by hand."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {TABLE} ({COLUMNS})")
    (rows,) = con.execute(f"select count(*) from {TABLE}").fetchone() or (0,)
    if not rows:
        con.execute(f"insert into {TABLE} values (null, null, null, null, now()::timestamp)")


def write_build_parameters(con: duckdb.DuckDBPyConnection, params: BuildParameters) -> None:
    """Replace the one row of `raw.build_parameters` (DuckDB warehouse)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create or replace table {TABLE} ({COLUMNS})")
    programs = ",".join(params.programs) if params.programs else None
    con.execute(
        f"insert into {TABLE} values (?, ?, ?, ?, now()::timestamp)",
        [params.as_of, params.daily_from, params.daily_to, programs],
    )
