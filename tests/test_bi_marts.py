"""The BI marts on a generated warehouse, every program and scenario (docs/bi.md).

Checked in Python, independently of the dbt tests that run in the same build:
- fct_tier_distribution_daily: every tier every day (zeros included), members per tier and
  day equal a count of the history runs covering the day, and the day's total equals the
  members holding a tier (the eligible members);
- fct_tier_movements_monthly: opening + ins - outs = closing on every row; opening and
  closing are the distribution on the day before the month and its last day; the flows
  equal counts of fct_tier_changes and of the unenrolments;
- fct_tier_movements: one row per change of fct_tier_changes (same id, day and tiers) and
  one exit per member whose last history run ends;
- fct_tier_migrations_monthly adds up to the movements' ins and outs;
- fct_scenario_comparison: members per tier equal dim_customer_tier_current; the up / down /
  changed counts equal a member-by-member comparison with live; perk costs follow config.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.settings import SAMPLE_PROGRAMS_DIR
from tests.helpers.dbt_cli import run_dbt

AS_OF = dt.date(2024, 6, 30)
MEMBERS_PER_PROGRAM = 80
SEED = 5
READY = ".bi-ready"


def build_bi_warehouse(base: Path) -> Path:
    """A warehouse built from generated sample data as of AS_OF (once per test session).

    The steps `vip-tiers run` takes, called directly: generate, load, sync the program
    config, `dbt build` (every model and dbt test). dbt writes its artefacts under `base`,
    never into dbt_project/target.
    """
    from orchestration.generate import generate_raw_dir
    from orchestration.loader import load_raw_dir
    from orchestration.programs import sync_program_config

    warehouse = base / "warehouse.duckdb"
    if (base / READY).exists():
        return warehouse
    base.mkdir(parents=True, exist_ok=True)
    raw = base / "raw"
    generate_raw_dir(
        raw, SAMPLE_PROGRAMS_DIR, members_per_program=MEMBERS_PER_PROGRAM, seed=SEED, end=AS_OF
    )
    load_raw_dir(raw, warehouse)
    sync_program_config(warehouse, SAMPLE_PROGRAMS_DIR, AS_OF)
    run_dbt(warehouse, base, ["build"], {"as_of": AS_OF.isoformat()})
    (base / READY).write_text("ok")
    return warehouse


@pytest.fixture(scope="module")
def marts(bi_warehouse: Path) -> dict[str, pd.DataFrame]:
    tables = [
        "fct_tier_distribution_daily",
        "fct_tier_movements_monthly",
        "fct_tier_migrations_monthly",
        "fct_tier_movements",
        "fct_scenario_comparison",
        "fct_tier_history",
        "fct_tier_changes",
        "dim_customer_tier_current",
        "dim_program_tiers",
        "dim_scenarios",
    ]
    with duckdb.connect(str(bi_warehouse), read_only=True) as con:
        frames = {name: con.execute(f"select * from main.{name}").df() for name in tables}
        frames["eligibility"] = con.execute(
            "select program_id, customer_id, eligible_from, eligible_until "
            "from intermediate.int_customers__eligibility where is_eligible_member"
        ).df()
    for frame in frames.values():
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = [
                    None if pd.isna(value) else pd.Timestamp(value).date()
                    for value in frame[column]
                ]
    return frames


SCENARIO_KEY = ["program_id", "scenario_id"]


def test_every_scenario_is_in_every_bi_mart(marts: dict[str, pd.DataFrame]) -> None:
    scenarios = set(marts["dim_scenarios"][SCENARIO_KEY].itertuples(index=False, name=None))
    assert len(scenarios) >= 18, "3 programs x (live + 4 mode_* + custom)"
    for name in (
        "fct_tier_distribution_daily",
        "fct_tier_movements_monthly",
        "fct_tier_migrations_monthly",
        "fct_scenario_comparison",
    ):
        found = set(marts[name][SCENARIO_KEY].itertuples(index=False, name=None))
        assert found == scenarios, name


def _expected_distribution(marts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Members per program, scenario, tier and day, by expanding every history run to days."""
    history = marts["fct_tier_history"]
    dist = marts["fct_tier_distribution_daily"]
    last = dist.groupby("program_id")["calendar_date"].max()
    rows = []
    for run in history.itertuples(index=False):
        end = run.valid_to - dt.timedelta(days=1) if run.valid_to else last[run.program_id]
        days = pd.date_range(run.valid_from, end, freq="D")
        rows.append(
            pd.DataFrame(
                {
                    "program_id": run.program_id,
                    "scenario_id": run.scenario_id,
                    "tier_code": run.tier_code,
                    "calendar_date": days.date,
                }
            )
        )
    expanded = pd.concat(rows, ignore_index=True)
    return (
        expanded.groupby(["program_id", "scenario_id", "tier_code", "calendar_date"])
        .size()
        .rename("expected")
        .reset_index()
    )


