"""Key-scoped staging (macros/key_scope.sql, stg_raw__changed_keys): a build that continues
a warehouse recomputes only the staging rows whose raw rows, program or as_of status can
have changed, and its staging tables and marts equal a full rebuild's.

The cases the day-by-day sequence (tests/test_daily_runs.py) does not reach: as_of moving
back a month (orders, refunds and points entries leave), then forward again over the gap
(they return; cancellations and unenrolments dated in the gap take effect though their
raw rows never changed), and a program's time zone changing (every local date moves)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.helpers.dbt_cli import run_dbt
from tests.helpers.warehouse_diff import OUTPUT_MODELS, diff_models
from tests.test_bi_marts import AS_OF

STAGING = ("stg_customers", "stg_orders", "stg_refunds", "stg_points_ledger")
# what a row remembers of the build that computed it: a kept row keeps an earlier as_of
BUILD_MEMORY = ("staged_as_of",)
MONTH_BEFORE = AS_OF - dt.timedelta(days=30)
# fct_customer_tier_daily keeps every day filled so far; a full rebuild fills only its as_of
MARTS = tuple(model for model in OUTPUT_MODELS if model != "fct_customer_tier_daily")


def _copy(warehouse: Path, to: Path) -> Path:
    to.mkdir(parents=True)
    return Path(shutil.copy(warehouse, to / "warehouse.duckdb"))


def _build(warehouse: Path, artefacts: Path, as_of: dt.date, *flags: str) -> None:
    run_dbt(warehouse, artefacts, ["build", *flags], {"as_of": as_of.isoformat()})


def _listed(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select source_table, count(*) from staging.stg_raw__changed_keys group by 1"
        ).fetchall()
    return {table: int(count) for table, count in rows}


def _rows(warehouse: Path, model: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return int(con.execute(f"select count(*) from staging.{model}").fetchone()[0])


def _assert_equal(continued: Path, rebuilt: Path, marts: bool = True) -> None:
    diffs = diff_models(continued, rebuilt, STAGING, schema="staging", exclude=BUILD_MEMORY)
    if marts:
        diffs += diff_models(continued, rebuilt, MARTS)
    assert [d.describe() for d in diffs if not d.equal] == []


def test_as_of_back_a_month_and_forward_again(bi_warehouse: Path, tmp_path: Path) -> None:
    continued = _copy(bi_warehouse, tmp_path / "continued")
    rebuilt = _copy(bi_warehouse, tmp_path / "rebuilt")

    _build(continued, tmp_path / "a", MONTH_BEFORE)
    _build(rebuilt, tmp_path / "b", MONTH_BEFORE, "--full-refresh")
    assert _rows(continued, "stg_orders") < _rows(bi_warehouse, "stg_orders")
    _assert_equal(continued, rebuilt)

    _build(continued, tmp_path / "c", AS_OF)
    listed = _listed(continued)
    assert 0 < listed["orders"] < _rows(continued, "stg_orders")
    assert listed["_incremental"] == 4 and listed["_invocation"] == 1
    _assert_equal(continued, bi_warehouse)


def test_a_time_zone_change_restages_the_program(bi_warehouse: Path, tmp_path: Path) -> None:
    continued = _copy(bi_warehouse, tmp_path / "continued")
    rebuilt = _copy(bi_warehouse, tmp_path / "rebuilt")
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            (program,) = con.execute("select min(program_id) from raw.programs").fetchone()
            con.execute(
                "update raw.programs set timezone = 'Pacific/Kiritimati' where program_id = ?",
                [program],
            )
    _build(continued, tmp_path / "a", AS_OF)
    _build(rebuilt, tmp_path / "b", AS_OF, "--full-refresh")
    with duckdb.connect(str(continued), read_only=True) as con:
        (restaged,) = con.execute(
            "select count(*) from staging.stg_raw__changed_keys "
            "where source_table = 'orders' and program_id = ?",
            [program],
        ).fetchone()
        (orders,) = con.execute(
            "select count(distinct coalesce(order_id, '')) from raw.orders where program_id = ?",
            [program],
        ).fetchone()
    assert restaged == orders
    _assert_equal(continued, rebuilt, marts=False)


def test_a_staging_model_refuses_a_list_from_another_invocation(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = _copy(bi_warehouse, tmp_path / "w")
    with pytest.raises(AssertionError, match="was not built by this dbt invocation"):
        run_dbt(warehouse, tmp_path, ["run", "-s", "stg_orders"], {"as_of": AS_OF.isoformat()})


def test_every_difference_inside_a_block_is_found(bi_warehouse: Path, tmp_path: Path) -> None:
    """stg_raw__changed_keys compares raw and staged rows block by block (a count and a sum
    of row hashes per 8,192 rows of a file) and row by row only in blocks that differ. Two
    changes that keep a block's keys and row count: two orders swap places in their file,
    and a points entry is replaced by a new one at the same place."""
    continued = _copy(bi_warehouse, tmp_path / "continued")
    rebuilt = _copy(bi_warehouse, tmp_path / "rebuilt")
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            first, second, source_file = con.execute(
                """
                select min(order_id), max(order_id), _source_file
                from raw.orders
                where _source_row between 100 and 120
                group by _source_file
                order by _source_file
                limit 1
                """
            ).fetchone()
            rows = dict(
                con.execute(
                    "select order_id, _source_row from raw.orders "
                    "where _source_file = ? and order_id in (?, ?)",
                    [source_file, first, second],
                ).fetchall()
            )
            for order, other in ((first, second), (second, first)):
                con.execute(
                    "update raw.orders set _source_row = ? where _source_file = ? and order_id = ?",
                    [rows[other], source_file, order],
                )
            (replaced,) = con.execute(
                "select min(entry_id) from raw.points_ledger where _source_row = 500"
            ).fetchone()
            con.execute(
                "update raw.points_ledger set entry_id = entry_id || '-new' where entry_id = ?",
                [replaced],
            )
    _build(continued, tmp_path / "a", AS_OF)
    _build(rebuilt, tmp_path / "b", AS_OF, "--full-refresh")

    with duckdb.connect(str(continued), read_only=True) as con:
        listed = {
            (table, key)
            for table, key in con.execute(
                "select source_table, row_id from staging.stg_raw__changed_keys"
            ).fetchall()
        }
    expected = {
        ("orders", first),
        ("orders", second),
        ("points_ledger", replaced),
        ("points_ledger", f"{replaced}-new"),
    }
    assert expected <= listed
    assert first != second
    _assert_equal(continued, rebuilt)
