"""The SQL tier engine equals the plain Python reference (tests/reference), row for row.

1. On the project's generated sample data (all three bundled programs, every scenario).
2. Property-based: hypothesis generates programs (every period mode through the mode_*
   scenarios, both refund policies, both milestones, custom scenarios) and members (orders,
   partial refunds, cancellations, points entries, manual assignments, pending and
   unenrolled members), builds them with `vip-tiers run`, and compares.
A rebuild gives the same change_ids.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.engine_check import ProgramCase, compare, reference_inputs_from_warehouse
from tests.helpers.raw_builder import write_raw_dir
from tests.reference import tier_rules as ref

AS_OF = dt.date(2024, 9, 30)
FIRST_DAY = dt.date(2022, 5, 1)
TIMEZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Tokyo"]
LEDGER_EXTRAS = ["signup", "birthday", "review", "referral", "social", "redemption"]


def _run(vip_tiers: Callable[..., Any], raw: Path, programs: Path, warehouse: Path) -> None:
    result = vip_tiers(
        [
            "run",
            "--raw-dir",
            str(raw),
            "--programs-dir",
            str(programs),
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF.isoformat(),
        ],
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def _change_ids(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select change_id, program_id, scenario_id, customer_id, change_date, to_tier_code "
            "from main.fct_tier_changes order by all"
        ).fetchall()


# --------------------------------------------------------------------------------------------
# 1. Generated sample data
# --------------------------------------------------------------------------------------------


def test_sql_equals_reference_on_generated_sample_data(
    vip_tiers: Callable[..., Any], tmp_path: Path, sample_programs_dir: Path
) -> None:
    from orchestration.generate import generate_raw_dir

    raw = tmp_path / "raw"
    generate_raw_dir(raw, sample_programs_dir, members_per_program=120, seed=11, end=AS_OF)
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    _run(vip_tiers, raw, sample_programs_dir, warehouse)

    cases = reference_inputs_from_warehouse(warehouse)
    assert {c.program_id for c in cases} == {"nyc_threads", "london_tea", "sydney_surf"}
    assert all(len(c.scenarios) >= 6 for c in cases), "live + 4 mode_* + custom scenarios"
    comparison = compare(cases, warehouse)
    assert comparison.history_rows > 1000
    assert comparison.equal, comparison.describe()

    first_ids = _change_ids(warehouse)
    _run(vip_tiers, raw, sample_programs_dir, warehouse)  # rebuild the same warehouse
    assert _change_ids(warehouse) == first_ids


# --------------------------------------------------------------------------------------------
# 2. Property-based
# --------------------------------------------------------------------------------------------


def _day(offset_days: int) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=offset_days)


def _instant(day: dt.date, minute: int = 0) -> str:
    # Noon UTC is the same calendar day in every zone used here (UTC-5 .. UTC+11).
    return f"{day.isoformat()}T12:{minute:02d}:00Z"


SPAN = (AS_OF - FIRST_DAY).days


def random_program(rng: random.Random, index: int) -> dict[str, Any]:
    launch = _day(rng.randint(150, 450))
    start = launch - dt.timedelta(days=rng.randint(0, 500))
    back = start - dt.timedelta(days=rng.randint(1, 200)) if rng.random() < 0.5 else None
    steps = sorted(rng.sample(range(1, 31), rng.randint(1, 3)))
    thresholds = [0, *(s * 60 for s in steps)]
    period = rng.choice(["lifetime", "calendar_year", "rolling"])
    program: dict[str, Any] = {
        "program_id": f"prop_{index}",
        "name": f"Property {index}",
        "currency": "USD",
        "timezone": rng.choice(TIMEZONES),
        "start_date": start,
        "launch_date": launch,
        "milestone": rng.choice(["spend", "points"]),
        "period": period,
        "refunds": rng.choice(["reevaluate", "keep"]),
        "tiers": [
            {"code": f"t{rank}", "name": f"Tier {rank}", "threshold": threshold}
            for rank, threshold in enumerate(thresholds)
        ],
        "scenarios": [
            {
                "id": "other_policy",
                "refunds": rng.choice(["reevaluate", "keep"]),
                "thresholds": {f"t{len(thresholds) - 1}": thresholds[-1] + 90},
            }
        ],
    }
    if back is not None:
        program["back_date"] = back
    if period == "rolling":
        program["rolling_window"] = rng.choice(["365_days", "12_months"])
    if program["milestone"] == "points":
        program["qualifying_activities"] = rng.sample(
            ["purchase", "signup", "review", "manual_adjustment"], rng.randint(1, 4)
        )
    return program


def random_member(rng: random.Random, program: dict[str, Any], index: int) -> dict[str, list]:
    pid = program["program_id"]
    cid = f"{pid}_c{index}"
    enrolled = _day(rng.randint(0, SPAN)) if rng.randint(0, 9) else None
    unenrolled = None
    if enrolled is not None and rng.randint(0, 5) == 0:
        unenrolled = enrolled + dt.timedelta(days=rng.randint(0, 500))
    rows: dict[str, list] = {"customers": [], "orders": [], "refunds": [], "points_ledger": []}
    rows["manual_tier_assignments"] = []
    rows["customers"].append(
        {
            "program_id": pid,
            "customer_id": cid,
            "email": f"{cid}@example.test",
            "enrolled_at": _instant(enrolled) if enrolled else None,
            "unenrolled_at": _instant(unenrolled) if unenrolled else None,
        }
    )
    for n in range(rng.randint(0, 7)):
        order_id = f"{cid}_o{n}"
        day = _day(rng.randint(0, SPAN))
        amount = Decimal(rng.randint(1, 900)) + Decimal(rng.randint(0, 99)) / 100
        cancel_day = None
        if rng.randint(0, 7) == 0:
            cancel_day = day + dt.timedelta(days=rng.randint(0, 300))
        rows["orders"].append(
            {
                "program_id": pid,
                "order_id": order_id,
                "customer_id": cid,
                "ordered_at": _instant(day),
                "currency": "USD",
                "total_amount": f"{amount:.2f}",
                "cancelled_at": _instant(cancel_day, 30) if cancel_day else None,
            }
        )
        points = int(amount)
        rows["points_ledger"].append(
            {
                "program_id": pid, "entry_id": f"{order_id}_p", "customer_id": cid,
                "occurred_at": _instant(day), "activity": "purchase", "points": points,
                "order_id": order_id,
            }
        )  # fmt: skip
        left = amount
        for r in range(rng.randint(0, 2) if rng.randint(0, 2) == 0 else 0):
            latest = (cancel_day - day).days if cancel_day else 420
            refund_day = day + dt.timedelta(days=rng.randint(0, latest))
            refund = min(left, Decimal(rng.randint(1, 900)))
            if refund <= 0:
                break
            left -= refund
            refund_id = f"{order_id}_r{r}"
            rows["refunds"].append(
                {
                    "program_id": pid, "refund_id": refund_id, "order_id": order_id,
                    "refunded_at": _instant(refund_day, r + 1), "amount": f"{refund:.2f}",
                }
            )  # fmt: skip
            rows["points_ledger"].append(
                {
                    "program_id": pid, "entry_id": f"{refund_id}_p", "customer_id": cid,
                    "occurred_at": _instant(refund_day, r + 1), "activity": "purchase_reversal",
                    "points": -int(refund), "order_id": order_id,
                }
            )  # fmt: skip
    for n in range(rng.randint(0, 4)):
        activity = rng.choice([*LEDGER_EXTRAS, "manual_adjustment"])
        points = rng.randint(5, 400)
        if activity == "redemption" or (activity == "manual_adjustment" and rng.random() < 0.5):
            points = -points
        rows["points_ledger"].append(
            {
                "program_id": pid, "entry_id": f"{cid}_e{n}", "customer_id": cid,
                "occurred_at": _instant(_day(rng.randint(0, SPAN))),
                "activity": activity, "points": points, "order_id": None,
            }
        )  # fmt: skip
    tier_codes = [t["code"] for t in program["tiers"]] + ["ghost"]
    for n in range(rng.randint(0, 2) if rng.randint(0, 3) == 0 else 0):
        day = _day(rng.randint(0, SPAN))
        for k in range(rng.randint(1, 2)):
            rows["manual_tier_assignments"].append(
                {
                    "program_id": pid, "assignment_id": f"{cid}_m{n}_{k}", "customer_id": cid,
                    "tier_code": rng.choice(tier_codes),
                    "assigned_at": _instant(day, 10 + k), "reason": "service",
                    "assigned_by": "tests",
                }
            )  # fmt: skip
    return rows


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, list]]:
    """Several programs with members. Hypothesis draws the seed; each example is a whole
    dbt build, so one example holds many members rather than one minimal case."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    generated = [random_program(rng, i) for i in range(rng.randint(3, 5))]
    tables: dict[str, list] = {
        "customers": [], "orders": [], "refunds": [], "points_ledger": [],
        "manual_tier_assignments": [],
    }  # fmt: skip
    for program in generated:
        for i in range(rng.randint(6, 14)):
            for table, rows in random_member(rng, program, i).items():
                tables[table].extend(rows)
    return generated, tables