def test_distribution_counts_equal_the_history_runs_covering_each_day(
    marts: dict[str, pd.DataFrame],
) -> None:
    dist = marts["fct_tier_distribution_daily"]
    history = marts["fct_tier_history"]
    # the grid: every tier of the scenario every day from the program's first tier day
    first = history.groupby("program_id")["valid_from"].min()
    assert (dist.groupby("program_id")["calendar_date"].min() == first).all()
    assert (dist.groupby("program_id")["calendar_date"].max() == AS_OF).all()
    tiers = marts["dim_program_tiers"].groupby(SCENARIO_KEY).size().rename("tiers")
    days = dist.groupby("program_id")["calendar_date"].nunique().rename("days")
    per_scenario = dist.groupby(SCENARIO_KEY).size().rename("rows").reset_index()
    per_scenario = per_scenario.join(tiers, on=SCENARIO_KEY).join(days, on="program_id")
    assert (per_scenario["rows"] == per_scenario["tiers"] * per_scenario["days"]).all()
    assert not dist.duplicated(["program_id", "scenario_id", "calendar_date", "tier_code"]).any()
    assert (dist["members"] >= 0).all()

    expected = _expected_distribution(marts)
    merged = dist.merge(
        expected, on=["program_id", "scenario_id", "tier_code", "calendar_date"], how="outer"
    )
    assert merged["members"].notna().all(), "a history run falls outside the distribution grid"
    merged["expected"] = merged["expected"].fillna(0)
    wrong = merged[merged["members"] != merged["expected"]]
    assert wrong.empty, wrong.head(20).to_string()


def test_distribution_totals_equal_members_with_a_tier(marts: dict[str, pd.DataFrame]) -> None:
    dist = marts["fct_tier_distribution_daily"]
    totals = dist.groupby(["program_id", "scenario_id", "calendar_date"])["members"].sum()
    eligibility = marts["eligibility"]
    checked = 0
    for (program_id, scenario_id, day), total in totals.items():
        members = eligibility[eligibility["program_id"] == program_id]
        eligible = int(
            ((members["eligible_from"] <= day) & (members["eligible_until"] >= day)).sum()
        )
        assert total == eligible, (program_id, scenario_id, day, total, eligible)
        checked += 1
    assert checked > 1000
    # on as_of the members with a tier are the current members of every scenario
    current = marts["dim_customer_tier_current"].groupby(SCENARIO_KEY).size()
    on_as_of = totals.xs(AS_OF, level="calendar_date")
    assert on_as_of.to_dict() == current.to_dict()


MOVEMENT_COLUMNS = [
    "opening_members",
    "new_members",
    "upgrades_in",
    "downgrades_in",
    "upgrades_out",
    "downgrades_out",
    "exits",
    "closing_members",
]


