"""The config tables stg_programs reads (docs/data-model.md), written by hand for tests
that build dbt models without loading program files."""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_program_config(warehouse: Path, program: str, timezone: str) -> None:
    """`raw.programs` and `raw.program_config_status` holding one valid program (USD,
    counting from 2023-01-01, launched 2023-03-01) in IANA time zone `timezone`."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists raw")
        con.execute(
            """
            create or replace table raw.programs (
                program_id varchar, name varchar, currency varchar, timezone varchar,
                start_date date, back_date date, launch_date date,
                compare_period_modes boolean, allow_post_launch_tier_changes boolean,
                source_file varchar, config_hash varchar, exports_json varchar,
                loaded_at timestamp
            )
            """
        )
        con.execute(
            "insert into raw.programs values (?, 'ACME', 'USD', ?, date '2023-01-01', null, "
            "date '2023-03-01', true, false, 'acme.yaml', 'test', null, now())",
            [program, timezone],
        )
        con.execute(
            """
            create or replace table raw.program_config_status (
                source_file varchar, program_id varchar, status varchar, errors varchar,
                checked_at timestamp
            )
            """
        )
        con.execute(
            "insert into raw.program_config_status values ('acme.yaml', ?, 'ok', '[]', now())",
            [program],
        )
