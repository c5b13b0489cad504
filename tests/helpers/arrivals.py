"""Raw data that arrives day by day, late rows included (the daily-operation test).

A generated raw directory (all CSV) is read once; every row gets the day it *arrives*: the
UTC day of its own timestamp plus a lag that is 0 for most rows, 1-3 days for some and up
to two weeks for a few (an order or refund loaded long after its date). A cancellation or
an unenrolment arrives on its own day plus a lag, after the row it changes. `snapshot(day)`
writes the raw directory as a landing zone holds it on that day: every row that has
arrived, cancellations and unenrolments only once they have.

On top of the generated rows, `inject_events` adds, inside the period of the test, manual
tier assignments, unenrolments and partial refunds loaded five days late (the generator
draws few of them at small sizes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

# table -> the timestamp that dates a row (None: the row is there from the start)
DATED_BY = {
    "customers": None,
    "orders": "ordered_at",
    "refunds": "refunded_at",
    "points_ledger": "occurred_at",
    "manual_tier_assignments": "assigned_at",
    "fx_rates": "rate_date",
}
# (table, column): a later change to a row, visible once it has arrived
LATER_CHANGES = (("orders", "cancelled_at"), ("customers", "unenrolled_at"))
NEVER = "date '1900-01-01'"


def _lag(salt: str) -> str:
    """Days a row waits before it lands: 80 % on time, 13 % 1-3 days, 7 % 4-14 days."""
    bucket = f"(hash('{salt}', row_number) % 100)"
    spread = f"(hash('{salt}#', row_number) % 11)"
    return (
        f"cast(case when {bucket} < 80 then 0 when {bucket} < 93 then 1 + {spread} % 3 "
        f"else 4 + {spread} end as integer)"
    )


def _day(column: str) -> str:
    return f"coalesce(try_cast(substr({column}, 1, 10) as date), {NEVER})"


class ArrivingData:
    """The generated tables, each row with the day it arrives (see module doc)."""

    def __init__(self, raw_dir: Path) -> None:
        self.con = duckdb.connect()
        for table, dated_by in DATED_BY.items():
            source = self._source(raw_dir, table)
            arrives = (
                NEVER if dated_by is None else f"cast({_day(dated_by)} + {_lag(table)} as date)"
            )
            self.con.execute(
                f"""
                create table {table} as
                select *, {arrives} as _arrives_on
                from (select *, row_number() over () as row_number from {source})
                """
            )
        for table, column in LATER_CHANGES:
            self.con.execute(
                f"alter table {table} add column _{column}_arrives_on date default null"
            )
            self.con.execute(
                f"update {table} set _{column}_arrives_on = "
                f"cast({_day(column)} + {_lag(table + column)} as date) "
                f"where {column} is not null"
            )

    @staticmethod
    def _source(raw_dir: Path, table: str) -> str:
        file = raw_dir / f"{table}.csv"
        pattern = str(file) if file.exists() else str(raw_dir / table / "*.csv")
        return f"read_csv('{pattern}', all_varchar = true, header = true)"

    def columns(self, table: str) -> list[str]:
        names = [row[0] for row in self.con.execute(f"describe {table}").fetchall()]
        return [name for name in names if not name.startswith("_") and name != "row_number"]

    def inject_events(self, first: dt.date, last: dt.date, per_program: int = 3) -> None:
        """Manual assignments (some arriving late), late partial refunds and unenrolments
        inside [first, last]."""
        span = (last - first).days
        self.con.execute(
            f"""
            insert into manual_tier_assignments by name
            select
                program_id,
                'INJ-' || customer_id || '-' || n as assignment_id,
                customer_id,
                tier_code,
                strftime(cast('{first}' as date) + cast(hash(customer_id, n) % {span} as integer),
                    '%Y-%m-%dT15:00:00Z') as assigned_at,
                'daily test' as reason,
                'tests' as assigned_by
            from (
                select
                    customers.program_id, customers.customer_id, tiers.tier_code, n,
                    row_number() over (partition by customers.program_id, n
                                       order by hash(customers.customer_id, n)) as pick
                from customers
                cross join range(1, 3) as numbers(n)
                inner join (select distinct program_id, tier_code from manual_tier_assignments)
                    as tiers on tiers.program_id = customers.program_id
                where customers.enrolled_at is not null
                qualify row_number() over (
                    partition by customers.program_id, customers.customer_id, n
                    order by hash(tiers.tier_code, n)) = 1
            )
            where pick <= {per_program}
            """
        )
        self.con.execute(
            """
            update manual_tier_assignments
            set _arrives_on = cast(substr(assigned_at, 1, 10) as date)
                + cast(hash(assignment_id) % 3 as integer)
            where assignment_id like 'INJ-%'
            """
        )
        # partial refunds of orders in the period, loaded five days after they happened
        self.con.execute(
            f"""
            insert into refunds by name
            select
                program_id,
                'INJR-' || order_id as refund_id,
                order_id,
                strftime(order_day + 2, '%Y-%m-%dT12:00:00Z') as refunded_at,
                cast(round(amount * 0.4, 2) as varchar) as amount,
                cast(order_day + 7 as date) as _arrives_on
            from (
                select
                    program_id, order_id,
                    try_cast(substr(ordered_at, 1, 10) as date) as order_day,
                    try_cast(total_amount as decimal(18, 2)) as amount
                from orders
                where cancelled_at is null
            )
            where order_day between cast('{first}' as date) and cast('{last}' as date) - 3
                and amount > 0
                and hash(order_id, 'refund') % 12 = 0
            """
        )
        self.con.execute(
            f"""
            update customers
            set unenrolled_at = strftime(
                    cast('{first}' as date) + cast(hash(customer_id) % {span} as integer),
                    '%Y-%m-%dT20:00:00Z'),
                _unenrolled_at_arrives_on = cast('{first}' as date)
                    + cast(hash(customer_id) % {span} as integer)
            where enrolled_at is not null and unenrolled_at is null
                and hash(customer_id, 'unenrol') % 40 = 0
            """
        )

    def snapshot(self, day: dt.date, out_dir: Path) -> dict[str, int]:
        """Write the raw directory as it stands on `day`; returns the rows per table."""
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = {}
        for table in DATED_BY:
            columns = self.columns(table)
            select = []
            for column in columns:
                if (table, column) in LATER_CHANGES:
                    select.append(
                        f"case when _{column}_arrives_on <= cast('{day}' as date) "
                        f"then {column} end as {column}"
                    )
                else:
                    select.append(column)
            target = out_dir / f"{table}.csv"
            self.con.execute(
                f"""
                copy (
                    select {", ".join(select)} from {table}
                    where _arrives_on <= cast('{day}' as date)
                    order by row_number
                ) to '{target}' (header, delimiter ',')
                """
            )
            rows[table] = int(
                self.con.execute(
                    f"select count(*) from {table} where _arrives_on <= cast('{day}' as date)"
                ).fetchone()[0]
            )
        return rows

    def late_rows(self, first: dt.date, last: dt.date) -> dict[str, int]:
        """Rows dated in [first, last) that arrive on a later day than their date."""
        counts = {}
        for table, dated_by in DATED_BY.items():
            if dated_by is None:
                continue
            counts[table] = int(
                self.con.execute(
                    f"""
                    select count(*) from {table}
                    where {_day(dated_by)}
                        between cast('{first}' as date) and cast('{last}' as date)
                        and _arrives_on > {_day(dated_by)}
                    """
                ).fetchone()[0]
            )
        return counts