def test_movement_identity_holds_on_every_row(marts: dict[str, pd.DataFrame]) -> None:
    movements = marts["fct_tier_movements_monthly"]
    assert len(movements) > 500
    assert (movements[MOVEMENT_COLUMNS] >= 0).all().all()
    balance = (
        movements["opening_members"]
        + movements["new_members"]
        + movements["upgrades_in"]
        + movements["downgrades_in"]
        - movements["upgrades_out"]
        - movements["downgrades_out"]
        - movements["exits"]
    )
    wrong = movements[balance != movements["closing_members"]]
    assert wrong.empty, wrong.head(20).to_string()
    assert (movements["churned_members"] == movements["downgrades_out"] + movements["exits"]).all()
    # the data exercises every flow
    assert (movements[MOVEMENT_COLUMNS].sum() > 0).all(), movements[MOVEMENT_COLUMNS].sum()


def test_movement_stocks_are_the_distribution_at_the_month_edges(
    marts: dict[str, pd.DataFrame],
) -> None:
    movements = marts["fct_tier_movements_monthly"]
    dist = marts["fct_tier_distribution_daily"].set_index(
        ["program_id", "scenario_id", "tier_code", "calendar_date"]
    )["members"]
    for row in movements.itertuples(index=False):
        key = (row.program_id, row.scenario_id, row.tier_code)
        before = row.month_start_date - dt.timedelta(days=1)
        assert row.opening_members == dist.get((*key, before), 0), row
        assert row.closing_members == dist[(*key, row.month_end_date)], row
        month_end = (pd.Timestamp(row.month_start_date) + pd.offsets.MonthEnd(0)).date()
        assert row.month_end_date == min(month_end, AS_OF)
        assert row.is_complete_month == (month_end <= AS_OF)


