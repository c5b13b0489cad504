"""Daily partitions per program: the day's tiers, then the day's exports, on a schedule.

For every valid program file found when the definitions load (`daily_programs`), one
`DailyPartitionsDefinition` starting on the program's launch date, in the program's own time
zone (a partition is a local calendar day; the last one is the last day that has closed
there), and two partitioned assets in group `daily`:

- `daily/<program_id>/customer_tier_daily`: materialising days first..last (one day, or a
  range: `BackfillPolicy.single_run()` makes a backfill one run) does what `build_all` does,
  for that program only: validate the program config, load the raw directory, then one
  `dbt build` with `BuildConfig(programs=[P], daily_from=first, daily_to=last,
  as_of=max(last, the as_of P was last built with))`. A backfill of past days therefore
  never moves the engine back in time; it fills `fct_customer_tier_daily` for those days.
  The dbt build's outcome and the filled days are two blocking asset checks.
- `daily/<program_id>/exports`: downstream of it (so a failed blocking check stops it), sends
  what is due for that program to its destinations (the code of `vip-tiers export`).

Job `daily_<program_id>` selects both; its schedule runs at 03:00 in the program's time zone
for the day that has just closed (03:00 exists exactly once on every day in the sample time
zones: clocks change at 01:00 UTC in Europe and at 02:00 local in New York and Sydney).
Runs carry the tag `vip/program`.
"""

import datetime as dt
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.assets import BuildConfig, VipErrorKind, input_failure
from orchestration.assets.dbt import dbt_build_args, dbt_target_path
from orchestration.assets.failures import input_failures
from orchestration.assets.raw import ensure_sample_raw_dir
from orchestration.build_parameters import write_build_parameters
from orchestration.config_tables import sync_program_config
from orchestration.exports import outbox
from orchestration.exports.resource import ExportsResource
from orchestration.exports.runner import (
    ExportReport,
    run_exports,
    secret_env_name,
)
from orchestration.loader import load_raw_dir
from orchestration.programs import ProgramConfig, ProgramsDirectoryError, load_programs
from orchestration.resources import (
    InputsResource,
    VipDbtCliResource,
    WarehouseLockedError,
    WarehouseResource,
    resolve_settings,
)
from orchestration.settings import Settings
from orchestration.summary import read_recompute

logger = logging.getLogger("vip_tiers.daily")

GROUP = "daily"
PROGRAM_TAG = "vip/program"
SCHEDULE_HOUR = 3
DBT_BUILD_CHECK = "dbt_build_passed"
MATCHES_HISTORY_CHECK = "matches_tier_history"
HELD_CHECK = "no_held_deliveries"
DEAD_LETTER_CHECK = "no_new_dead_letters"
MARTS_SCHEMA = "main"
STATE_TABLE = ("intermediate", "int_build_state")
MAX_LISTED = 10
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
DBT_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


@dataclass(frozen=True)
class DailyProgram:
    """What the daily definitions need of one program file."""

    program_id: str
    name: str
    timezone: str
    launch_date: dt.date
    secret_env_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: ProgramConfig) -> "DailyProgram":
        destinations = config.exports.destinations if config.exports else []
        names = tuple(
            name for name in (secret_env_name(d) for d in destinations) if name is not None
        )
        return cls(
            program_id=config.program_id,
            name=config.name,
            timezone=config.timezone,
            launch_date=config.launch_date,
            secret_env_names=names,
        )


def daily_programs(programs_dir: Path) -> list[DailyProgram]:
    """The valid programs of `programs_dir`; invalid files and a missing folder are logged
    and skipped, so a bad file never stops the definitions from loading."""
    try:
        result = load_programs(programs_dir)
    except ProgramsDirectoryError as exc:
        logger.warning(f"No daily partitions: {exc}")
        return []
    except Exception as exc:  # an unreadable folder must not break `dagster dev`
        logger.warning(f"No daily partitions: cannot read {programs_dir}: {exc}")
        return []
    for error in result.errors:
        logger.warning(f"No daily partitions for an invalid program file: {error}")
    return [DailyProgram.of(config) for config in result.valid]


def daily_asset_key(program_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, program_id, "customer_tier_daily"])


def daily_exports_key(program_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, program_id, "exports"])


