"""Daily partitions per program: days, a single-run backfill, exports, schedule, failures.

One warehouse goes through the sequence an operator would see: a full build of every
program, two scheduled days of london_tea, a backfill of three earlier days (one run), then a
run that fails and the failure sensor's record of it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from conftest import SAMPLE_PROGRAMS_DIR

from orchestration.assets.daily import (
    DBT_BUILD_CHECK,
    MATCHES_HISTORY_CHECK,
    PROGRAM_TAG,
    daily_asset_key,
    daily_exports_key,
    daily_job_name,
    daily_programs,
    daily_schedule_name,
)
from orchestration.definitions import BUILD_ALL, make_definitions
from orchestration.exports.resource import ExportsResource
from orchestration.resources import WarehouseResource
from orchestration.sensors import SENSOR_NAME, fallback_path
from orchestration.settings import Settings

PROGRAM = "london_tea"
OTHERS = ("nyc_threads", "sydney_surf")
FIRST_BUILD = dt.date(2024, 6, 10)
DAYS = ("2024-06-20", "2024-06-21")
BACKFILL = ("2024-06-15", "2024-06-17")
SECRET = "s3cr3t-hook-value-123"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

EXPORTS_YAML = """
exports:
  since: 2024-06-01
  max_change_share: 1.0
  destinations:
    - {id: nightly_file, type: file, path: exports/tier_changes}
"""


def _days(first: str, last: str) -> list[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


@pytest.fixture(scope="module")
def programs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample programs, london_tea with a file destination, plus one invalid file."""
    folder = tmp_path_factory.mktemp("daily") / "programs"
    shutil.copytree(SAMPLE_PROGRAMS_DIR, folder)
    london = folder / "london.yaml"
    london.write_text(london.read_text() + EXPORTS_YAML)
    (folder / "zz_broken.yaml").write_text("program_id: broken\nmilestone: distance\n")
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("daily_wh") / "warehouse.duckdb"


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture(scope="module")
def defs(small_raw_dir: Path, programs_dir: Path, warehouse: Path) -> dg.Definitions:
    settings = Settings(
        raw_dir=small_raw_dir, programs_dir=programs_dir, warehouse=warehouse, as_of=FIRST_BUILD
    )
    return make_definitions(settings)


def _failures(result: dg.ExecuteInProcessResult) -> list[Any]:
    return [
        (e.step_key, e.step_failure_data.error and e.step_failure_data.error.to_string())
        for e in result.get_step_failure_events()
    ]


