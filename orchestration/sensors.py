"""The run-failure sensor: every failed run recorded where an operator looks.

`vip_run_failures` watches every job of the code location (build_all, export_all, the
per-program daily jobs). For each failed run it appends one row to `ops.run_failures` in the
warehouse (run_id, job_name, partition, program_id, error_message, failed_at, recorded_at;
created when missing; one row per run however often the sensor sees it) and logs it at
error level. When the warehouse is locked (a run is using it) the row goes to the JSON-lines
file `<warehouse>.run_failures.jsonl` beside it instead.

Error messages pass through the exports' scrubber first: the values of the secrets the
program files name (`*_env`) and of the `exports` resource never reach the table, the file or
the log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.assets.daily import PROGRAM_TAG
from orchestration.exports.http import Scrubber
from orchestration.exports.resource import ExportsResource
from orchestration.resources import WarehouseResource, is_lock_error

if TYPE_CHECKING:
    from dagster_shared.error import SerializableErrorInfo

SENSOR_NAME = "vip_run_failures"
TABLE = "ops.run_failures"
FALLBACK_SUFFIX = ".run_failures.jsonl"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MAX_MESSAGE = 4000
WRAPPER_ERRORS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    partition: str | None
    program_id: str | None
    error_message: str
    failed_at: dt.datetime


def fallback_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + FALLBACK_SUFFIX)


def partition_of(tags: dict[str, str]) -> str | None:
    """The run's partition: a key, or `start..end` for a single-run backfill."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return None


def error_text(error: SerializableErrorInfo | None) -> str | None:
    """The user's error of a step failure: Dagster's wrapper unwrapped, no class path."""
    while error is not None and error.cls_name in WRAPPER_ERRORS and error.cause is not None:
        error = error.cause
    if error is None:
        return None
    message = error.message.strip()
    prefix, _, rest = message.partition(": ")
    if error.cls_name and prefix.endswith(error.cls_name) and rest:
        message = rest if error.cls_name == "Failure" else f"{error.cls_name}: {rest}"
    return message


def error_message(context: dg.RunFailureSensorContext) -> str:
    """The failed steps' errors (the run's failure message when no step failed)."""
    parts = []
    for event in context.get_step_failure_events():
        text = error_text(event.step_failure_data.error) or event.message or "failed"
        parts.append(f"{event.step_key}: {text}")
    return "\n".join(parts) or (context.failure_event.message or "run failed")


def make_scrubber(exports: ExportsResource, secret_env_names: Iterable[str]) -> Scrubber:
    secrets = [value for value in exports.secrets.values() if value]
    secrets += [value for name in secret_env_names if (value := exports.secret(name))]
    return Scrubber(secrets)


def record_failure(warehouse: Path, failure: RunFailure) -> Path:
    """Append the failure to `ops.run_failures` (or to the JSON-lines file when the
    warehouse is locked); returns where it went."""
    import duckdb

    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema if not exists ops")
            con.execute(
                f"""
                create table if not exists {TABLE} (
                    run_id varchar,
                    job_name varchar,
                    partition varchar,
                    program_id varchar,
                    error_message varchar,
                    failed_at timestamptz,
                    recorded_at timestamptz
                )
                """
            )
            con.execute(
                f"""
                insert into {TABLE}
                select ?, ?, ?, ?, ?, ?, now()
                where not exists (select 1 from {TABLE} where run_id = ?)
                """,
                [
                    failure.run_id,
                    failure.job_name,
                    failure.partition,
                    failure.program_id,
                    failure.error_message,
                    failure.failed_at,
                    failure.run_id,
                ],
            )
        return warehouse
    except duckdb.Error as exc:
        if not is_lock_error(exc):
            raise
    path = fallback_path(warehouse)
    row = {**asdict(failure), "failed_at": failure.failed_at.isoformat()}
    row["recorded_at"] = dt.datetime.now(dt.UTC).isoformat()
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
    return path


def failed_at(context: dg.RunFailureSensorContext) -> dt.datetime:
    stats = None
    try:
        stats = context.instance.get_run_stats(context.dagster_run.run_id)
    except Exception:  # the time is informative; never lose the record over it
        stats = None
    end = getattr(stats, "end_time", None)
    if end:
        return dt.datetime.fromtimestamp(end, dt.UTC)
    return dt.datetime.now(dt.UTC)


def make_run_failure_sensor(secret_env_names: Sequence[str] = ()) -> dg.SensorDefinition:
    """The sensor; `secret_env_names`: the variables the program files name for secrets."""
    names = tuple(secret_env_names)

    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Records every failed run in `{TABLE}` of the warehouse (or "
            f"`<warehouse>{FALLBACK_SUFFIX}` while it is locked) and logs it."
        ),
    )
    def vip_run_failures(
        context: dg.RunFailureSensorContext,
        warehouse: WarehouseResource,
        exports: ExportsResource,
    ) -> None:
        run = context.dagster_run
        tags = dict(run.tags)
        scrub = make_scrubber(exports, names)
        failure = RunFailure(
            run_id=run.run_id,
            job_name=run.job_name,
            partition=partition_of(tags),
            program_id=tags.get(PROGRAM_TAG),
            error_message=scrub(error_message(context))[:MAX_MESSAGE],
            failed_at=failed_at(context),
        )
        path = warehouse.resolved_path()
        where = record_failure(path, failure)
        where_text = f"{TABLE} of {where}" if where == path else str(where)
        context.log.error(
            f"Run {failure.run_id} of {failure.job_name} failed"
            + (f" (program {failure.program_id})" if failure.program_id else "")
            + (f" (partition {failure.partition})" if failure.partition else "")
            + f": {failure.error_message} — recorded in {where_text}"
        )

    return vip_run_failures