def daily_job_name(program_id: str) -> str:
    return f"daily_{program_id}"


def daily_schedule_name(program_id: str) -> str:
    return f"daily_{program_id}_schedule"


def partitions_for(program: DailyProgram) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=program.launch_date.isoformat(), timezone=program.timezone
    )


# --- the build of one program's days ------------------------------------------------------


def _table_exists(con: Any, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def built_as_of(warehouse: WarehouseResource, program_id: str) -> dt.date | None:
    """The as_of the program was last built with (None before its first build)."""
    if not warehouse.exists():
        return None
    schema, table = STATE_TABLE
    with warehouse.connect(read_only=True) as con:
        if not _table_exists(con, schema, table):
            return None
        row = con.execute(
            f'select max(built_as_of) from "{schema}"."{table}" where program_id = ?',
            [program_id],
        ).fetchone()
    return row[0] if row and row[0] is not None else None


def build_as_of(last_day: dt.date, previous: dt.date | None) -> dt.date:
    """The engine's date for days ..last_day: never before what was built already."""
    return max(last_day, previous) if previous else last_day


def _sync_config(settings: Settings, program_id: str, log: dg.DagsterLogManager) -> dict[str, Any]:
    """The program_config step: validate every file, write the config tables."""
    if not settings.programs_dir.is_dir():
        raise input_failure(
            f"The programs directory {settings.programs_dir} does not exist: set "
            "VIP_PROGRAMS_DIR (or the `inputs` resource) to a folder of program YAML files."
        )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with input_failures(settings.warehouse):
        result = sync_program_config(settings.warehouse, settings.programs_dir, settings.as_of)
    for error in result.errors:
        log.warning(f"Invalid program config: {error}")
    if program_id in (result.invalid_program_ids or set()):
        mine = [str(e) for r in result.files if r.program_id == program_id for e in r.errors]
        raise input_failure(
            f"The program file of {program_id} is invalid, so its days are not built (its "
            f"last good outputs stay): {'; '.join(mine)}. Fix the file and run again."
        )
    if program_id not in {config.program_id for config in result.valid}:
        raise input_failure(
            f"No program {program_id} in {settings.programs_dir} any more: its daily job "
            "stays until the definitions are reloaded."
        )
    return {"invalid_programs": len(result.invalid_program_ids or ())}


def _load_raw(settings: Settings, log: dg.DagsterLogManager) -> dict[str, Any]:
    """The raw_tables step: load the raw directory (sample data in sample mode)."""
    if settings.uses_sample_data:
        raw_dir = ensure_sample_raw_dir(settings, log)
    else:
        raw_dir = settings.effective_raw_dir
        if not raw_dir.is_dir():
            raise input_failure(
                f"The raw directory {raw_dir} does not exist: set VIP_RAW_DIR (or the "
                "`inputs` resource) to a folder holding customers and orders (CSV or Parquet)."
            )
    with input_failures(settings.warehouse):
        summary = load_raw_dir(
            raw_dir, settings.warehouse, memory_limit=settings.duckdb_memory_limit
        )
    log.info(summary.as_text())
    return {"raw_dir": str(raw_dir)}


@dataclass(frozen=True)
class DbtOutcome:
    returncode_ok: bool
    counts: dict[str, int]
    failures: list[str]
    error: str | None

    @property
    def passed(self) -> bool:
        return self.returncode_ok and not self.failures


def _run_dbt(
    context: dg.AssetExecutionContext,
    dbt: VipDbtCliResource,
    warehouse: WarehouseResource,
    settings: Settings,
    config: BuildConfig,
) -> DbtOutcome:
    """The dbt_models step without its asset events: one `dbt build`, its results read
    from run_results.json."""
    params = config.parameters(settings.as_of)
    with input_failures(settings.warehouse), warehouse.connect() as con:
        write_build_parameters(con, params)
    args = dbt_build_args(config.full_refresh)
    target = dbt_target_path(settings.warehouse)
    (target / "run_results.json").unlink(missing_ok=True)
    context.log.info(f"dbt {' '.join(args)} on {settings.warehouse} ({params})")
    invocation = dbt.cli_with_env(
        args, env=settings.dbt_env(), target_path=target, raise_on_error=False
    )
    for event in invocation.stream_raw_events():
        info = event.raw_event.get("info", {})
        if info.get("level") in {"warn", "error"} and info.get("msg"):
            log = context.log.error if info["level"] == "error" else context.log.warning
            log(f"dbt: {ANSI_CODES.sub('', info['msg'])}")
    error = invocation.get_error()
    if not (target / "run_results.json").exists():
        raise dg.Failure(
            description=f"dbt did not run: {error}", allow_retries=False
        )  # a project or profile that does not compile
    results = invocation.get_artifact("run_results.json").get("results", [])
    counts: dict[str, int] = {}
    failures = []
    for result in results:
        status = str(result.get("status"))
        counts[status] = counts.get(status, 0) + 1
        if status in DBT_FAILED_STATUSES:
            message = (result.get("message") or "").splitlines()
            failures.append(f"{result.get('unique_id')}: {status}: {' '.join(message)[:300]}")
    return DbtOutcome(error is None, counts, failures, str(error) if error else None)


@dataclass(frozen=True)
class DayStats:
    rows_by_day: dict[str, int]
    mismatches: int  # -1: the marts are not built
    recomputed_by_reason: dict[str, int]
    members: int


def _day_stats(
    warehouse: WarehouseResource, program_id: str, first: dt.date, last: dt.date
) -> DayStats:
    """Rows per requested day, mismatches with fct_tier_history, members recomputed by
    reason and eligible members (orchestration/summary.py's `read_recompute`)."""
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    rows_by_day = {day.isoformat(): 0 for day in days}
    mismatches = -1
    with warehouse.connect(read_only=True) as con:
        if _table_exists(con, MARTS_SCHEMA, "fct_customer_tier_daily"):
            for day, rows in con.execute(
                f"""
                select tier_date, count(*) from {MARTS_SCHEMA}.fct_customer_tier_daily
                where program_id = ? and tier_date between ? and ? group by 1
                """,
                [program_id, first, last],
            ).fetchall():
                rows_by_day[day.isoformat()] = int(rows)
        if _table_exists(con, MARTS_SCHEMA, "fct_customer_tier_daily") and _table_exists(
            con, MARTS_SCHEMA, "fct_tier_history"
        ):
            mismatches = int(
                con.execute(
                    f"""
                    with days as (
                        select cast(range as date) as tier_date
                        from range(cast(? as date), cast(? as date) + 1, interval 1 day)
                    ),
                    expected as (
                        select history.customer_id, days.tier_date, history.tier_code
                        from {MARTS_SCHEMA}.fct_tier_history as history
                        inner join days
                            on history.valid_from <= days.tier_date
                            and (history.valid_to is null or history.valid_to > days.tier_date)
                        where history.program_id = ? and history.scenario_id = 'live'
                    ),
                    actual as (
                        select customer_id, tier_date, tier_code
                        from {MARTS_SCHEMA}.fct_customer_tier_daily
                        where program_id = ? and scenario_id = 'live'
                            and tier_date between ? and ?
                    )
                    select count(*) from (
                        (select * from expected except all select * from actual)
                        union all
                        (select * from actual except all select * from expected)
                    )
                    """,
                    [first, last, program_id, program_id, first, last],
                ).fetchone()[0]
            )
        recompute = [r for r in read_recompute(con) if r.program_id == program_id]
    members = recompute[0].members if recompute else 0
    by_reason = dict(recompute[0].recomputed) if recompute else {}
    return DayStats(rows_by_day, mismatches, by_reason, members)


def _dbt_check(outcome: DbtOutcome) -> dg.AssetCheckResult:
    failures = outcome.failures
    if outcome.passed:
        description = "every dbt model and test of this build passed"
    elif failures:
        description = f"{len(failures)} dbt node(s) failed: " + " | ".join(failures[:MAX_LISTED])
    else:
        description = f"dbt failed: {outcome.error}"
    return dg.AssetCheckResult(
        check_name=DBT_BUILD_CHECK,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description[:4000],
        metadata={
            "statuses": dg.MetadataValue.json(outcome.counts),
            "failed": len(failures),
        },
    )


def _history_check(stats: DayStats) -> dg.AssetCheckResult:
    mismatches = stats.mismatches
    empty = [day for day, rows in stats.rows_by_day.items() if rows == 0]
    if mismatches < 0:
        description = "fct_customer_tier_daily or fct_tier_history is not built"
    elif mismatches:
        description = (
            f"{mismatches} row(s) of fct_customer_tier_daily differ from the live "
            "fct_tier_history on these days (missing, extra or another tier)"
        )
    else:
        description = "one row per live member on each day, with its fct_tier_history tier"
    return dg.AssetCheckResult(
        check_name=MATCHES_HISTORY_CHECK,
        passed=mismatches == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"mismatched_rows": mismatches, "days_without_rows": len(empty)},
    )