def _reference_cases(generated: list[dict[str, Any]], tables: dict[str, list]) -> list[ProgramCase]:
    """The reference's inputs straight from the generated rows (no SQL involved)."""

    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value[:10]) if value else None

    cases = []
    for program in generated:
        pid = program["program_id"]
        tiers = tuple(ref.Tier(t["code"], Decimal(t["threshold"])) for t in program["tiers"])
        live = ref.Scenario(
            milestone=program["milestone"],
            period=program["period"],
            rolling_window=program.get("rolling_window", "365_days")
            if program["period"] == "rolling"
            else None,
            refunds=program["refunds"],
            tiers=tiers,
            start_date=program["start_date"],
            back_date=program.get("back_date"),
            launch_date=program["launch_date"],
            qualifying_activities=frozenset(
                program.get(
                    "qualifying_activities",
                    ["purchase", "signup", "birthday", "review", "referral", "social"],
                )
            ),
        )
        custom = program["scenarios"][0]
        scenarios = {
            "live": live,
            "mode_lifetime": _with(live, period="lifetime", rolling_window=None),
            "mode_calendar_year": _with(live, period="calendar_year", rolling_window=None),
            "mode_rolling_365_days": _with(live, period="rolling", rolling_window="365_days"),
            "mode_rolling_12_months": _with(live, period="rolling", rolling_window="12_months"),
            "other_policy": _with(
                live,
                refunds=custom["refunds"],
                tiers=tuple(
                    ref.Tier(t.code, Decimal(custom["thresholds"].get(t.code, t.threshold)))
                    for t in tiers
                ),
            ),
        }
        case = ProgramCase(pid, AS_OF, scenarios)
        for customer in (c for c in tables["customers"] if c["program_id"] == pid):
            cid = customer["customer_id"]
            manual = [m for m in tables["manual_tier_assignments"] if m["customer_id"] == cid]
            manual.sort(key=lambda m: (m["assigned_at"], m["assignment_id"]))
            case.members.append(
                ref.Member(
                    customer_id=cid,
                    enrolled_date=day(customer["enrolled_at"]),
                    unenrolled_date=day(customer["unenrolled_at"]),
                    orders=tuple(
                        ref.Order(
                            o["order_id"],
                            day(o["ordered_at"]),
                            Decimal(o["total_amount"]),
                            day(o["cancelled_at"]),
                        )
                        for o in tables["orders"]
                        if o["customer_id"] == cid
                    ),
                    refunds=tuple(
                        ref.Refund(
                            r["refund_id"],
                            r["order_id"],
                            day(r["refunded_at"]),
                            Decimal(r["amount"]),
                        )
                        for r in tables["refunds"]
                        if r["order_id"].startswith(f"{cid}_o")
                    ),
                    ledger=tuple(
                        ref.LedgerEntry(
                            e["entry_id"],
                            day(e["occurred_at"]),
                            e["activity"],
                            e["points"],
                            e["order_id"],
                        )
                        for e in tables["points_ledger"]
                        if e["customer_id"] == cid
                    ),
                    manual=tuple(
                        ref.ManualAssignment(
                            m["assignment_id"], day(m["assigned_at"]), seq, m["tier_code"]
                        )
                        for seq, m in enumerate(manual)
                    ),
                )
            )
        cases.append(case)
    return cases


