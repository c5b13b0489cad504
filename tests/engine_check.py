"""Compare the SQL tier engine's outputs with the Python reference (tests/reference).

Two ways in:
- `reference_inputs_from_warehouse` reads the *validated, converted* rows the engine starts
  from (accepted customers, orders in program currency, accepted refunds, ledger entries,
  manual assignments, program scenarios) and hands them to the reference, which then does
  its own refund walk, cancellation, reversal attribution, windows and state machine.
- tests that generate members in Python build `ProgramCase`s directly.

`compare` returns the differing rows of fct_tier_history and dim_customer_tier_current.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.reference import tier_rules as ref

HISTORY_COLUMNS = (
    "program_id", "scenario_id", "customer_id", "tier_code", "tier_rank",
    "valid_from", "valid_to", "change_reason",
)  # fmt: skip
CURRENT_COLUMNS = (
    "program_id", "scenario_id", "customer_id", "tier_code", "tier_since", "review_on",
    "is_provisional", "window_total", "next_tier_code", "amount_to_next_tier",
    "amount_to_keep_tier",
)  # fmt: skip


@dataclass
class ProgramCase:
    """One program: its scenarios (id → reference Scenario), members, and as_of date."""

    program_id: str
    as_of: dt.date
    scenarios: dict[str, ref.Scenario] = field(default_factory=dict)
    members: list[ref.Member] = field(default_factory=list)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _scenarios_by_program(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, ref.Scenario]]:
    programs = {r["program_id"]: r for r in _rows(con, "select * from staging.stg_programs")}
    tiers: dict[tuple[str, str], list[ref.Tier]] = defaultdict(list)
    for r in _rows(
        con, "select * from staging.stg_program_tiers order by program_id, scenario_id, tier_rank"
    ):
        tiers[(r["program_id"], r["scenario_id"])].append(
            ref.Tier(code=r["tier_code"], threshold=Decimal(r["threshold"]))
        )
    activities: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in _rows(con, "select * from staging.stg_program_activities"):
        activities[(r["program_id"], r["scenario_id"])].add(r["activity"])
    out: dict[str, dict[str, ref.Scenario]] = defaultdict(dict)
    for r in _rows(con, "select * from staging.stg_program_scenarios"):
        program = programs[r["program_id"]]
        key = (r["program_id"], r["scenario_id"])
        out[r["program_id"]][r["scenario_id"]] = ref.Scenario(
            milestone=r["milestone"],
            period=r["period"],
            rolling_window=r["rolling_window"],
            refunds=r["refunds"],
            tiers=tuple(tiers[key]),
            start_date=program["start_date"],
            back_date=program["back_date"],
            launch_date=program["launch_date"],
            qualifying_activities=frozenset(activities[key]),
        )
    return out


def reference_inputs_from_warehouse(warehouse: Path) -> list[ProgramCase]:
    """The engine's validated inputs, as reference objects, per buildable program."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scenarios = _scenarios_by_program(con)
        as_of = {
            r["program_id"]: r["as_of_date"]
            for r in _rows(con, "select * from staging.stg_programs where is_buildable")
        }
        orders: dict[tuple[str, str], list[ref.Order]] = defaultdict(list)
        for r in _rows(
            con,
            "select * from intermediate.int_orders__accepted "
            "where amount is not null and is_known_customer",
        ):
            orders[(r["program_id"], r["customer_id"])].append(
                ref.Order(
                    order_id=r["order_id"],
                    order_date=r["order_date"],
                    amount=Decimal(r["amount"]),
                    cancelled_date=r["cancelled_date"],
                )
            )
        refunds: dict[tuple[str, str], list[ref.Refund]] = defaultdict(list)
        for r in _rows(
            con,
            """
            select r.program_id, o.customer_id, r.refund_id, r.order_id, r.refund_date,
                cast(round(r.amount * o.fx_rate, 2) as decimal(18, 2)) as amount
            from intermediate.int_refunds__accepted r
            join intermediate.int_orders__accepted o using (program_id, order_id)
            where o.amount is not null and o.is_known_customer
            """,
        ):
            refunds[(r["program_id"], r["customer_id"])].append(
                ref.Refund(
                    refund_id=r["refund_id"],
                    order_id=r["order_id"],
                    refund_date=r["refund_date"],
                    amount=Decimal(r["amount"]),
                )
            )
        ledger: dict[tuple[str, str], list[ref.LedgerEntry]] = defaultdict(list)
        for r in _rows(con, "select * from intermediate.int_points_ledger__accepted"):
            ledger[(r["program_id"], r["customer_id"])].append(
                ref.LedgerEntry(
                    entry_id=r["entry_id"],
                    entry_date=r["entry_date"],
                    activity=r["activity"],
                    points=int(r["points"]),
                    order_id=r["order_id"],
                )
            )
        manual: dict[tuple[str, str], list[ref.ManualAssignment]] = defaultdict(list)
        for r in _rows(
            con,
            """
            select *, row_number() over (
                partition by program_id, customer_id, assigned_date
                order by assigned_at, assignment_id) as seq
            from staging.stg_manual_tier_assignments where rejection_reason is null
            """,
        ):
            manual[(r["program_id"], r["customer_id"])].append(
                ref.ManualAssignment(
                    assignment_id=r["assignment_id"],
                    assigned_date=r["assigned_date"],
                    assigned_seq=int(r["seq"]),
                    tier_code=r["tier_code"],
                )
            )
        cases = {
            program_id: ProgramCase(program_id, as_of[program_id], scenarios[program_id])
            for program_id in as_of
        }
        for r in _rows(con, "select * from intermediate.int_customers__eligibility"):
            key = (r["program_id"], r["customer_id"])
            cases[r["program_id"]].members.append(
                ref.Member(
                    customer_id=r["customer_id"],
                    enrolled_date=r["enrolled_date"],
                    unenrolled_date=r["unenrolled_date"],
                    orders=tuple(orders[key]),
                    refunds=tuple(refunds[key]),
                    ledger=tuple(ledger[key]),
                    manual=tuple(manual[key]),
                )
            )
    return list(cases.values())