def _run_daily(
    defs: dg.Definitions, instance: dg.DagsterInstance, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(daily_job_name(PROGRAM))
    result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    assert result.success, _failures(result)
    return result


def _daily_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    # one materialisation per partition of the run, all with the run's metadata
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == daily_asset_key(PROGRAM)
    ]
    metadata = events[0].materialization.metadata
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _assert_checks_passed(result: dg.ExecuteInProcessResult) -> None:
    evaluations = {
        (e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    key = daily_asset_key(PROGRAM)
    assert evaluations[(key, DBT_BUILD_CHECK)] is True
    assert evaluations[(key, MATCHES_HISTORY_CHECK)] is True
    assert all(evaluations.values()), evaluations


def _snapshot(warehouse: Path, programs: tuple[str, ...]) -> dict[str, list[Any]]:
    """Every row of the programs in the per-member marts (sorted), to compare later."""
    tables = ("fct_tier_history", "fct_tier_changes", "dim_customer_tier_current")
    tables += ("fct_customer_tier_daily",)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(
                f"select * from main.{table} where list_contains(?, program_id) order by all",
                [list(programs)],
            ).fetchall()
            for table in tables
        }


def test_definitions_skip_invalid_files_and_schedule_in_program_time(
    defs: dg.Definitions, programs_dir: Path
) -> None:
    dg.Definitions.validate_loadable(defs)
    ids = [program.program_id for program in daily_programs(programs_dir)]
    assert sorted(ids) == sorted([PROGRAM, *OTHERS])  # zz_broken.yaml is skipped
    assert daily_programs(programs_dir / "missing") == []

    job = defs.resolve_job_def(daily_job_name(PROGRAM))
    partitions = job.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    assert partitions.timezone == "Europe/London"
    assert partitions.get_first_partition_key() == "2023-01-15"  # the launch date
    assert job.tags[PROGRAM_TAG] == PROGRAM

    # The day's checks are blocking and the exports are downstream: a failed check stops them.
    daily = defs.resolve_assets_def(daily_asset_key(PROGRAM))
    assert {spec.name for spec in daily.check_specs if spec.blocking} == {
        DBT_BUILD_CHECK,
        MATCHES_HISTORY_CHECK,
    }
    graph = defs.resolve_asset_graph()
    assert graph.get(daily_exports_key(PROGRAM)).parent_keys == {daily_asset_key(PROGRAM)}
    assert daily.backfill_policy == dg.BackfillPolicy.single_run()

    schedule = defs.resolve_schedule_def(daily_schedule_name(PROGRAM))
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    # At 03:00 London time on the 22nd, the day that has just closed there is the 21st.
    when = dt.datetime(2024, 6, 22, 3, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        data = schedule.evaluate_tick(context)
    assert [request.partition_key for request in data.run_requests or []] == ["2024-06-21"]
    sydney = defs.resolve_schedule_def(daily_schedule_name("sydney_surf"))
    assert sydney.execution_timezone == "Australia/Sydney"


def test_days_backfill_and_failure_sensor(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    warehouse: Path,
    programs_dir: Path,
    small_raw_dir: Path,
) -> None:
    # Every program built once, as of FIRST_BUILD.
    result = defs.resolve_job_def(BUILD_ALL).execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success, _failures(result)
    others_before = _snapshot(warehouse, OTHERS)
    assert others_before["fct_tier_history"]

    # Two scheduled days, one run each.
    for day in DAYS:
        result = _run_daily(defs, instance, partition_key=day)
        _assert_checks_passed(result)
        metadata = _daily_metadata(result)
        assert metadata["as_of"] == day
        assert metadata["rows_by_day"] == {day: metadata["dagster/row_count"]}
        assert metadata["dagster/row_count"] > 0
        assert (
            sum(metadata["members_recomputed_by_reason"].values())
            == (metadata["members_recomputed"])
        )
        assert {e.asset_key for e in result.get_asset_materialization_events()} == {
            daily_asset_key(PROGRAM),
            daily_exports_key(PROGRAM),
        }

    # A backfill of three earlier days: one run over the range, the engine stays at the 21st.
    result = _run_daily(defs, instance, tags={RANGE_START: BACKFILL[0], RANGE_END: BACKFILL[1]})
    _assert_checks_passed(result)
    metadata = _daily_metadata(result)
    assert metadata["as_of"] == DAYS[-1] and metadata["previous_as_of"] == DAYS[-1]
    assert sorted(metadata["rows_by_day"]) == [d.isoformat() for d in _days(*BACKFILL)]

    filled = {FIRST_BUILD, *_days(*BACKFILL), *_days(*DAYS)}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        built = dict(
            con.execute(
                "select program_id, max(built_as_of) from intermediate.int_build_state group by 1"
            ).fetchall()
        )
        days = {
            row[0]
            for row in con.execute(
                "select distinct tier_date from main.fct_customer_tier_daily where program_id = ?",
                [PROGRAM],
            ).fetchall()
        }
        # One row per live member eligible that day, with the tier fct_tier_history gives.
        mismatched = con.execute(
            """
            with expected as (
                select history.customer_id, days.tier_date, history.tier_code
                from main.fct_tier_history as history
                inner join (select unnest(?::date[]) as tier_date) as days
                    on history.valid_from <= days.tier_date
                    and (history.valid_to is null or history.valid_to > days.tier_date)
                where history.program_id = ? and history.scenario_id = 'live'
            ),
            actual as (
                select customer_id, tier_date, tier_code
                from main.fct_customer_tier_daily
                where program_id = ? and scenario_id = 'live'
            )
            select count(*) from (
                (select * from expected except all select * from actual)
                union all
                (select * from actual except all select * from expected)
            )
            """,
            [sorted(filled), PROGRAM, PROGRAM],
        ).fetchone()[0]
        duplicates = con.execute(
            """
            select count(*) from (
                select customer_id, tier_date from main.fct_customer_tier_daily
                where program_id = ? group by all having count(*) > 1
            )
            """,
            [PROGRAM],
        ).fetchone()[0]
    assert days == filled
    assert mismatched == 0 and duplicates == 0
    assert built[PROGRAM] == dt.date.fromisoformat(DAYS[-1])
    assert all(built[other] == FIRST_BUILD for other in OTHERS)
    assert _snapshot(warehouse, OTHERS) == others_before  # other programs untouched

    # A run that fails (its raw directory is missing; the path holds a secret's value) is
    # recorded by the sensor in ops.run_failures, the secret masked.
    missing_raw = small_raw_dir.parent / f"missing-{SECRET}"
    failing_defs = make_definitions(
        Settings(raw_dir=missing_raw, programs_dir=programs_dir, warehouse=warehouse)
    )
    failed = failing_defs.resolve_job_def(daily_job_name(PROGRAM)).execute_in_process(
        instance=instance, partition_key="2024-06-22", raise_on_error=False
    )
    assert not failed.success
    resources = {
        "warehouse": WarehouseResource(path=str(warehouse)),
        "exports": ExportsResource(secrets={"HOOK_SECRET": SECRET}),
    }
    sensor = failing_defs.resolve_sensor_def(SENSOR_NAME)

    def evaluate() -> None:
        context = dg.build_run_status_sensor_context(
            sensor_name=SENSOR_NAME,
            dagster_event=failed.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=failed.dagster_run,
            resources=resources,
        )
        sensor(context)

    evaluate()
    evaluate()  # seen twice, recorded once
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select run_id, job_name, partition, program_id, error_message, failed_at "
            "from ops.run_failures"
        ).fetchall()
    assert len(rows) == 1
    run_id, job_name, partition, program_id, message, failed_at = rows[0]
    assert (run_id, job_name, partition, program_id) == (
        failed.run_id,
        daily_job_name(PROGRAM),
        "2024-06-22",
        PROGRAM,
    )
    assert message.startswith("daily__london_tea__customer_tier_daily: The raw directory ")
    assert "missing-***" in message
    assert SECRET not in message
    assert failed_at is not None

    # While another process holds the warehouse, the record goes to the JSON-lines file.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        evaluate()
    finally:
        holder.communicate("", timeout=30)
    lines = fallback_path(warehouse).read_text().splitlines()
    assert len(lines) == 1 and failed.run_id in lines[0] and SECRET not in lines[0]