def build_daily_asset(
    program: DailyProgram, partitions_def: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """`daily/<program>/customer_tier_daily`: build the program's days (see module doc)."""
    program_id = program.program_id
    key = daily_asset_key(program_id)

    @dg.asset(
        key=key,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"dbt", "duckdb"},
        tags={PROGRAM_TAG: program_id},
        metadata={"program_id": program_id, "timezone": program.timezone},
        description=(
            f"{program.name} ({program_id}): the live tier of every member on each day "
            f"(local days, {program.timezone}), rows of `fct_customer_tier_daily`. A run "
            "validates the config, loads the raw data and runs `dbt build` for this program "
            "only, as of the last day (or later, when already built later)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                DBT_BUILD_CHECK,
                asset=key,
                blocking=True,
                description="Every dbt model and test of the build passed.",
            ),
            dg.AssetCheckSpec(
                MATCHES_HISTORY_CHECK,
                asset=key,
                blocking=True,
                description=(
                    "The days hold one row per live member, with the tier of fct_tier_history."
                ),
            ),
        ],
    )
    def _daily(
        context: dg.AssetExecutionContext,
        dbt: VipDbtCliResource,
        inputs: InputsResource,
        warehouse: WarehouseResource,
    ) -> Iterator[Any]:
        keys = context.partition_key_range
        first, last = dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
        try:
            previous = built_as_of(warehouse, program_id)
        except WarehouseLockedError as exc:
            raise input_failure(str(exc), VipErrorKind.WAREHOUSE_LOCKED) from exc
        as_of = build_as_of(last, previous)
        context.log.info(
            f"{program_id}: days {first}..{last}, as of {as_of} "
            f"(last built as of {previous or 'never'})"
        )
        settings = resolve_settings(inputs, warehouse, as_of.isoformat())
        config_meta = _sync_config(settings, program_id, context.log)
        raw_meta = _load_raw(settings, context.log)
        config = BuildConfig(
            as_of=as_of.isoformat(),
            daily_from=first.isoformat(),
            daily_to=last.isoformat(),
            programs=[program_id],
        )
        outcome = _run_dbt(context, dbt, warehouse, settings, config)
        stats = _day_stats(warehouse, program_id, first, last)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(stats.rows_by_day.values()),
                "days": len(stats.rows_by_day),
                "rows_by_day": dg.MetadataValue.json(stats.rows_by_day),
                "members": stats.members,
                "members_recomputed": sum(stats.recomputed_by_reason.values()),
                "members_recomputed_by_reason": dg.MetadataValue.json(stats.recomputed_by_reason),
                "as_of": as_of.isoformat(),
                "previous_as_of": previous.isoformat() if previous else "never",
                **config_meta,
                **raw_meta,
            },
            check_results=[_dbt_check(outcome), _history_check(stats)],
        )

    return _daily


