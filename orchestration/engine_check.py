"""`vip-tiers check-engines`: the same data built on DuckDB and on Spark, marts compared.

Both builds run the same Dagster job as `vip-tiers run` (config, raw tables, one full
`dbt build`), each into its own warehouse under the work folder. Every public mart (the
models under dbt_project/models/marts/) is then read from both engines (Spark's through
Parquet files its driver writes) and compared as sorted, normalised rows: dates as ISO
dates, decimals by value (1.50 = 1.5), timestamps as UTC instants, nulls as nulls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.settings import DBT_PROJECT_DIR, DEFAULT_DATA_DIR, Settings, from_env

ENGINES = ("duckdb", "spark")
MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"
DEFAULT_WORK_DIR = DEFAULT_DATA_DIR / "engine-check"
DEFAULT_MEMBERS = 150
SEED = 42


class EngineCheckError(RuntimeError):
    """The comparison could not run (bad input, a build failed, Spark unavailable)."""


@dataclass(frozen=True)
class ModelComparison:
    model: str
    rows: dict[str, int | None]
    identical: bool
    detail: str = ""


@dataclass
class EngineCheckResult:
    comparisons: list[ModelComparison] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    build_problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            bool(self.comparisons)
            and not any(self.build_problems.values())
            and all(c.identical for c in self.comparisons)
        )


def public_marts() -> list[str]:
    """The public output models: every model file under dbt_project/models/marts/."""
    return sorted(path.stem for path in MARTS_DIR.rglob("*.sql"))


# ---------------------------------------------------------------------------------------------
# Normalising and comparing rows.


def normalise(value: Any) -> Any:
    """One comparable form per value, whatever engine and driver produced it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return ("ts", value.isoformat())
    if isinstance(value, dt.date):
        return ("date", value.isoformat())
    if isinstance(value, Decimal | int):
        number = Decimal(value)
        return ("num", str(number.normalize()) if number != 0 else "0")
    if isinstance(value, float):
        return ("num", str(Decimal(repr(value)).normalize()) if value != 0 else "0")
    return ("str", str(value))


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, "") if v is None else (1, repr(v)) for v in row)


def normalised_rows(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(normalise(v) for v in row) for row in rows), key=_sort_key)


def compare_rows(
    model: str,
    left: tuple[list[str], list[tuple[Any, ...]]] | None,
    right: tuple[list[str], list[tuple[Any, ...]]] | None,
) -> ModelComparison:
    """Compare one model's (columns, rows) from DuckDB (left) and Spark (right)."""
    counts = {
        "duckdb": len(left[1]) if left is not None else None,
        "spark": len(right[1]) if right is not None else None,
    }
    if left is None or right is None:
        missing = [engine for engine, side in zip(ENGINES, (left, right), strict=True) if not side]
        return ModelComparison(model, counts, False, f"missing on {', '.join(missing)}")
    left_columns, right_columns = left[0], [c.lower() for c in right[0]]
    if sorted(left_columns) != sorted(right_columns):
        only_left = sorted(set(left_columns) - set(right_columns))
        only_right = sorted(set(right_columns) - set(left_columns))
        detail = f"columns differ: duckdb only {only_left}, spark only {only_right}"
        return ModelComparison(model, counts, False, detail)
    order = [right_columns.index(column) for column in left_columns]
    left_rows = normalised_rows(left[1])
    right_rows = normalised_rows(tuple(row[i] for i in order) for row in right[1])
    if left_rows == right_rows:
        return ModelComparison(model, counts, True)
    left_set, right_set = set(left_rows), set(right_rows)
    only_left = [row for row in left_rows if row not in right_set]
    only_right = [row for row in right_rows if row not in left_set]
    example = only_left[:1] or only_right[:1]
    detail = f"{len(only_left)} rows only on duckdb, {len(only_right)} only on spark"
    if example:
        shown = dict(zip(left_columns, example[0], strict=True))
        detail += f"; e.g. {'duckdb' if only_left else 'spark'} {shown}"
    return ModelComparison(model, counts, False, detail)


