"""Every rejection rule of docs/raw-data.md, end to end: raw dir → loader → dbt → rejected_rows.

One raw directory holds good rows plus one bad row per rule (each with a key of its own);
it is loaded and built once per module (`dbt build --select +rejected_rows`), then each
test looks up its row. The exact set of rejected keys is asserted too, so no good row is
rejected.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers.program_config import write_program_config
from helpers.raw_builder import make_row, write_raw_dir

from orchestration.loader import load_raw_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROGRAM = "acme"
TIMEZONE = "America/New_York"
AS_OF = dt.date(2024, 3, 31)


def _c(customer_id: str, **values: object) -> dict[str, object]:
    return make_row("customers", customer_id=customer_id, email=f"{customer_id}@x.test", **values)


def _o(order_id: str, **values: object) -> dict[str, object]:
    return make_row("orders", order_id=order_id, **values)


def _r(refund_id: str, order_id: str, refunded_at: str, amount: str, **values: object):
    return make_row(
        "refunds",
        refund_id=refund_id,
        order_id=order_id,
        refunded_at=refunded_at,
        amount=amount,
        **values,
    )


def _e(entry_id: str, **values: object) -> dict[str, object]:
    return make_row("points_ledger", entry_id=entry_id, **values)


def _a(assignment_id: str, **values: object) -> dict[str, object]:
    return make_row("manual_tier_assignments", assignment_id=assignment_id, **values)


def _fx(currency: str, rate_date: str, rate: str) -> dict[str, object]:
    return make_row("fx_rates", currency=currency, rate_date=rate_date, rate=rate)


CUSTOMERS = [
    _c("c1"),
    _c("c2", enrolled_at="2024-01-05T10:00:00+10:00"),
    _c("c_future", enrolled_at="2024-05-01T00:00:00Z"),  # enrols after as_of: pending
    _c("c_conflict", first_name="A"),
    _c("c_conflict", first_name="B"),
    _c("c_exact"),
    _c("c_exact"),
    _c("c_bad_birthday", birthday="1990-13-01"),
    _c("", first_name="no id"),
    _c("c_other_program", program_id="nope"),
]

ORDERS = [
    _o("o1", total_amount="100.00"),
    _o("o2", total_amount="50.00"),
    _o("o3", total_amount="100.00"),
    _o("o4", total_amount="30.00"),
    _o("o_guest", customer_id="guest_1"),
    # NY is UTC-4 on 2024-04-01: 03:00Z is still 31 March locally, 05:00Z is 1 April
    _o("o_last_local_day", ordered_at="2024-04-01T03:00:00Z"),
    _o("o_after_as_of", ordered_at="2024-04-01T05:00:00Z", total_amount="-1"),
    _o(
        "o_cancelled",
        total_amount="80.00",
        ordered_at="2024-02-10T12:00:00Z",
        cancelled_at="2024-02-20T12:00:00Z",
    ),
    _o("o_cancelled_later", cancelled_at="2024-04-10T12:00:00Z"),
    _o("o_negative", total_amount="-5.00"),
    _o(
        "o_cancelled_first",
        ordered_at="2024-02-10T12:00:00Z",
        cancelled_at="2024-02-10T11:59:59Z",
    ),
    _o("o_bad_date", ordered_at="not-a-date"),
    _o("o_no_amount", total_amount=""),
    _o("o_conflict", total_amount="10.00"),
    _o("o_conflict", total_amount="11.00"),
    _o("o_exact"),
    _o("o_exact"),
    _o("o_other_program", program_id="nope"),
]

REFUNDS = [
    _r("r_ok", "o2", "2024-02-05T12:00:00Z", "20.00"),
    _r("r_negative", "o1", "2024-02-05T12:00:00Z", "-5.00"),
    _r("r_before_order", "o1", "2024-02-01T11:59:59Z", "0.00"),
    _r("r_cancel_ok", "o_cancelled", "2024-02-15T12:00:00Z", "20.00"),
    _r("r_at_cancellation", "o_cancelled", "2024-02-20T12:00:00Z", "1.00"),
    _r("r_unknown_order", "o_missing", "2024-02-05T12:00:00Z", "1.00"),
    _r("r_rejected_order", "o_negative", "2024-02-05T12:00:00Z", "1.00"),
    # walk of o3 (100): 60 ok (40 left), 50 too much, 40 ok (0 left)
    _r("r_w1", "o3", "2024-02-05T12:00:00Z", "60.00"),
    _r("r_w2", "o3", "2024-02-06T12:00:00Z", "50.00"),
    _r("r_w3", "o3", "2024-02-07T12:00:00Z", "40.00"),
    # walk of o4 (30): same instant, refund_id breaks the tie
    _r("r_t_b", "o4", "2024-02-05T12:00:00Z", "20.00"),
    _r("r_t_a", "o4", "2024-02-05T12:00:00Z", "20.00"),
    _r("r_after_as_of", "o1", "2024-04-02T12:00:00Z", "1000.00"),
    _r("r_bad_amount", "o1", "2024-02-05T12:00:00Z", "ten"),
    _r("r_conflict", "o1", "2024-02-05T12:00:00Z", "1.00"),
    _r("r_conflict", "o1", "2024-02-05T12:00:00Z", "2.00"),
    _r("r_exact", "o1", "2024-02-06T12:00:00Z", "1.00"),
    _r("r_exact", "o1", "2024-02-06T12:00:00Z", "1.00"),
]

LEDGER = [
    _e("e_purchase", order_id="o1", occurred_at="2024-02-01T12:00:00Z"),
    _e("e_purchase_later", order_id="o1", occurred_at="2024-02-03T12:00:00Z"),
    _e(
        "e_reversal",
        activity="purchase_reversal",
        points="-20",
        order_id="o1",
        occurred_at="2024-02-09T12:00:00Z",
    ),
    _e(
        "e_reversal_alone",
        activity="purchase_reversal",
        points="-5",
        order_id="o_none",
        occurred_at="2024-02-09T12:00:00Z",
    ),
    _e("e_case", activity=" Signup "),
    _e("e_unknown_activity", activity="bogus"),
    _e("e_fraction", points="12.5"),
    _e("e_conflict", points="1"),
    _e("e_conflict", points="2"),
    _e("e_exact"),
    _e("e_exact"),
]

ASSIGNMENTS = [
    _a("a1"),
    _a("a_conflict", tier_code="gold"),
    _a("a_conflict", tier_code="silver"),
    _a("a_exact"),
    _a("a_exact"),
    _a("a_bad_time", assigned_at="yesterday"),
]

FX_RATES = [
    _fx("EUR", "2024-01-01", "1.10"),
    _fx("EUR", "2024-01-02", "0"),
    _fx("EUR", "2024-01-03", "-1.2"),
    _fx("GBP", "2024-01-01", "1.25"),
    _fx("GBP", "2024-01-01", "1.26"),
    _fx("GBP", "2024-01-02", "1.27"),
    _fx("GBP", "2024-01-02", "1.27"),
    _fx("JPY", "2024-01-01", "n/a"),
]

FX_KEY = "currency={},quote_currency=USD,rate_date={}"

# (source_table, row_key) → reason, for every row that must be rejected (copies: once each)
EXPECTED: dict[tuple[str, str], list[str]] = {
    ("customers", "customer_id=c_conflict"): ["duplicate_key_conflict"] * 2,
    ("customers", "customer_id=c_exact"): ["exact_duplicate"],
    ("customers", "customer_id=c_bad_birthday"): ["unparseable_value"],
    ("customers", "customer_id=(missing)"): ["missing_required_value"],
    ("customers", "customer_id=c_other_program"): ["unknown_program"],
    ("orders", "order_id=o_negative"): ["negative_amount"],
    ("orders", "order_id=o_cancelled_first"): ["cancelled_before_ordered"],
    ("orders", "order_id=o_bad_date"): ["unparseable_value"],
    ("orders", "order_id=o_no_amount"): ["missing_required_value"],
    ("orders", "order_id=o_conflict"): ["duplicate_key_conflict"] * 2,
    ("orders", "order_id=o_exact"): ["exact_duplicate"],
    ("orders", "order_id=o_other_program"): ["unknown_program"],
    ("refunds", "refund_id=r_negative"): ["negative_amount"],
    ("refunds", "refund_id=r_before_order"): ["refund_before_order"],
    ("refunds", "refund_id=r_at_cancellation"): ["refund_after_cancellation"],
    ("refunds", "refund_id=r_unknown_order"): ["unknown_order"],
    ("refunds", "refund_id=r_rejected_order"): ["unknown_order"],
    ("refunds", "refund_id=r_w2"): ["refund_exceeds_remaining"],
    ("refunds", "refund_id=r_t_b"): ["refund_exceeds_remaining"],
    ("refunds", "refund_id=r_bad_amount"): ["unparseable_value"],
    ("refunds", "refund_id=r_conflict"): ["duplicate_key_conflict"] * 2,
    ("refunds", "refund_id=r_exact"): ["exact_duplicate"],
    ("points_ledger", "entry_id=e_unknown_activity"): ["unknown_activity"],
    ("points_ledger", "entry_id=e_fraction"): ["unparseable_value"],
    ("points_ledger", "entry_id=e_conflict"): ["duplicate_key_conflict"] * 2,
    ("points_ledger", "entry_id=e_exact"): ["exact_duplicate"],
    ("manual_tier_assignments", "assignment_id=a_conflict"): ["duplicate_key_conflict"] * 2,
    ("manual_tier_assignments", "assignment_id=a_exact"): ["exact_duplicate"],
    ("manual_tier_assignments", "assignment_id=a_bad_time"): ["unparseable_value"],
    ("fx_rates", FX_KEY.format("EUR", "2024-01-02")): ["non_positive_rate"],
    ("fx_rates", FX_KEY.format("EUR", "2024-01-03")): ["non_positive_rate"],
    ("fx_rates", FX_KEY.format("GBP", "2024-01-01")): ["duplicate_key_conflict"] * 2,
    ("fx_rates", FX_KEY.format("GBP", "2024-01-02")): ["exact_duplicate"],
    ("fx_rates", FX_KEY.format("JPY", "2024-01-01")): ["unparseable_value"],
}


def dbt_build(warehouse: Path, work_dir: Path, as_of: dt.date, select: str) -> None:
    """`dbt build` in a subprocess, with its own target and log folders."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "VIP_WAREHOUSE": str(warehouse), "VIP_DBT_TARGET": "duckdb"}
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--select",
            select,
            "--indirect-selection",
            "cautious",
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
            "--vars",
            json.dumps({"as_of": as_of.isoformat()}),
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@dataclass(frozen=True)
class Built:
    warehouse: Path

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def rejected(self) -> list[tuple[str, str, str, str | None]]:
        return self.query(
            "select source_table, row_key, reason, program_id from main.rejected_rows"
        )


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    work_dir = Path(tempfile.mkdtemp(prefix="loader-rules-"))
    try:
        raw_dir = write_raw_dir(
            work_dir / "raw",
            {
                "customers": CUSTOMERS,
                "orders": ORDERS,
                "refunds": REFUNDS,
                "points_ledger": LEDGER,
                "manual_tier_assignments": ASSIGNMENTS,
                "fx_rates": FX_RATES,
            },
            form={"orders": "csv_folder", "refunds": "parquet", "points_ledger": "parquet_folder"},
        )
        warehouse = work_dir / "warehouse.duckdb"
        load_raw_dir(raw_dir, warehouse)
        write_program_config(warehouse, PROGRAM, TIMEZONE)
        dbt_build(
            warehouse,
            work_dir,
            AS_OF,
            "+rejected_rows +int_refunds__accepted +int_points_ledger__accepted",
        )
        yield Built(warehouse)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.mark.parametrize(("table", "row_key"), list(EXPECTED), ids=[k for _, k in EXPECTED])