# --- the day's exports --------------------------------------------------------------------


def _export_checks(
    warehouse: WarehouseResource, program_id: str, report: ExportReport
) -> list[dg.AssetCheckResult]:
    with outbox.connect(warehouse.resolved_path()) as con:
        held = [
            row for row in outbox.status_counts(con, program_id=program_id) if row.status == "held"
        ]
    held_count = sum(row.deliveries for row in held)
    reasons = list(dict.fromkeys(row.reason for row in held if row.reason))[:MAX_LISTED]
    dead = report.dead_lettered
    dead_reasons = [r for d in report.destinations for r in d.dead_letter_reasons][:MAX_LISTED]
    return [
        dg.AssetCheckResult(
            check_name=HELD_CHECK,
            passed=held_count == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{held_count} deliveries of {program_id} held by the guard: "
                + " | ".join(reasons)
                + f" (release: `vip-tiers exports release --program {program_id}`)"
                if held_count
                else f"no delivery of {program_id} is held"
            ),
            metadata={"held": held_count},
        ),
        dg.AssetCheckResult(
            check_name=DEAD_LETTER_CHECK,
            passed=dead == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{dead} deliveries dead-lettered by this run: " + " | ".join(dead_reasons)
                if dead
                else "no delivery dead-lettered by this run"
            ),
            metadata={"dead_lettered": dead},
        ),
    ]