def _read_duckdb(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(sql)
    return [d[0].lower() for d in cursor.description], cursor.fetchall()


def read_duckdb_marts(warehouse: Path, models: list[str]) -> dict[str, tuple | None]:
    out: dict[str, tuple | None] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        for model in models:
            out[model] = (
                _read_duckdb(con, f'select * from main."{model}"') if model in present else None
            )
    return out


def read_spark_marts(
    settings: Settings, models: list[str], out_dir: Path
) -> dict[str, tuple | None]:
    from orchestration.spark import export_tables

    shutil.rmtree(out_dir, ignore_errors=True)
    export_tables(settings, models, out_dir)
    out: dict[str, tuple | None] = {}
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for model in models:
            folder = out_dir / model
            files = sorted(folder.glob("*.parquet"))
            out[model] = (
                _read_duckdb(con, f"select * from read_parquet('{folder}/*.parquet')")
                if files
                else None
            )
    return out


# ---------------------------------------------------------------------------------------------
# Building.


def build(settings: Settings) -> list[str]:
    """Run the `build_all` job (full refresh) for `settings`; return the problems found."""
    import dagster as dg

    from orchestration.cli import (
        failed_checks_of,
        failures_of,
        invalid_programs_of,
        progress_logger_def,
    )
    from orchestration.definitions import BUILD_ALL, make_definitions

    # the `progress` logger instead of Dagster's console logger: no event lines here
    defs = make_definitions(settings, loggers={"progress": progress_logger_def()})
    job = defs.resolve_job_def(BUILD_ALL)
    run_config = {
        "loggers": {"progress": {"config": {}}},
        "ops": {"dbt_models": {"config": {"full_refresh": True}}},
    }
    with contextlib.redirect_stdout(io.StringIO()), dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
    input_errors, failures = failures_of(result)
    return [
        *input_errors,
        *failures,
        *invalid_programs_of(result),
        *(f"failed test {check}" for check in failed_checks_of(result)),
    ]


def check_engines(
    raw_dir: Path | None = None,
    programs_dir: Path | None = None,
    as_of: dt.date | None = None,
    members: int = DEFAULT_MEMBERS,
    work_dir: Path = DEFAULT_WORK_DIR,
    progress: Callable[[str], None] = lambda _message: None,
) -> EngineCheckResult:
    """Build the same inputs on both engines and compare every public mart."""
    from orchestration.generate import generate_raw_dir
    from orchestration.spark import engine_problem

    problem = engine_problem()
    if problem:
        raise EngineCheckError(problem)
    work_dir = work_dir.expanduser().resolve()
    base = from_env(raw_dir=raw_dir, programs_dir=programs_dir, as_of=as_of)
    if not base.programs_dir.is_dir():
        raise EngineCheckError(f"The programs directory {base.programs_dir} does not exist.")
    if raw_dir is None:
        raw_dir = work_dir / "raw"
        progress(f"Generating {members} members per program into {raw_dir} …")
        shutil.rmtree(raw_dir, ignore_errors=True)
        generate_raw_dir(raw_dir, base.programs_dir, members_per_program=members, seed=SEED)
    elif not raw_dir.is_dir():
        raise EngineCheckError(f"The raw directory {raw_dir} does not exist.")

    result = EngineCheckResult()
    models = public_marts()
    tables: dict[str, dict[str, tuple | None]] = {}
    for engine in ENGINES:
        engine_dir = work_dir / engine
        shutil.rmtree(engine_dir, ignore_errors=True)  # a full build from nothing
        engine_dir.mkdir(parents=True)
        settings = from_env(
            raw_dir=raw_dir,
            programs_dir=base.programs_dir,
            warehouse=engine_dir / "warehouse.duckdb",
            as_of=as_of,
            engine=engine,
        )
        progress(f"Building on {engine} …")
        started = time.monotonic()
        result.build_problems[engine] = build(settings)
        result.seconds[engine] = time.monotonic() - started
        progress(f"  {engine}: built in {result.seconds[engine]:.0f} s")
        if engine == "duckdb":
            tables[engine] = read_duckdb_marts(settings.warehouse, models)
        else:
            tables[engine] = read_spark_marts(settings, models, engine_dir / "marts")
    for model in models:
        result.comparisons.append(
            compare_rows(model, tables["duckdb"].get(model), tables["spark"].get(model))
        )
    return result