def _with(scenario: ref.Scenario, **changes: Any) -> ref.Scenario:
    values = {name: getattr(scenario, name) for name in scenario.__dataclass_fields__}
    return ref.Scenario(**{**values, **changes})


def _write_programs(directory: Path, generated: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True)
    for program in generated:
        (directory / f"{program['program_id']}.yaml").write_text(yaml.safe_dump(program))


def _check_dataset(
    vip_tiers: Callable[..., Any],
    workdir: Path,
    dataset: tuple[list[dict[str, Any]], dict[str, list]],
) -> None:
    generated, tables = dataset
    workdir.mkdir(parents=True, exist_ok=True)
    raw, programs_dir = workdir / "raw", workdir / "programs"
    write_raw_dir(raw, tables)
    _write_programs(programs_dir, generated)
    warehouse = workdir / "warehouse.duckdb"
    _run(vip_tiers, raw, programs_dir, warehouse)
    comparison = compare(_reference_cases(generated, tables), warehouse)
    assert comparison.equal, comparison.describe()


PROPERTY_SETTINGS = {
    "deadline": None,
    "phases": [Phase.explicit, Phase.generate],  # each example is a dbt build: no shrinking
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "derandomize": True,
}


@settings(max_examples=3, **PROPERTY_SETTINGS)
@given(dataset=datasets())
def test_sql_equals_reference_on_random_programs_and_members(
    vip_tiers: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory, dataset: Any
) -> None:
    _check_dataset(vip_tiers, tmp_path_factory.mktemp("prop"), dataset)


@pytest.mark.slow
@settings(max_examples=30, **{**PROPERTY_SETTINGS, "derandomize": False})
@given(dataset=datasets())
def test_sql_equals_reference_bigger_sweep(
    vip_tiers: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory, dataset: Any
) -> None:
    _check_dataset(vip_tiers, tmp_path_factory.mktemp("sweep"), dataset)