def _money(value: Decimal | float | int | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def expected_rows(cases: list[ProgramCase]) -> tuple[set[tuple], set[tuple]]:
    """History and current rows the reference computes for every program scenario member."""
    history: set[tuple] = set()
    current: set[tuple] = set()
    for case in cases:
        for scenario_id, scenario in case.scenarios.items():
            for member in case.members:
                result = ref.simulate(scenario, member, case.as_of)
                ids = (case.program_id, scenario_id, member.customer_id)
                for row in result.history:
                    history.add(
                        (
                            *ids, row.tier_code, row.tier_rank, row.valid_from, row.valid_to,
                            row.change_reason,
                        )
                    )  # fmt: skip
                if result.current is not None:
                    c = result.current
                    current.add(
                        (
                            *ids, c.tier_code, c.tier_since, c.review_on, c.is_provisional,
                            _money(c.window_total), c.next_tier_code,
                            _money(c.amount_to_next_tier), _money(c.amount_to_keep_tier),
                        )
                    )  # fmt: skip
    return history, current


def actual_rows(warehouse: Path, program_ids: set[str]) -> tuple[set[tuple], set[tuple]]:
    """The same rows as built by dbt."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        history = {
            tuple(row)
            for row in con.execute(
                f"select {', '.join(HISTORY_COLUMNS)} from main.fct_tier_history"
            ).fetchall()
            if row[0] in program_ids
        }
        current = set()
        for row in con.execute(
            f"select {', '.join(CURRENT_COLUMNS)} from main.dim_customer_tier_current"
        ).fetchall():
            if row[0] not in program_ids:
                continue
            values = list(row)
            for i in (7, 9, 10):
                values[i] = _money(values[i])
            current.add(tuple(values))
    return history, current


@dataclass
class Comparison:
    history_rows: int
    current_rows: int
    only_in_reference: list[tuple]
    only_in_sql: list[tuple]

    @property
    def equal(self) -> bool:
        return not self.only_in_reference and not self.only_in_sql

    def describe(self, limit: int = 15) -> str:
        lines = [
            f"{len(self.only_in_reference)} rows only in the reference, "
            f"{len(self.only_in_sql)} only in SQL "
            f"(of {self.history_rows} history and {self.current_rows} current rows)"
        ]
        members = sorted({row[1][:3] for row in self.only_in_reference + self.only_in_sql})
        for member in members[:limit]:
            lines.append(f"-- {member}")
            for label, rows in (("ref", self.only_in_reference), ("sql", self.only_in_sql)):
                for kind, row in sorted(rows, key=str):
                    if row[:3] == member:
                        lines.append(f"   {label} {kind}: {row[3:]}")
        return "\n".join(lines)


def compare(cases: list[ProgramCase], warehouse: Path) -> Comparison:
    expected_history, expected_current = expected_rows(cases)
    actual_history, actual_current = actual_rows(warehouse, {c.program_id for c in cases})
    return Comparison(
        history_rows=len(expected_history),
        current_rows=len(expected_current),
        only_in_reference=[("history", r) for r in expected_history - actual_history]
        + [("current", r) for r in expected_current - actual_current],
        only_in_sql=[("history", r) for r in actual_history - expected_history]
        + [("current", r) for r in actual_current - expected_current],
    )