def build_daily_exports_asset(
    program: DailyProgram, partitions_def: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """`daily/<program>/exports`: what is due for the program, sent after the day's checks."""
    program_id = program.program_id
    key = daily_exports_key(program_id)

    @dg.asset(
        key=key,
        deps=[daily_asset_key(program_id)],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"python"},
        tags={PROGRAM_TAG: program_id},
        metadata={"program_id": program_id},
        description=(
            f"Tier changes of {program_id} sent to each of its destinations exactly once "
            "(the code of `vip-tiers export --program`), after the day's blocking checks pass."
        ),
        check_specs=[
            dg.AssetCheckSpec(HELD_CHECK, asset=key, description="No delivery is held."),
            dg.AssetCheckSpec(
                DEAD_LETTER_CHECK, asset=key, description="This run dead-lettered nothing."
            ),
        ],
    )
    def _exports(
        context: dg.AssetExecutionContext,
        exports: ExportsResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        with input_failures(warehouse.resolved_path()):
            report = run_exports(
                warehouse.resolved_path(),
                program_id=program_id,
                run_id=context.run_id,
                options=exports.options(),
                secrets=exports.secret,
                log=context.log,
            )
        lines = [f"- {d.summary()}" for d in report.destinations] or ["- nothing configured"]
        yield dg.MaterializeResult(
            metadata={
                "export_run_id": report.run_id,
                "destinations": len(report.destinations),
                "delivered": report.delivered,
                "held": report.held,
                "dead_lettered": report.dead_lettered,
                "summary": dg.MetadataValue.md("\n".join(lines)),
            },
            check_results=_export_checks(warehouse, program_id, report),
        )
        if report.errors:
            raise dg.Failure(
                description="; ".join(report.errors),
                metadata={"errors": len(report.errors)},
                allow_retries=False,
            )

    return _exports


# --- everything of one program ------------------------------------------------------------


@dataclass(frozen=True)
class DailyDefinitions:
    """The daily assets, jobs and schedules of every program."""

    programs: Sequence[DailyProgram]
    assets: Sequence[dg.AssetsDefinition]
    jobs: Sequence[Any]
    schedules: Sequence[Any]

    @property
    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(sorted({name for p in self.programs for name in p.secret_env_names}))


def build_daily_definitions(programs: Sequence[DailyProgram]) -> DailyDefinitions:
    assets: list[dg.AssetsDefinition] = []
    jobs: list[Any] = []
    schedules: list[Any] = []
    for program in programs:
        partitions_def = partitions_for(program)
        with warnings.catch_warnings():
            # `backfill_policy` is marked beta; single-run backfills are what we rely on.
            warnings.simplefilter("ignore", dg.BetaWarning)
            daily = build_daily_asset(program, partitions_def)
            exports = build_daily_exports_asset(program, partitions_def)
        job = dg.define_asset_job(
            name=daily_job_name(program.program_id),
            selection=dg.AssetSelection.assets(daily, exports),
            partitions_def=partitions_def,
            tags={PROGRAM_TAG: program.program_id},
            executor_def=dg.in_process_executor,
            description=(
                f"{program.program_id}: build the partition's days (local days, "
                f"{program.timezone}) for this program only, then send its exports."
            ),
        )
        schedule = dg.build_schedule_from_partitioned_job(
            job,
            name=daily_schedule_name(program.program_id),
            hour_of_day=SCHEDULE_HOUR,
            minute_of_hour=0,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=(
                f"Every day at {SCHEDULE_HOUR:02d}:00 {program.timezone}: the day that has "
                f"just closed for {program.program_id}."
            ),
        )
        assets += [daily, exports]
        jobs.append(job)
        schedules.append(schedule)
    return DailyDefinitions(tuple(programs), tuple(assets), tuple(jobs), tuple(schedules))
