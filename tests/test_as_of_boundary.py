"""Rows dated after as_of do not exist (tier-rules §1, §9), to the second, in any time zone.

The staging models keep a row when its local date in the program's time zone is on or
before as_of. They compare most instants with the end of the as_of day as instants and
convert to local time only near it (macro local_date_at_most). This builds the staging
models on instants around that end, in zones whose next local midnight is ordinary, far
from UTC, or skipped by a clock change, and checks each row against Python's zoneinfo.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from helpers.dbt_cli import run_dbt
from helpers.program_config import write_program_config
from helpers.raw_builder import make_row, write_raw_dir

from orchestration.loader import load_raw_dir

PROGRAM = "acme"

# (time zone, as_of): the local day after as_of starts ...
CASES = [
    ("America/New_York", dt.date(2024, 3, 31)),  # at an ordinary midnight
    ("Pacific/Kiritimati", dt.date(2024, 6, 30)),  # 14 hours before UTC's
    ("America/Havana", dt.date(2024, 3, 9)),  # at 01:00: clocks skip midnight (DST)
    ("Pacific/Apia", dt.date(2011, 12, 29)),  # a day later: 30 December 2011 never was
]

# seconds from the first instant after as_of (local): both sides of it, and of each bound
# within which the models convert to local time (two days)
OFFSETS = [
    -3 * 86400, -49 * 3600, -47 * 3600, -25 * 3600, -23 * 3600, -3600, -1,
    0, 1, 3600, 23 * 3600, 25 * 3600, 47 * 3600, 49 * 3600, 3 * 86400,
]  # fmt: skip


def local_date(instant: dt.datetime, zone: ZoneInfo) -> dt.date:
    return instant.replace(tzinfo=dt.UTC).astimezone(zone).date()


def first_instant_after(as_of: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The first UTC second whose local date is after as_of (a binary search: local dates
    never go back as the instant grows)."""
    low = dt.datetime.combine(as_of, dt.time()) - dt.timedelta(days=2)
    high = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=3)
    assert local_date(low, zone) <= as_of < local_date(high, zone)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if local_date(middle, zone) <= as_of:
            low = middle
        else:
            high = middle
    return high


def iso(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("timezone", "as_of"), CASES, ids=[zone for zone, _ in CASES])
def test_rows_are_kept_exactly_to_the_end_of_the_as_of_day(
    tmp_path: Path, timezone: str, as_of: dt.date
) -> None:
    zone = ZoneInfo(timezone)
    end = first_instant_after(as_of, zone)
    instants = {f"x{index:02d}": end + dt.timedelta(seconds=s) for index, s in enumerate(OFFSETS)}
    early = iso(end - dt.timedelta(days=30))
    raw_dir = write_raw_dir(
        tmp_path / "raw",
        {
            "customers": [make_row("customers", enrolled_at=early)],
            "orders": [make_row("orders", order_id="o_early", ordered_at=early)]
            + [make_row("orders", order_id=key, ordered_at=iso(t)) for key, t in instants.items()],
            "refunds": [
                make_row("refunds", refund_id=key, order_id="o_early", refunded_at=iso(t))
                for key, t in instants.items()
            ],
            "points_ledger": [
                make_row("points_ledger", entry_id=key, occurred_at=iso(t))
                for key, t in instants.items()
            ],
            "manual_tier_assignments": [
                make_row("manual_tier_assignments", assignment_id=key, assigned_at=iso(t))
                for key, t in instants.items()
            ],
        },
    )
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw_dir(raw_dir, warehouse)
    write_program_config(warehouse, PROGRAM, timezone)
    run_dbt(
        warehouse,
        tmp_path,
        [
            "build",
            "--select",
            "+stg_orders +stg_refunds +stg_points_ledger +stg_manual_tier_assignments",
            "--indirect-selection",
            "cautious",
            "--exclude",
            "resource_type:unit_test",
        ],
        {"as_of": as_of.isoformat()},
    )

    expected = {key: local_date(t, zone) for key, t in instants.items() if t < end}
    assert len(expected) == OFFSETS.index(0)
    tables = {
        "stg_orders": ("order_id", "order_date"),
        "stg_refunds": ("refund_id", "refund_date"),
        "stg_points_ledger": ("entry_id", "entry_date"),
        "stg_manual_tier_assignments": ("assignment_id", "assigned_date"),
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, (key, day) in tables.items():
            kept = dict(
                con.execute(
                    f"select {key}, {day} from staging.{table} where {key} like 'x%'"
                ).fetchall()
            )
            assert kept == expected, table
