"""End to end on the real pipeline: `build_all` (config, raw, dbt) on generated data, then
the `export_all` job of the same Definitions sends the live changes of the real marts."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import AS_OF

from orchestration.assets.exports import EXPORT_ALL, HELD_CHECK
from orchestration.definitions import BUILD_ALL, make_definitions
from orchestration.settings import SAMPLE_PROGRAMS_DIR, Settings

from .export_fakes import ENV_NAMES, SECRET, applied_change_ids, fake_api

SINCE = "2024-01-01"


def _programs_with_exports(target: Path, webhook_url: str) -> Path:
    shutil.copytree(SAMPLE_PROGRAMS_DIR, target)
    london = target / "london.yaml"
    london.write_text(
        london.read_text()
        + f"""
exports:
  since: {SINCE}
  max_change_share: 1.0
  destinations:
    - {{id: shop_hook, type: webhook, url: "{webhook_url}", secret_env: {ENV_NAMES["webhook"]}}}
    - {{id: nightly, type: file, path: exports/tier_changes}}
"""
    )
    return target


def test_build_then_export_the_real_marts(
    small_raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAMES["webhook"], SECRET)
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    with fake_api("webhook") as api:
        programs = _programs_with_exports(tmp_path / "programs", api.base_url + "/hooks/vip")
        settings = Settings(
            raw_dir=small_raw_dir, programs_dir=programs, warehouse=warehouse, as_of=AS_OF
        )
        defs = make_definitions(settings)
        with dg.DagsterInstance.ephemeral() as instance:
            built = defs.resolve_job_def(BUILD_ALL).execute_in_process(
                instance=instance, raise_on_error=False
            )
            assert built.success
            exported = defs.resolve_job_def(EXPORT_ALL).execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"resources": {"exports": {"config": {"pacing": 0.0}}}},
            )
        assert exported.success, [
            e.step_failure_data.error for e in exported.get_step_failure_events()
        ]
        assert all(c.passed for c in exported.get_asset_check_evaluations()), [
            (c.check_name, c.description) for c in exported.get_asset_check_evaluations()
        ]
        assert {c.check_name for c in exported.get_asset_check_evaluations()} >= {HELD_CHECK}

        with duckdb.connect(str(warehouse), read_only=True) as con:
            expected = {
                row[0]
                for row in con.execute(
                    "select change_id from main.fct_tier_changes where scenario_id = 'live' "
                    "and program_id = 'london_tea' and change_date >= ? "
                    "and direction <> 'initial'",
                    [SINCE],
                ).fetchall()
            }
            emails = dict(
                con.execute(
                    "select customer_id, email from staging.stg_customers "
                    "where program_id = 'london_tea' and rejection_reason is null"
                ).fetchall()
            )
            statuses = con.execute(
                "select destination_id, status, count(*) from exports.export_deliveries "
                "group by all order by all"
            ).fetchall()
        assert expected, "the sample data has no live change since 2024 to export"
        assert api.problems == []
        assert sorted(applied_change_ids(api, "webhook")) == sorted(expected)
        assert statuses == [
            ("nightly", "delivered", len(expected)),
            ("shop_hook", "delivered", len(expected)),
        ]
        body = api.applied[0].json()["data"]
        assert body["email"] == emails[body["customer_id"]]
        assert body["to_tier_name"] and body["direction"] in ("upgrade", "downgrade")
        files = list((warehouse.parent / "exports" / "tier_changes" / "london_tea").glob("*.csv"))
        assert len(files) == 1
        assert {row["change_id"] for row in csv.DictReader(files[0].open())} == expected