def test_bad_row_is_rejected_with_its_reason(built: Built, table: str, row_key: str) -> None:
    reasons = sorted(
        reason
        for source_table, key, reason, _ in built.rejected()
        if (source_table, key) == (table, row_key)
    )
    assert reasons == sorted(EXPECTED[(table, row_key)])


def test_only_bad_rows_are_rejected(built: Built) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    for table, key, reason, _ in built.rejected():
        found.setdefault((table, key), []).append(reason)
    assert {k: sorted(v) for k, v in found.items()} == {k: sorted(v) for k, v in EXPECTED.items()}


def test_rejected_rows_carry_program_and_source(built: Built) -> None:
    rows = built.query(
        "select source_table, program_id, reason_detail, source_file, source_row "
        "from main.rejected_rows"
    )
    for table, program_id, detail, source_file, source_row in rows:
        assert detail
        assert source_file and source_row and source_row >= 1
        assert program_id is None if table == "fx_rates" else program_id in (PROGRAM, "nope")


def test_reason_details_are_readable(built: Built) -> None:
    details = dict(
        built.query(
            "select row_key, reason_detail from main.rejected_rows where row_key in "
            "('order_id=o_bad_date', 'refund_id=r_w2', 'order_id=o_no_amount')"
        )
    )
    assert details["order_id=o_bad_date"] == "unparseable ordered_at: 'not-a-date'"
    assert details["order_id=o_no_amount"] == "missing required total_amount"
    assert details["refund_id=r_w2"] == "amount 50.00 exceeds the 40.00 left of order o3"