def _ended_last_runs(marts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each member's last history run, where it ends: the exits (unenrolments)."""
    history = marts["fct_tier_history"].sort_values([*SCENARIO_KEY, "customer_id", "valid_from"])
    last_runs = history.groupby([*SCENARIO_KEY, "customer_id"]).tail(1)
    return last_runs[last_runs["valid_to"].notna()]


def test_movement_flows_count_every_change_and_exit(marts: dict[str, pd.DataFrame]) -> None:
    changes = marts["fct_tier_changes"].copy()
    changes["month_start_date"] = changes["change_date"].map(lambda d: d.replace(day=1))
    exits = _ended_last_runs(marts).copy()
    exits["month_start_date"] = exits["valid_to"].map(lambda d: d.replace(day=1))

    keys = [*SCENARIO_KEY, "month_start_date", "tier_code"]
    expected = {
        "new_members": changes[changes["direction"] == "initial"].rename(
            columns={"to_tier_code": "tier_code"}
        ),
        "upgrades_in": changes[changes["direction"] == "upgrade"].rename(
            columns={"to_tier_code": "tier_code"}
        ),
        "downgrades_in": changes[changes["direction"] == "downgrade"].rename(
            columns={"to_tier_code": "tier_code"}
        ),
        "upgrades_out": changes[changes["direction"] == "upgrade"].rename(
            columns={"from_tier_code": "tier_code"}
        ),
        "downgrades_out": changes[changes["direction"] == "downgrade"].rename(
            columns={"from_tier_code": "tier_code"}
        ),
        "exits": exits,
    }
    movements = marts["fct_tier_movements_monthly"].set_index(keys)
    for column, rows in expected.items():
        counts = rows.groupby(keys).size()
        actual = movements[column]
        assert actual.sum() == len(rows), column
        assert (actual.reindex(counts.index) == counts).all(), column

    # several changes of one member in one month all count
    per_member_month = changes[changes["direction"] != "initial"].groupby(
        [*SCENARIO_KEY, "customer_id", "month_start_date"]
    )
    assert (per_member_month.size() > 1).any(), "the sample should have intra-month repeats"


def test_member_movements_are_the_changes_and_the_exits(
    marts: dict[str, pd.DataFrame],
) -> None:
    movements = marts["fct_tier_movements"]
    changes = marts["fct_tier_changes"]
    kinds = {"initial": "new", "upgrade": "upgrade", "downgrade": "downgrade"}
    expected_changes = pd.DataFrame(
        {
            "change_id": changes["change_id"],
            "program_id": changes["program_id"],
            "scenario_id": changes["scenario_id"],
            "customer_id": changes["customer_id"],
            "movement_date": changes["change_date"],
            "movement_kind": changes["direction"].map(kinds),
            "from_tier_code": changes["from_tier_code"],
            "to_tier_code": changes["to_tier_code"],
        }
    )
    columns = list(expected_changes.columns)
    got_changes = movements[movements["movement_kind"] != "exit"][columns]

    def rows(frame: pd.DataFrame) -> list[tuple]:
        return sorted(
            tuple(None if pd.isna(v) else v for v in row)
            for row in frame.itertuples(index=False, name=None)
        )

    assert rows(got_changes) == rows(expected_changes)

    ended = _ended_last_runs(marts)
    assert len(ended) > 0, "the sample should have unenrolments"
    expected_exits = pd.DataFrame(
        {
            "program_id": ended["program_id"],
            "scenario_id": ended["scenario_id"],
            "customer_id": ended["customer_id"],
            "movement_date": ended["valid_to"],
            "from_tier_code": ended["tier_code"],
        }
    )
    exits = movements[movements["movement_kind"] == "exit"]
    assert exits["to_tier_code"].isna().all() and exits["change_id"].isna().all()
    assert rows(exits[list(expected_exits.columns)]) == rows(expected_exits)


def test_migrations_add_up_to_the_movements(marts: dict[str, pd.DataFrame]) -> None:
    migrations = marts["fct_tier_migrations_monthly"]
    movements = marts["fct_tier_movements_monthly"]
    keys = [*SCENARIO_KEY, "month_start_date"]
    ins = {"new": "new_members", "upgrade": "upgrades_in", "downgrade": "downgrades_in"}
    outs = {"upgrade": "upgrades_out", "downgrade": "downgrades_out", "exit": "exits"}
    for kind, column in ins.items():
        got = migrations[migrations["movement_kind"] == kind].groupby([*keys, "to_tier_code"])[
            "movements"
        ]
        want = movements.groupby([*keys, "tier_code"])[column].sum()
        want = want[want > 0]
        assert got.sum().rename_axis(want.index.names).sort_index().equals(want.sort_index()), kind
    for kind, column in outs.items():
        got = migrations[migrations["movement_kind"] == kind].groupby([*keys, "from_tier_code"])[
            "movements"
        ]
        want = movements.groupby([*keys, "tier_code"])[column].sum()
        want = want[want > 0]
        assert got.sum().rename_axis(want.index.names).sort_index().equals(want.sort_index()), kind
    new = migrations[migrations["movement_kind"] == "new"]
    exits = migrations[migrations["movement_kind"] == "exit"]
    assert new["from_tier_code"].isna().all() and exits["to_tier_code"].isna().all()
    moves = migrations[migrations["movement_kind"].isin(["upgrade", "downgrade"])]
    assert (moves["from_tier_code"] != moves["to_tier_code"]).all()
    ups = moves["movement_kind"] == "upgrade"
    assert (moves.loc[ups, "to_tier_rank"] > moves.loc[ups, "from_tier_rank"]).all()
    assert (moves.loc[~ups, "to_tier_rank"] < moves.loc[~ups, "from_tier_rank"]).all()
    assert (migrations["members"] <= migrations["movements"]).all()


def test_scenario_comparison_against_member_by_member_counts(
    marts: dict[str, pd.DataFrame],
) -> None:
    comparison = marts["fct_scenario_comparison"].set_index([*SCENARIO_KEY, "tier_code"])
    current = marts["dim_customer_tier_current"]
    live = current[current["scenario_id"] == "live"][["program_id", "customer_id", "tier_code"]]
    live = live.rename(columns={"tier_code": "live_tier_code"})
    tiers = marts["dim_program_tiers"]
    live_ranks = tiers[tiers["scenario_id"] == "live"][["program_id", "tier_code", "tier_rank"]]
    live = live.merge(
        live_ranks.rename(columns={"tier_code": "live_tier_code", "tier_rank": "live_rank"}),
        on=["program_id", "live_tier_code"],
    )
    joined = current.merge(live, on=["program_id", "customer_id"], how="left")
    joined["up"] = joined["tier_rank"] > joined["live_rank"]
    joined["down"] = joined["tier_rank"] < joined["live_rank"]
    joined["changed"] = joined["tier_code"] != joined["live_tier_code"]
    grouped = joined.groupby([*SCENARIO_KEY, "tier_code"])
    members = grouped.size()
    assert (comparison.loc[members.index, "members"] == members).all()
    # tiers nobody holds are there with 0
    assert comparison["members"].sum() == len(current)
    up, down, changed = grouped["up"].sum(), grouped["down"].sum(), grouped["changed"].sum()
    assert (comparison.loc[up.index, "members_up_vs_live"] == up).all()
    assert (comparison.loc[down.index, "members_down_vs_live"] == down).all()
    assert (comparison.loc[changed.index, "members_changed_vs_live"] == changed).all()
    is_live = comparison.index.get_level_values("scenario_id") == "live"
    live_rows = comparison[is_live]
    assert (live_rows[["members_changed_vs_live", "members_up_vs_live"]] == 0).all().all()
    assert (live_rows["members_vs_live"] == 0).all() and live_rows["is_live"].all()
    # some what-if moves members in this data
    assert comparison.loc[~is_live, "members_changed_vs_live"].sum() > 0
    assert (comparison["as_of_date"] == AS_OF).all()

    # perk cost follows the config of the tier
    above = comparison["tier_rank"] > 0
    assert (
        comparison["entry_bonus_points_held"]
        == (comparison["members"] * comparison["entry_bonus_points"]).where(above, 0)
    ).all()
    assert (
        comparison["birthday_points_per_year"]
        == comparison["members"] * comparison["birthday_points"]
    ).all()
    exposure = comparison["members"] * (comparison["points_multiplier"].astype(float) - 1)
    assert (comparison["multiplier_exposure"].astype(float) - exposure).abs().max() < 1e-6
    changes = marts["fct_tier_changes"].merge(
        tiers.rename(columns={"tier_code": "to_tier_code"})[
            [*SCENARIO_KEY, "to_tier_code", "tier_rank"]
        ],
        on=[*SCENARIO_KEY, "to_tier_code"],
    )
    entries = changes[
        (changes["direction"] == "upgrade")
        | ((changes["direction"] == "initial") & (changes["tier_rank"] > 0))
    ]
    entry_counts = entries.groupby([*SCENARIO_KEY, "to_tier_code"]).size()
    assert comparison["tier_entries_to_date"].sum() == len(entries)
    assert (
        comparison.loc[entry_counts.index, "tier_entries_to_date"].to_numpy()
        == entry_counts.to_numpy()
    ).all()


def test_the_build_summary_counts_every_member_of_a_first_build(bi_warehouse: Path) -> None:
    """A program's first build recomputes all of it: the summary's "members recomputed" of
    "all members" are then equal (both count every accepted customer)."""
    from orchestration.summary import read_recompute

    with duckdb.connect(str(bi_warehouse), read_only=True) as con:
        recompute = read_recompute(con)
        accepted = dict(
            con.execute(
                "select program_id, count(*) from intermediate.int_customers__eligibility "
                "group by all"
            ).fetchall()
        )
    assert {program.program_id for program in recompute} == set(accepted)
    for program in recompute:
        assert program.recomputed == (("program", accepted[program.program_id]),)
        assert program.members == accepted[program.program_id]