def test_rows_after_as_of_do_not_exist(built: Built) -> None:
    orders = {row[0] for row in built.query("select order_id from staging.stg_orders")}
    assert "o_last_local_day" in orders
    assert "o_after_as_of" not in orders
    refunds = {row[0] for row in built.query("select refund_id from staging.stg_refunds")}
    assert "r_after_as_of" not in refunds


def test_local_dates_and_future_events(built: Built) -> None:
    (order_date,) = built.query(
        "select order_date from staging.stg_orders where order_id = 'o_last_local_day'"
    )[0]
    assert order_date == dt.date(2024, 3, 31)
    enrolled = dict(
        built.query(
            "select customer_id, enrolled_date from staging.stg_customers "
            "where customer_id in ('c2', 'c_future')"
        )
    )
    # 2024-01-05T10:00+10:00 is 2024-01-05T00:00Z, 4 January in New York
    assert enrolled == {"c2": dt.date(2024, 1, 4), "c_future": None}
    (cancelled,) = built.query(
        "select cancelled_date from intermediate.int_orders__accepted "
        "where order_id = 'o_cancelled_later'"
    )[0]
    assert cancelled is None


def test_accepted_orders(built: Built) -> None:
    rows = {
        row[0]: row[1:]
        for row in built.query(
            "select order_id, is_known_customer, refunded_amount, cancellation_amount "
            "from intermediate.int_orders__accepted"
        )
    }
    assert rows["o_guest"][0] is False
    assert rows["o1"] == (True, Decimal("1.00"), Decimal("0.00"))  # r_exact, kept once
    assert rows["o3"][1:] == (Decimal("100.00"), Decimal("0.00"))
    assert rows["o_cancelled"][1:] == (Decimal("20.00"), Decimal("60.00"))
    assert rows["o_cancelled_later"][2] == Decimal("0.00")
    assert "o_negative" not in rows and "o_exact" in rows


def test_accepted_refunds(built: Built) -> None:
    rows = {
        row[0]: row[1:]
        for row in built.query(
            "select refund_id, order_id, customer_id, order_date, refund_date, currency, amount "
            "from intermediate.int_refunds__accepted"
        )
    }
    assert set(rows) == {"r_ok", "r_cancel_ok", "r_w1", "r_w3", "r_t_a", "r_exact"}
    assert rows["r_w3"] == (
        "o3",
        "c1",
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 7),
        "USD",
        Decimal("40.00"),
    )


def test_points_attribution(built: Built) -> None:
    rows = dict(
        built.query(
            "select entry_id, attribution_date from intermediate.int_points_ledger__accepted"
        )
    )
    assert rows["e_reversal"] == dt.date(2024, 2, 1)
    assert rows["e_reversal_alone"] == dt.date(2024, 2, 9)
    assert rows["e_purchase_later"] == dt.date(2024, 2, 3)
    activities = dict(
        built.query("select entry_id, activity from intermediate.int_points_ledger__accepted")
    )
    assert activities["e_case"] == "signup"
